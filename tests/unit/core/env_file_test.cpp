// Tests for src/core/env_file: the `.env` parser (good and malformed lines),
// Go durations, and the env_file directive with PROXY_ORIGIN_SERVER_TTL in
// a whole configuration load (precedence and the where-from report).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/config.h"
#include "core/env_file.h"
#include "registry/registry_conf.h"
#include "rtmp/rtmp_conf.h"

namespace sp {
namespace {

std::vector<EnvFileEntry> parse_ok(std::string_view text) {
  auto r = parse_env_file(text, ".env");
  EXPECT_TRUE(r.ok()) << r.error() << " for: " << text;
  return r.ok() ? *r : std::vector<EnvFileEntry>{};
}

std::string value_of(std::string_view text) {
  auto e = parse_ok(text);
  EXPECT_EQ(e.size(), 1u) << text;
  return e.empty() ? "<none>" : e[0].value;
}

std::string parse_error(std::string_view text) {
  auto r = parse_env_file(text, "/x/.env");
  EXPECT_FALSE(r.ok()) << "expected an error for: " << text;
  return r.error();
}

TEST(EnvFileParse, KeyValueLinesWithNumbers) {
  auto e = parse_ok("# upstream's sample\n\nPROXY_RTMP_SERVER=11935\r\n  PROXY_HTTP_API = 11985  \n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].key, "PROXY_RTMP_SERVER");
  EXPECT_EQ(e[0].value, "11935");
  EXPECT_EQ(e[0].line, 3);
  EXPECT_EQ(e[1].key, "PROXY_HTTP_API");
  EXPECT_EQ(e[1].value, "11985");
  EXPECT_EQ(e[1].line, 4);
}

TEST(EnvFileParse, ExportPrefixQuotesAndComments) {
  EXPECT_EQ(value_of("export PORT=8080"), "8080");
  EXPECT_EQ(value_of("export\tPORT=8080"), "8080");
  EXPECT_EQ(value_of("KEY='hello world'"), "hello world");
  EXPECT_EQ(value_of("RAW='no\\nescaping' # note"), "no\\nescaping");
  EXPECT_EQ(value_of("MSG=\"line1\\nline2\""), "line1\nline2");
  EXPECT_EQ(value_of("Q=\"say \\\"hi\\\" \\\\ \\$HOME \\q\""), "say \"hi\" \\ $HOME \\q");
  EXPECT_EQ(value_of("Q=\"a # not a comment\" # a comment"), "a # not a comment");
  EXPECT_EQ(value_of("KEY=value # this is a comment"), "value");
  EXPECT_EQ(value_of("KEY=a#b"), "a#b");
  EXPECT_EQ(value_of("KEY="), "");
  EXPECT_EQ(value_of("URL=postgres://h:5432/db?opt=val"), "postgres://h:5432/db?opt=val");
  EXPECT_EQ(value_of("exported=1"), "1");  // a key starting with "export"
}

TEST(EnvFileParse, LastLineOfAKeyWins) {
  auto e = parse_ok("A=1\nB=2\nA=3\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[1].key, "A");
  EXPECT_EQ(e[1].value, "3");
  EXPECT_EQ(e[1].line, 3);
}

TEST(EnvFileParse, MalformedLinesNameFileAndLine) {
  EXPECT_EQ(parse_error("A=1\nNOEQUALS\n"), "/x/.env:2: expected KEY=VALUE");
  EXPECT_EQ(parse_error("\n\n=1"), "/x/.env:3: invalid variable name \"\"");
  EXPECT_EQ(parse_error("1KEY=x"), "/x/.env:1: invalid variable name \"1KEY\"");
  EXPECT_EQ(parse_error("MY KEY=x"), "/x/.env:1: invalid variable name \"MY KEY\"");
  EXPECT_EQ(parse_error("K='open"), "/x/.env:1: unterminated single quote in the value of K");
  EXPECT_EQ(parse_error("K=\"open\\\""), "/x/.env:1: unterminated double quote in the value of K");
  EXPECT_EQ(parse_error("K=\"a\" b"), "/x/.env:1: unexpected text after the closing quote in the value of K");
  EXPECT_EQ(parse_error("export"), "/x/.env:1: expected KEY=VALUE");
}

int64_t ns(std::string_view s) {
  auto r = parse_go_duration_ns(s);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? *r : -1;
}

TEST(GoDuration, AcceptsWhatTimeParseDurationAccepts) {
  constexpr int64_t kS = 1000000000;
  EXPECT_EQ(ns("300s"), 300 * kS);
  EXPECT_EQ(ns("1m30s"), 90 * kS);
  EXPECT_EQ(ns("1.5h"), 5400 * kS);
  EXPECT_EQ(ns(".5m"), 30 * kS);
  EXPECT_EQ(ns("1.s"), kS);
  EXPECT_EQ(ns("2h45m"), (2 * 3600 + 45 * 60) * kS);
  EXPECT_EQ(ns("500ms"), kS / 2);
  EXPECT_EQ(ns("1500us"), 1500000);
  EXPECT_EQ(ns("1500\xC2\xB5s"), 1500000);
  EXPECT_EQ(ns("7ns"), 7);
  EXPECT_EQ(ns("0"), 0);
  EXPECT_EQ(ns("-2m"), -120 * kS);
  EXPECT_EQ(ns("+45s"), 45 * kS);
  EXPECT_EQ(ns("2562047h"), 2562047LL * 3600 * kS);
  EXPECT_EQ(ns("300"), 300 * kS);  // bare seconds, as the other PROXY_* times
}

TEST(GoDuration, RefusesWhatItRefuses) {
  // "1.5": a fraction needs a unit (only whole bare seconds are accepted).
  for (const char* bad : {"", "-", "s", "1.5", "5x", "5 s", "1h 2m", "--1s", ".s", "1e3s", "9999999999h",
                          "3000000h", "1h5"}) {
    auto r = parse_go_duration_ns(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().find("duration \"" + std::string(bad) + "\""), std::string::npos) << r.error();
    }
  }
}

// The env_file directive in a whole load: the file's lines apply, the real
// environment wins, and every line says where it came from.
class EnvFileConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sp-env-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    for (const char* v : {"PROXY_RTMP_SERVER", "PROXY_ORIGIN_SERVER_TTL", "PROXY_REDIS_HOST"}) unsetenv(v);
  }
  Result<Config> load_with(const std::string& env_text, const std::string& conf = "") {
    std::ofstream(dir_ / "proxy.env") << env_text;
    LoadOptions o;
    o.prefix = dir_.string();
    o.apply_environment = true;
    return load_config_text("env_file proxy.env;\nrtmp { listen 1935; }\n" + conf, "t.conf", o);
  }
  std::string file() const { return (dir_ / "proxy.env").string(); }
  std::filesystem::path dir_;
};

TEST_F(EnvFileConfig, OriginTtlAndListenFromTheFile) {
  auto c = load_with("# migrated from the Go proxy\nexport PROXY_RTMP_SERVER=11935\nPROXY_ORIGIN_SERVER_TTL=1m30s\n");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->env_file, file());
  EXPECT_EQ(c->module<RtmpConf>().listen[0].addr.port(), 11935);
  EXPECT_EQ(c->module<RegistryConf>().origin_ttl_ms, 90000);
  ASSERT_EQ(c->env_overrides.size(), 2u);
  // In the order of the module list (src/modules.cpp), not of the file.
  EXPECT_EQ(c->env_overrides[0], "PROXY_ORIGIN_SERVER_TTL=1m30s from " + file() + ":3 sets registry { origin_ttl }");
  EXPECT_EQ(c->env_overrides[1], "PROXY_RTMP_SERVER=11935 from " + file() + ":2 sets rtmp { listen }");
  EXPECT_NE(dump_config(*c).find("#   PROXY_ORIGIN_SERVER_TTL=1m30s from " + file() + ":3"), std::string::npos);
}

TEST_F(EnvFileConfig, TheRealEnvironmentWins) {
  setenv("PROXY_ORIGIN_SERVER_TTL", "2s", 1);
  setenv("PROXY_RTMP_SERVER", "", 1);  // set but empty: hides the file's line, keeps the conf
  auto c = load_with("PROXY_RTMP_SERVER=11935\nPROXY_ORIGIN_SERVER_TTL=45s\n");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->module<RegistryConf>().origin_ttl_ms, 2000);
  EXPECT_EQ(c->module<RtmpConf>().listen[0].addr.port(), 1935);
  ASSERT_EQ(c->env_overrides.size(), 1u);
  EXPECT_EQ(c->env_overrides[0], "PROXY_ORIGIN_SERVER_TTL=2s from the environment sets registry { origin_ttl }");
}

TEST_F(EnvFileConfig, BadValuesAndLinesNameTheirOrigin) {
  auto c = load_with("PROXY_ORIGIN_SERVER_TTL=0s\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), "invalid PROXY_ORIGIN_SERVER_TTL=\"0s\" from " + file() + ":1: must be positive");
  c = load_with("PROXY_ORIGIN_SERVER_TTL=-5m\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("must be positive"), std::string::npos) << c.error();
  c = load_with("PROXY_ORIGIN_SERVER_TTL=5 minutes\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("from " + file() + ":1: unknown unit"), std::string::npos) << c.error();
  c = load_with("PROXY_ORIGIN_SERVER_TTL=500ms\n");  // valid duration, below the registry's floor
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("origin_ttl must be at least 1s"), std::string::npos) << c.error();
  c = load_with("OK=1\nthis line is broken\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), "env_file: " + file() + ":2: expected KEY=VALUE");
  std::filesystem::remove(dir_ / "proxy.env");
  LoadOptions o;
  o.prefix = dir_.string();
  auto missing = load_config_text("env_file proxy.env;", "t.conf", o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("env_file: open() \"" + file() + "\" failed"), std::string::npos) << missing.error();
}

TEST_F(EnvFileConfig, NotApplicableAndUnknownVariablesAreReported) {
  setenv("PROXY_REDIS_HOST", "10.0.0.1", 1);
  auto c = load_with("PROXY_LOAD_BALANCER_TYPE=memory\nPROXY_REDIS_DB=0\nGO_PPROF=:6060\nPROXY_RTMP_SERVRE=1\n"
                     "OTHER_TOOL=x\nPROXY_HLS_ALIVE_DURATION=120s\n");
  ASSERT_TRUE(c.ok()) << c.error();
  std::string all;
  for (const std::string& e : c->env_overrides) all += e + "\n";
  EXPECT_NE(all.find("PROXY_LOAD_BALANCER_TYPE=memory from " + file() + ":1 sets"), std::string::npos) << all;
  EXPECT_NE(all.find("PROXY_REDIS_HOST=10.0.0.1 from the environment sets registry { redis } (host)"),
            std::string::npos) << all;
  EXPECT_NE(all.find("PROXY_REDIS_DB=0 from " + file() + ":2 sets registry { redis_db }"), std::string::npos) << all;
  EXPECT_NE(all.find("GO_PPROF from " + file() + ":3 ignored: there is no Go runtime"), std::string::npos) << all;
  EXPECT_NE(all.find("PROXY_RTMP_SERVRE from " + file() + ":4 ignored: srs-proxy reads no such variable"),
            std::string::npos) << all;
  EXPECT_NE(all.find("PROXY_HLS_ALIVE_DURATION from " + file() + ":6 ignored: the released Go proxy does not read it"),
            std::string::npos) << all;
  EXPECT_EQ(all.find("OTHER_TOOL"), std::string::npos) << all;
  EXPECT_EQ(all.find(":6060"), std::string::npos) << "ignored values (passwords) are not echoed: " << all;
}

TEST_F(EnvFileConfig, OffByDefault) {
  // A .env in the working directory (where the Go proxy looks) is not read
  // unless the configuration names it.
  std::ofstream(dir_ / ".env") << "PROXY_RTMP_SERVER=11935\n";
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  LoadOptions o;
  o.prefix = dir_.string();
  auto c = load_config_text("rtmp { listen 1935; }", (dir_ / "t.conf").string(), o);
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->module<RtmpConf>().listen[0].addr.port(), 1935);
  EXPECT_TRUE(c->env_overrides.empty());
}

}  // namespace
}  // namespace sp
