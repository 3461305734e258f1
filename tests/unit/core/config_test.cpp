// Configuration: the syntax (conf_parser), the directive tables and the
// validation. One test per kind of error, checking the message and the line.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/config.h"
#include "registry/registry.h"
#include "api/api_conf.h"
#include "http/http_conf.h"
#include "registry/registry_conf.h"
#include "rtc/webrtc_conf.h"
#include "rtmp/rtmp_conf.h"
#include "srt/srt_conf.h"

namespace sp {
namespace {

LoadOptions opts() {
  LoadOptions o;
  o.prefix = "/tmp";
  o.apply_environment = false;
  return o;
}

Result<Config> load(std::string_view text) { return load_config_text(text, "t.conf", opts()); }

std::string error_of(std::string_view text) {
  auto r = load(text);
  EXPECT_FALSE(r.ok()) << "expected an error for: " << text;
  return r.error();
}

TEST(ConfigParse, EmptyFileGivesDefaults) {
  auto c = load("");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->worker_processes, 1);
  EXPECT_TRUE(c->daemon);
  EXPECT_EQ(c->module<RegistryConf>().origin_ttl_ms, 300000);
  EXPECT_EQ(c->module<RegistryConf>().session_ttl_ms, 120000);
  ASSERT_EQ(c->module<SystemApiConf>().listen.size(), 1u);
  EXPECT_EQ(c->module<SystemApiConf>().listen[0].addr.to_string(), "127.0.0.1:12025");
  EXPECT_TRUE(c->module<RtmpConf>().listen.empty());
}

TEST(ConfigParse, FullFile) {
  auto c = load(R"(
    # comment
    worker_processes 3;
    daemon off;   master_process on;
    pid run/p.pid;
    error_log logs/e.log debug;
    shutdown_timeout 2m;
    worker_connections 100;
    registry { size 1m; origin_ttl 5s; session_ttl 1500ms; }
    system_api { listen 127.0.0.1:12025; listen [::1]:12026; token "s3cr\"et"; allow 127.0.0.0/8; deny all; }
    default_backend { enabled on; ip 10.0.0.1; rtmp 19350; srt udp://0.0.0.0:10081; }
    rtmp { listen 1935; listen [::]:1935; chunk_size 4096; idle_timeout 1h; }
    http_stream { listen 8080; cors off; root 'html dir'; }
    http_api { listen 1985; }
    webrtc { listen 8000; candidate 192.0.2.1; }
    srt { listen 10080; latency 200ms; passphrase 0123456789; pbkeylen 32; }
  )");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->worker_processes, 3);
  EXPECT_FALSE(c->daemon);
  EXPECT_EQ(c->pid_path, "/tmp/run/p.pid");
  EXPECT_EQ(c->error_log, "/tmp/logs/e.log");
  EXPECT_EQ(c->error_log_level, LogLevel::debug);
  EXPECT_EQ(c->shutdown_timeout_ms, 120000);
  EXPECT_EQ(c->module<RegistryConf>().size, 1024u * 1024);
  EXPECT_EQ(c->module<RegistryConf>().session_ttl_ms, 1500);
  ASSERT_EQ(c->module<SystemApiConf>().listen.size(), 2u);
  EXPECT_EQ(c->module<SystemApiConf>().listen[1].addr.to_string(), "[::1]:12026");
  EXPECT_EQ(c->module<SystemApiConf>().token, "s3cr\"et");
  ASSERT_EQ(c->module<SystemApiConf>().access.size(), 2u);
  EXPECT_TRUE(c->module<SystemApiConf>().access[0].allow);
  EXPECT_FALSE(c->module<SystemApiConf>().access[1].allow);
  EXPECT_TRUE(c->module<DefaultBackendConf>().enabled);
  EXPECT_EQ(c->module<DefaultBackendConf>().srt, "udp://0.0.0.0:10081");
  ASSERT_EQ(c->module<RtmpConf>().listen.size(), 2u);
  EXPECT_EQ(c->module<RtmpConf>().listen[0].addr.to_string(), "0.0.0.0:1935");
  EXPECT_EQ(c->module<RtmpConf>().chunk_size, 4096u);
  EXPECT_EQ(c->module<RtmpConf>().idle_timeout_ms, 3600 * 1000);
  EXPECT_FALSE(c->module<HttpStreamConf>().cors);
  EXPECT_EQ(c->module<HttpStreamConf>().root, "/tmp/html dir");
  EXPECT_EQ(c->module<WebrtcConf>().candidate, "192.0.2.1");
  EXPECT_EQ(c->module<SrtConf>().latency_ms, 200);
  EXPECT_EQ(c->module<SrtConf>().pbkeylen, 32);
}

TEST(ConfigParse, RtmpPreconnectBuffers) {
  auto d = load("");
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->module<RtmpConf>().preconnect_buffer, 64u * 1024);
  EXPECT_EQ(d->module<RtmpConf>().preconnect_worker_buffer, 4u * 1024 * 1024);
  auto c = load("rtmp { listen 1935; preconnect_buffer 16k; preconnect_worker_buffer 1m; }");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->module<RtmpConf>().preconnect_buffer, 16u * 1024);
  EXPECT_EQ(c->module<RtmpConf>().preconnect_worker_buffer, 1024u * 1024);
  EXPECT_TRUE(load("rtmp { preconnect_worker_buffer 0; }").ok());
  EXPECT_EQ(error_of("rtmp {\n preconnect_buffer 1k;\n}"),
            "invalid value \"1k\" in \"preconnect_buffer\" directive in t.conf:2: must be between 4k and 8m");
  EXPECT_EQ(error_of("rtmp { preconnect_buffer 9m; }"),
            "invalid value \"9m\" in \"preconnect_buffer\" directive in t.conf:1: must be between 4k and 8m");
}

TEST(ConfigParse, WorkerProcessesAuto) {
  auto c = load("worker_processes auto;");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->worker_processes, int(sysconf(_SC_NPROCESSORS_ONLN)));
}

TEST(ConfigParse, RegistryLiveness) {
  auto d = load("");
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->module<RegistryConf>().heartbeat_misses, 3);
  EXPECT_EQ(d->module<RegistryConf>().max_fails, 1);
  EXPECT_EQ(d->module<RegistryConf>().fail_timeout_ms, 10000);
  auto c = load("registry { heartbeat_misses 5; max_fails 0; fail_timeout 30s; }");
  ASSERT_TRUE(c.ok()) << c.error();
  RegistryTtls t = registry_ttls(c->module<RegistryConf>());
  EXPECT_EQ(t.heartbeat_misses, 5);
  EXPECT_EQ(t.max_fails, 0);
  EXPECT_EQ(t.fail_timeout_ms, 30000);
  EXPECT_EQ(t.origin_ttl_ms, 300000);
  EXPECT_FALSE(load("registry { fail_timeout 500ms; }").ok());
  EXPECT_FALSE(load("registry { max_fails -1; }").ok());
}

TEST(ConfigErrors, UnknownDirectiveNamesFileAndLine) {
  EXPECT_EQ(error_of("daemon off;\n\nlistne 80;\n"), "unknown directive \"listne\" in t.conf:3");
}

TEST(ConfigErrors, DirectiveInWrongBlock) {
  EXPECT_EQ(error_of("rtmp {\n  origin_ttl 5s;\n}\n"), "\"origin_ttl\" directive is not allowed here in t.conf:2");
  EXPECT_EQ(error_of("listen 1935;"), "\"listen\" directive is not allowed here in t.conf:1");
}

TEST(ConfigErrors, WrongArgumentCount) {
  EXPECT_EQ(error_of("daemon;"), "invalid number of arguments in \"daemon\" directive in t.conf:1");
  EXPECT_EQ(error_of("\nworker_processes 1 2;"),
            "invalid number of arguments in \"worker_processes\" directive in t.conf:2");
  EXPECT_EQ(error_of("rtmp on { }"), "invalid number of arguments in \"rtmp\" directive in t.conf:1");
}

TEST(ConfigErrors, Duplicate) {
  EXPECT_EQ(error_of("daemon on;\ndaemon off;"), "\"daemon\" directive is duplicate in t.conf:2");
  EXPECT_EQ(error_of("registry { size 1m; }\nregistry { }"), "\"registry\" directive is duplicate in t.conf:2");
  EXPECT_EQ(error_of("rtmp { listen 1935;\n listen 0.0.0.0:1935; }"),
            "duplicate listen 0.0.0.0:1935 in \"listen\" directive in t.conf:2");
}

TEST(ConfigErrors, InvalidValues) {
  EXPECT_EQ(error_of("worker_processes many;"),
            "invalid value \"many\" in \"worker_processes\" directive in t.conf:1: not a number");
  EXPECT_EQ(error_of("worker_processes 0;"),
            "invalid value \"0\" in \"worker_processes\" directive in t.conf:1: must be between 1 and 1024");
  EXPECT_EQ(error_of("daemon yes;"),
            "invalid value \"yes\" in \"daemon\" directive in t.conf:1: it must be \"on\" or \"off\"");
  EXPECT_EQ(error_of("registry { size 12q; }"),
            "invalid value \"12q\" in \"size\" directive in t.conf:1: unknown size unit \"q\"");
  EXPECT_EQ(error_of("shutdown_timeout 5y;"),
            "invalid value \"5y\" in \"shutdown_timeout\" directive in t.conf:1: unknown time unit \"y\"");
  EXPECT_EQ(error_of("shutdown_timeout s;"),
            "invalid value \"s\" in \"shutdown_timeout\" directive in t.conf:1: not a time");
  EXPECT_EQ(error_of("error_log x.log loud;"),
            "invalid value \"loud\" in \"error_log\" directive in t.conf:1: level must be debug, info, notice, "
            "warn, error or crit");
  EXPECT_EQ(error_of("system_api { allow 10.0.0.0/33; }"),
            "invalid value \"10.0.0.0/33\" in \"allow\" directive in t.conf:1: invalid prefix in \"10.0.0.0/33\"");
}

TEST(ConfigErrors, InvalidAddress) {
  EXPECT_EQ(error_of("rtmp {\nlisten 70000;\n}"),
            "invalid listen address \"70000\": port must be 1-65535 in \"listen\" directive in t.conf:2");
  EXPECT_EQ(error_of("rtmp { listen example.com:1935; }"),
            "invalid listen address \"example.com:1935\": host must be a numeric IPv4 or IPv6 address in "
            "\"listen\" directive in t.conf:1");
  EXPECT_EQ(error_of("rtmp { listen ::1:1935; }"),
            "invalid listen address \"::1:1935\": IPv6 addresses must be written in brackets in \"listen\" "
            "directive in t.conf:1");
  EXPECT_EQ(error_of("rtmp { listen 1935 ssl; }"),
            "invalid value \"ssl\" in \"listen\" directive in t.conf:1: expected \"backlog=NUMBER\", once");
  EXPECT_EQ(error_of("http_stream { listen 1935 tls; }"),
            "invalid value \"tls\" in \"listen\" directive in t.conf:1: expected \"ssl\" or \"backlog=NUMBER\", "
            "once each");
  EXPECT_EQ(error_of("srt { listen 10080 backlog=10; }"), "invalid number of arguments in \"listen\" directive in t.conf:1");
}

// `backlog=NUMBER` on TCP listeners: listen(2)'s backlog, 511 when absent.
TEST(Config, ListenBacklog) {
  auto c = load("rtmp { listen 1935 backlog=4096; listen 1936; }\n"
                "http_stream { listen 8080 backlog=100; }\n"
                "system_api { listen 127.0.0.1:1985 backlog=1; }");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->module<RtmpConf>().listen[0].backlog, 4096);
  EXPECT_EQ(c->module<RtmpConf>().listen[1].backlog, kDefaultListenBacklog);
  EXPECT_EQ(kDefaultListenBacklog, 511);
  EXPECT_EQ(c->module<HttpStreamConf>().listen[0].backlog, 100);
  EXPECT_EQ(c->module<SystemApiConf>().listen[0].backlog, 1);
  for (const char* bad : {"backlog=0", "backlog=65536", "backlog=", "backlog=-1", "backlog=1k", "backlog=12 "}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(error_of(std::string("rtmp { listen 1935 \"") + bad + "\"; }"),
              std::string("invalid value \"") + bad + "\" in \"listen\" directive in t.conf:1: backlog must be 1 to 65535");
  }
  EXPECT_EQ(error_of("http_api { listen 8080 backlog=1 backlog=2; }"),
            "invalid value \"backlog=2\" in \"listen\" directive in t.conf:1: expected \"ssl\" or \"backlog=NUMBER\", "
            "once each");
  EXPECT_EQ(error_of("http_api { listen 8080 ssl ssl; }"),
            "invalid value \"ssl\" in \"listen\" directive in t.conf:1: expected \"ssl\" or \"backlog=NUMBER\", "
            "once each");
}

TEST(ConfigErrors, ListenerConflictsAcrossBlocks) {
  EXPECT_EQ(error_of("rtmp { listen 8080; }\nhttp_stream { listen 8080; }"),
            "listen 0.0.0.0:8080 is used by both \"rtmp\" (t.conf:1) and \"http_stream\" in t.conf:2");
  // TCP and UDP may share a port number.
  EXPECT_TRUE(load("rtmp { listen 8000; }\nwebrtc { listen 8000; }").ok());
}

TEST(ConfigErrors, Syntax) {
  EXPECT_EQ(error_of("daemon off"), "unexpected end of file, expecting \";\" or \"}\" in t.conf:1");
  EXPECT_EQ(error_of("rtmp {\n listen 1935;\n"), "unexpected end of file, expecting \"}\" in t.conf:3");
  EXPECT_EQ(error_of("daemon off;\n}"), "unexpected \"}\" in t.conf:2");
  EXPECT_EQ(error_of("user \"nobody;\n"), "unterminated string starting in t.conf:1");
  EXPECT_EQ(error_of("{ }"), "unexpected \"{\" in t.conf:1");
  EXPECT_EQ(error_of("daemon off { }"), "directive \"daemon\" takes no block in t.conf:1");
  EXPECT_EQ(error_of("rtmp;"), "directive \"rtmp\" has no opening \"{\" in t.conf:1");
  EXPECT_EQ(error_of("user no\"body;"), "unexpected quote in \"no\" in t.conf:1");
}

TEST(ConfigErrors, RegistryBounds) {
  std::string min_k = std::to_string((Registry::minimum_size() + 1023) / 1024) + "k";
  EXPECT_EQ(error_of("registry { size 1k; }"),
            "registry size must be at least " + min_k + " to hold a few origins, streams and sessions");
  // What -t accepts, start-up accepts.
  auto c = load("registry { size " + min_k + "; }");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(Registry::create(c->module<RegistryConf>().size, RegistryTtls{}).ok());
  EXPECT_EQ(error_of("registry { origin_ttl 10ms; }"), "registry origin_ttl must be at least 1s");
}

TEST(ConfigErrors, SslListenNeedsReadableCertificate) {
  EXPECT_EQ(error_of("http_stream { listen 8443 ssl; }"),
            "\"http_stream\" has an ssl listen but no \"ssl_certificate\" and \"ssl_certificate_key\"");
  EXPECT_EQ(error_of("http_api { listen 8443 ssl; ssl_certificate /nonexistent/c.pem; ssl_certificate_key "
                     "/nonexistent/k.pem; }"),
            "cannot read \"/nonexistent/c.pem\" in \"http_api\": No such file or directory");
}

TEST(ConfigErrors, DefaultBackendEndpoints) {
  EXPECT_FALSE(load("default_backend { enabled on; rtmp nonsense; }").ok());
  EXPECT_FALSE(load("default_backend { enabled on; ip not-an-ip; }").ok());
  EXPECT_FALSE(load("default_backend { enabled on; ip 0.0.0.0; }").ok());
  EXPECT_FALSE(load("default_backend { enabled on; ip 255.255.255.255; }").ok());
  EXPECT_FALSE(load("default_backend { enabled on; ip 10.0.0.1; rtmp tcp://224.0.0.1:1935; }").ok());
  EXPECT_TRUE(load("default_backend { enabled on; ip ::1; }").ok());
  // A default backend that is the proxy itself.
  EXPECT_FALSE(load("rtmp { listen 1935; } default_backend { enabled on; ip 127.0.0.1; rtmp 1935; }").ok());
  EXPECT_FALSE(load("http_stream { listen 127.0.0.1:8080; } "
                    "default_backend { enabled on; ip 10.0.0.1; rtmp 1935; http tcp://127.0.0.1:8080; }").ok());
  EXPECT_TRUE(load("rtmp { listen 1935; } default_backend { enabled on; ip 127.0.0.1; rtmp 19350; }").ok());
  EXPECT_TRUE(load("default_backend { enabled off; rtmp nonsense; }").ok());
}

TEST(ConfigValues, SizesAndTimes) {
  EXPECT_EQ(*parse_size("10"), 10u);
  EXPECT_EQ(*parse_size("2k"), 2048u);
  EXPECT_EQ(*parse_size("3M"), 3u * 1024 * 1024);
  EXPECT_EQ(*parse_size("1g"), 1024ull * 1024 * 1024);
  EXPECT_FALSE(parse_size("").ok());
  EXPECT_FALSE(parse_size("-1").ok());
  EXPECT_FALSE(parse_size("99999999999999999999").ok());
  EXPECT_EQ(*parse_time_ms("250ms"), 250);
  EXPECT_EQ(*parse_time_ms("7"), 7000);
  EXPECT_EQ(*parse_time_ms("2h"), 7200000);
  EXPECT_FALSE(parse_time_ms("1.5s").ok());
}

TEST(ConfigParse, QuotedStringsAndEscapes) {
  auto c = load("pid 'a b.pid';\nsystem_api { token \"x\\ty\\\\z\"; }");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->pid_path, "/tmp/a b.pid");
  EXPECT_EQ(c->module<SystemApiConf>().token, "x\ty\\z");
}

TEST(ConfigParse, GlobalDirectivesFromCommandLine) {
  LoadOptions o = opts();
  o.global_directives = "worker_processes 4;";
  auto c = load_config_text("daemon off;", "t.conf", o);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->worker_processes, 4);
  o.global_directives = "daemon on;";
  auto dup = load_config_text("daemon off;", "t.conf", o);
  ASSERT_FALSE(dup.ok());
}

class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sp-conf-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_ / "conf.d");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::filesystem::path dir_;
};

TEST_F(ConfigFiles, IncludeGlobRelativeToIncludingFile) {
  write("main.conf", "daemon off;\ninclude conf.d/*.conf;\nrtmp { include rtmp.inc; }\n");
  write("conf.d/a.conf", "worker_processes 2;\n");
  write("conf.d/b.conf", "registry { origin_ttl 9s; }\n");
  write("rtmp.inc", "listen 11935;\n");
  auto c = load_config((dir_ / "main.conf").string(), opts());
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->worker_processes, 2);
  EXPECT_EQ(c->module<RegistryConf>().origin_ttl_ms, 9000);
  ASSERT_EQ(c->module<RtmpConf>().listen.size(), 1u);
  EXPECT_EQ(c->module<RtmpConf>().listen[0].addr.port(), 11935);
  std::string dump = dump_config(*c);
  EXPECT_NE(dump.find("# configuration file " + (dir_ / "conf.d/b.conf").string()), std::string::npos);
}

TEST_F(ConfigFiles, ErrorInIncludedFileNamesThatFile) {
  write("main.conf", "daemon off;\ninclude bad.conf;\n");
  write("bad.conf", "\n\nbogus 1;\n");
  auto c = load_config((dir_ / "main.conf").string(), opts());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), "unknown directive \"bogus\" in " + (dir_ / "bad.conf").string() + ":3");
}

TEST_F(ConfigFiles, IncludeOfMissingFile) {
  write("main.conf", "daemon off;\ninclude missing.conf;\n");
  auto c = load_config((dir_ / "main.conf").string(), opts());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), "include \"" + (dir_ / "missing.conf").string() + "\" failed: no such file in " +
                           (dir_ / "main.conf").string() + ":2");
  // A glob matching nothing is fine, as in nginx.
  write("main.conf", "daemon off;\ninclude none/*.conf;\n");
  EXPECT_TRUE(load_config((dir_ / "main.conf").string(), opts()).ok());
}

TEST_F(ConfigFiles, IncludeLoopIsStopped) {
  write("main.conf", "include main.conf;\n");
  auto c = load_config((dir_ / "main.conf").string(), opts());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("includes nested too deeply"), std::string::npos) << c.error();
}

TEST_F(ConfigFiles, MissingMainFile) {
  auto c = load_config((dir_ / "nope.conf").string(), opts());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("nope.conf\" failed"), std::string::npos) << c.error();
}

TEST(ConfigEnvironment, OverridesTheFile) {
  setenv("PROXY_RTMP_SERVER", "11935", 1);
  setenv("PROXY_SYSTEM_API", "127.0.0.1:22025", 1);
  setenv("PROXY_DEFAULT_BACKEND_ENABLED", "on", 1);
  setenv("PROXY_DEFAULT_BACKEND_RTMP", "19351", 1);
  setenv("PROXY_FORCE_QUIT_TIMEOUT", "7s", 1);
  LoadOptions o = opts();
  o.apply_environment = true;
  auto c = load_config_text("rtmp { listen 1935; }", "t.conf", o);
  unsetenv("PROXY_RTMP_SERVER");
  unsetenv("PROXY_SYSTEM_API");
  unsetenv("PROXY_DEFAULT_BACKEND_ENABLED");
  unsetenv("PROXY_DEFAULT_BACKEND_RTMP");
  unsetenv("PROXY_FORCE_QUIT_TIMEOUT");
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_EQ(c->module<RtmpConf>().listen.size(), 1u);
  EXPECT_EQ(c->module<RtmpConf>().listen[0].addr.port(), 11935);
  EXPECT_EQ(c->module<SystemApiConf>().listen[0].addr.to_string(), "127.0.0.1:22025");
  EXPECT_TRUE(c->module<DefaultBackendConf>().enabled);
  EXPECT_EQ(c->module<DefaultBackendConf>().rtmp, "19351");
  EXPECT_EQ(c->shutdown_timeout_ms, 7000);
  EXPECT_EQ(c->env_overrides.size(), 5u);
}

TEST(ConfigEnvironment, BadValueIsAnError) {
  setenv("PROXY_HTTP_SERVER", "notaport", 1);
  LoadOptions o = opts();
  o.apply_environment = true;
  auto c = load_config_text("", "t.conf", o);
  unsetenv("PROXY_HTTP_SERVER");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("invalid PROXY_HTTP_SERVER=\"notaport\""), std::string::npos) << c.error();
  setenv("PROXY_LOAD_BALANCER_TYPE", "etcd", 1);
  auto r = load_config_text("", "t.conf", o);
  unsetenv("PROXY_LOAD_BALANCER_TYPE");
  EXPECT_FALSE(r.ok());
}

TEST(ConfigParse, RegistryBackendRedis) {
  auto d = load("");
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->module<RegistryConf>().backend, RegistryBackend::memory);
  EXPECT_EQ(d->module<RegistryConf>().redis, "127.0.0.1:6379");
  EXPECT_EQ(d->module<RegistryConf>().redis_key_prefix, "srs-proxy:");
  EXPECT_EQ(d->module<RegistryConf>().redis_timeout_ms, 2000);
  auto c = load("registry { backend redis; redis [::1]:7000; redis_password 's3cret;x'; redis_db 3; "
                "redis_key_prefix '{cluster}:a.b-c_'; redis_timeout 250ms; }");
  ASSERT_TRUE(c.ok()) << c.error();
  const RegistryConf& r = c->module<RegistryConf>();
  EXPECT_EQ(r.backend, RegistryBackend::redis);
  EXPECT_EQ(r.redis, "[::1]:7000");
  EXPECT_EQ(r.redis_password, "s3cret;x");
  EXPECT_EQ(r.redis_db, 3);
  EXPECT_EQ(r.redis_key_prefix, "{cluster}:a.b-c_");
  EXPECT_EQ(r.redis_timeout_ms, 250);
  EXPECT_TRUE(load("registry { redis unix:/run/redis.sock; }").ok());

  EXPECT_NE(error_of("registry { backend etcd; }").find("it must be \"memory\" or \"redis\""), std::string::npos);
  EXPECT_NE(error_of("registry { redis host:0; }").find("invalid value \"host:0\" in \"redis\" directive"),
            std::string::npos);
  EXPECT_NE(error_of("registry { redis_db 1024; }").find("redis_db"), std::string::npos);
  EXPECT_NE(error_of("registry { redis_db -1; }").find("redis_db"), std::string::npos);
  EXPECT_NE(error_of("registry { redis_key_prefix 'a b'; }").find("only letters, digits"), std::string::npos);
  EXPECT_NE(error_of("registry { redis_key_prefix " + std::string(65, 'a') + "; }").find("longer than 64"),
            std::string::npos);
  EXPECT_NE(error_of("registry { redis_timeout 5ms; }").find("redis_timeout"), std::string::npos);
}

TEST(ConfigDump, PasswordsAreMasked) {
  auto c = load("registry {\n    backend redis;\n    redis_password hunter2;\n}\n# redis_password in a comment\n");
  ASSERT_TRUE(c.ok()) << c.error();
  std::string dump = dump_config(*c);
  EXPECT_EQ(dump.find("hunter2"), std::string::npos) << dump;
  EXPECT_NE(dump.find("redis_password ***;"), std::string::npos) << dump;
  EXPECT_NE(dump.find("# redis_password in a comment"), std::string::npos) << dump;
  EXPECT_EQ(mask_secrets("a { redis_password \"x y\"; } b;"), "a { redis_password ***; } b;");
  EXPECT_EQ(mask_secrets("redis_password 'p;w\\'d'; x;"), "redis_password ***; x;");
}

TEST(ConfigEnvironment, RedisVariables) {
  setenv("PROXY_LOAD_BALANCER_TYPE", "redis", 1);
  setenv("PROXY_REDIS_HOST", "10.1.2.3", 1);
  setenv("PROXY_REDIS_PORT", "6380", 1);
  setenv("PROXY_REDIS_PASSWORD", "topsecret", 1);
  setenv("PROXY_REDIS_DB", "2", 1);
  setenv("PROXY_REDIS_KEY_PREFIX", "edge:", 1);
  LoadOptions o = opts();
  o.apply_environment = true;
  auto c = load_config_text("registry { redis 127.0.0.1:6379; }", "t.conf", o);
  setenv("PROXY_REDIS_DB", "x", 1);
  auto bad = load_config_text("", "t.conf", o);
  for (const char* v : {"PROXY_LOAD_BALANCER_TYPE", "PROXY_REDIS_HOST", "PROXY_REDIS_PORT", "PROXY_REDIS_PASSWORD",
                        "PROXY_REDIS_DB", "PROXY_REDIS_KEY_PREFIX"}) {
    unsetenv(v);
  }
  ASSERT_TRUE(c.ok()) << c.error();
  const RegistryConf& r = c->module<RegistryConf>();
  EXPECT_EQ(r.backend, RegistryBackend::redis);
  EXPECT_EQ(r.redis, "10.1.2.3:6380");
  EXPECT_EQ(r.redis_password, "topsecret");
  EXPECT_EQ(r.redis_db, 2);
  EXPECT_EQ(r.redis_key_prefix, "edge:");
  std::string all;
  for (const std::string& e : c->env_overrides) all += e + "\n";
  EXPECT_EQ(all.find("topsecret"), std::string::npos) << all;
  EXPECT_NE(all.find("PROXY_REDIS_PASSWORD=*** from the environment sets registry { redis_password }"),
            std::string::npos) << all;
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("invalid PROXY_REDIS_DB=\"x\""), std::string::npos) << bad.error();
}

TEST(ConfigTables, EveryDirectiveIsDocumented) {
  for (const ConfModule* m : conf_modules()) {
    for (const Directive& d : m->directives) {
      EXPECT_NE(std::string(d.syntax), "") << d.name;
      EXPECT_NE(std::string(d.help), "") << d.name;
      EXPECT_EQ(std::string(d.syntax).rfind(d.name, 0), 0u) << d.name << " syntax must start with its name";
    }
  }
}

// Contexts are bits the modules pick for themselves; two blocks sharing one
// would accept each other's directives.
TEST(ConfigTables, EveryBlockHasAContextOfItsOwn) {
  std::set<std::string> names;
  uint32_t used = kCtxMain;
  for (const ConfModule* m : conf_modules()) {
    EXPECT_TRUE(names.insert(m->name).second) << "two modules named " << m->name;
    for (const Directive& d : m->directives) {
      if (!d.block) continue;
      EXPECT_EQ(d.block & (d.block - 1), 0u) << d.name << ": a context is one bit";
      EXPECT_EQ(used & d.block, 0u) << d.name << " reuses a context bit";
      used |= d.block;
      EXPECT_EQ(std::string(conf_context_name(d.block)), d.name);
    }
  }
  EXPECT_EQ(std::string(conf_context_name(kCtxMain)), "main");
}

// Config copies its modules' structs (a reload's new Config is independent of
// the running one) and hands out defaults for a block never written.
TEST(ConfigModules, CopiesAreDeepAndDefaultsExist) {
  LoadOptions o;
  o.apply_environment = false;
  auto c = load_config_text("rtmp { listen 127.0.0.1:11935; chunk_size 4096; }", "t.conf", o);
  ASSERT_TRUE(c.ok()) << c.error();
  Config copy = *c;
  copy.module<RtmpConf>().chunk_size = 128;
  EXPECT_EQ(c->module<RtmpConf>().chunk_size, 4096u);
  EXPECT_EQ(copy.module<RtmpConf>().chunk_size, 128u);
  const Config& fresh = Config{};
  EXPECT_EQ(fresh.module<SrtConf>().latency_ms, 120);
  std::vector<ConfListen> listens = conf_listens(*c);
  ASSERT_EQ(listens.size(), 2u);  // the system API's default, then rtmp
  EXPECT_STREQ(listens[0].kind, "system_api");
  EXPECT_STREQ(listens[1].kind, "rtmp");
  EXPECT_FALSE(listens[1].udp);
}

TEST(ConfigFile, RelativePathsResolveAgainstTheFilesDirectory) {
  // The prefix (/tmp here) no longer matters for paths in the file.
  auto dir = std::filesystem::temp_directory_path() / ("sp-conf-dir-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "etc");
  std::ofstream(dir / "etc" / "p.conf") << "pid run/p.pid; error_log logs/e.log;\n"
                                            "http_stream { listen 8080; root html; }\n";
  auto c = load_config((dir / "etc" / "p.conf").string(), opts());
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->pid_path, (dir / "etc" / "run" / "p.pid").string());
  EXPECT_EQ(c->error_log, (dir / "etc" / "logs" / "e.log").string());
  EXPECT_EQ(c->module<HttpStreamConf>().root, (dir / "etc" / "html").string());
  // A certificate that is not there is named by its resolved path.
  std::ofstream(dir / "etc" / "p.conf") << "http_stream { listen 8443 ssl; ssl_certificate c.pem; "
                                            "ssl_certificate_key k.pem; }\n";
  auto bad = load_config((dir / "etc" / "p.conf").string(), opts());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("\"" + (dir / "etc" / "c.pem").string() + "\""), std::string::npos) << bad.error();
  // Without a directive, the compiled-in defaults resolve against the prefix.
  std::ofstream(dir / "etc" / "p.conf") << "\n";
  auto d = load_config((dir / "etc" / "p.conf").string(), opts());
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->pid_path.rfind('/', 0), 0u) << d->pid_path;
  std::filesystem::remove_all(dir);
}

TEST(ConfigErrors, WebrtcCandidateIsAnAddressOrName) {
  EXPECT_TRUE(load("webrtc { candidate 203.0.113.10; }").ok());
  EXPECT_TRUE(load("webrtc { candidate media.example.com; }").ok());
  EXPECT_TRUE(load("webrtc { candidate 2001:db8::1; }").ok());
  for (const char* bad : {"'*'", "'bad host!'", "203.0.113.10:9000", "0.0.0.0", "1.2.3"}) {
    std::string err = error_of(std::string("webrtc { candidate ") + bad + "; }");
    EXPECT_NE(err.find("in \"candidate\" directive in t.conf:1"), std::string::npos) << err;
  }
  unsetenv("SP_TEST_CANDIDATE");
  EXPECT_NE(error_of("webrtc { candidate $SP_TEST_CANDIDATE; }").find("SP_TEST_CANDIDATE is not set"),
            std::string::npos);
  setenv("SP_TEST_CANDIDATE", "192.0.2.7", 1);
  auto c = load("webrtc { candidate $SP_TEST_CANDIDATE; }");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->module<WebrtcConf>().candidate, "192.0.2.7");
  setenv("SP_TEST_CANDIDATE", "*", 1);
  EXPECT_NE(error_of("webrtc { candidate '${SP_TEST_CANDIDATE}'; }").find("wildcard"), std::string::npos);
  unsetenv("SP_TEST_CANDIDATE");
}

TEST(ConfigEnvironment, WebrtcCandidateOverride) {
  LoadOptions o = opts();
  o.apply_environment = true;
  setenv("PROXY_WEBRTC_CANDIDATE", "198.51.100.4", 1);
  auto c = load_config_text("webrtc { candidate 192.0.2.1; }", "t.conf", o);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->module<WebrtcConf>().candidate, "198.51.100.4");
  setenv("PROXY_WEBRTC_CANDIDATE", "*", 1);
  auto bad = load_config_text("", "t.conf", o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("PROXY_WEBRTC_CANDIDATE"), std::string::npos) << bad.error();
  unsetenv("PROXY_WEBRTC_CANDIDATE");
}

TEST(ConfigErrors, UnknownUserNamesTheLine) {
  EXPECT_EQ(error_of("\nuser sp-no-such-user-x;"),
            "invalid value \"sp-no-such-user-x\" in \"user\" directive in t.conf:2: no such user");
  EXPECT_TRUE(load("user root;").ok());
}

TEST(ConfigParse, LogRedact) {
  auto c = load("");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->log_redact.empty());
  c = load("log_redact off;");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(c->log_redact.empty());
  c = load("log_redact Token PSK;");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->log_redact, (std::vector<std::string>{"token", "psk"}));
  EXPECT_FALSE(load("log_redact token off;").ok());
}

TEST(ConfigFile, ShippedDefaultIsValid) {
  LoadOptions o;
  o.prefix = SP_SOURCE_DIR;
  o.apply_environment = false;
  auto c = load_config(std::string(SP_SOURCE_DIR) + "/conf/srs-proxy.conf", o);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_FALSE(c->daemon);
  EXPECT_EQ(c->module<RtmpConf>().listen[0].addr.port(), 1935);
  EXPECT_EQ(c->module<HttpStreamConf>().listen[0].addr.port(), 8080);
  EXPECT_EQ(c->module<HttpApiConf>().listen[0].addr.port(), 1985);
  EXPECT_EQ(c->module<WebrtcConf>().listen[0].addr.port(), 8000);
  EXPECT_EQ(c->module<SrtConf>().listen[0].addr.port(), 10080);
  EXPECT_EQ(c->module<SystemApiConf>().listen[0].addr.to_string(), "127.0.0.1:12025");
}

}  // namespace
}  // namespace sp
