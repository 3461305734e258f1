// The registry module: directives of the `registry { }` block, the original
// proxy's PROXY_LOAD_BALANCER_TYPE / PROXY_REDIS_* overrides, their checks,
// and -t's probe of the Redis server (one PING with a short timeout).
#include "registry/registry_conf.h"

#include <hiredis/hiredis.h>

#include <chrono>

#include "core/env_file.h"
#include "registry/redis_client.h"

namespace sp {

namespace {

constexpr int kRedisDbMax = 1023;
constexpr size_t kKeyPrefixMax = 64;

Status check_key_prefix(std::string_view p) {
  if (p.empty()) return Status::Error(ErrorKind::bad_input, "must not be empty");
  if (p.size() > kKeyPrefixMax) return Status::Error(ErrorKind::bad_input, "longer than 64 characters");
  for (char ch : p) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              std::string_view("_-.:{}").find(ch) != std::string_view::npos;
    if (!ok) return Status::Error(ErrorKind::bad_input, "only letters, digits and _ - . : { } are allowed");
  }
  return Status::Ok();
}

Result<RegistryBackend> parse_backend(std::string_view v) {
  if (v == "memory") return RegistryBackend::memory;
  if (v == "redis") return RegistryBackend::redis;
  return Result<RegistryBackend>::Error(ErrorKind::bad_input, "it must be \"memory\" or \"redis\"");
}

Status set_backend(Config& c, const ConfDirective& d) {
  auto b = parse_backend(d.args[0]);
  if (!b.ok()) return invalid_value(d, d.args[0], b.error());
  c.module<RegistryConf>().backend = *b;
  return Status::Ok();
}

Status set_redis_address(Config& c, const ConfDirective& d) {
  auto a = parse_redis_address(d.args[0]);
  if (!a.ok()) return invalid_value(d, d.args[0], a.error());
  c.module<RegistryConf>().redis = d.args[0];
  return Status::Ok();
}

Status set_key_prefix(Config& c, const ConfDirective& d) {
  if (Status st = check_key_prefix(d.args[0]); !st.ok()) return invalid_value(d, d.args[0], st.message());
  c.module<RegistryConf>().redis_key_prefix = d.args[0];
  return Status::Ok();
}

const Directive kRegistryDirectives[] = {
    {"registry", kCtxMain, 0, 0, kCtxRegistry, false, nullptr, "registry { ... }", "",
     "The shared-memory origin registry."},
    {"size", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_size(d, &c.module<RegistryConf>().size); }, "size SIZE;", "16m",
     "Bytes of shared memory for origins, stream pins and sessions; fixed until restart."},
    {"origin_ttl", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<RegistryConf>().origin_ttl_ms); },
     "origin_ttl TIME;", "300s", "An origin is alive while its last heartbeat is younger than this."},
    {"session_ttl", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<RegistryConf>().session_ttl_ms); },
     "session_ttl TIME;", "120s", "HLS and WebRTC sessions expire after this much inactivity."},
    {"heartbeat_misses", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_int(d, 0, 1000, &c.module<RegistryConf>().heartbeat_misses); },
     "heartbeat_misses N;", "3",
     "An origin is dead after N of its heartbeat intervals (learned from its heartbeats) without one, never later "
     "than origin_ttl; 0 = origin_ttl only."},
    {"max_fails", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_int(d, 0, 1000, &c.module<RegistryConf>().max_fails); }, "max_fails N;",
     "1",
     "N failed connects or handshakes to an origin within fail_timeout mark it down for fail_timeout (no new "
     "streams, idle streams move); 0 = never."},
    {"fail_timeout", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<RegistryConf>().fail_timeout_ms); },
     "fail_timeout TIME;", "10s", "The window in which max_fails failures count, and how long an origin stays down."},
    {"origin_remove_time", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<RegistryConf>().origin_remove_ms); },
     "origin_remove_time TIME;", "10m",
     "After DELETE /api/v1/origins/SERVER, heartbeats with the removed origin's service id are refused this long; a "
     "new service id registers at once."},
    {"origin_cpu_limit", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_int(d, 0, 100000, &c.module<RegistryConf>().cpu_limit); },
     "origin_cpu_limit PERCENT;", "90",
     "An origin whose heartbeat summaries report more CPU percent than this is overloaded (no new streams) until it "
     "reports 10 points below; 0 = off."},
    {"pick_bytes_per_client", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       uint64_t v = 0;
       if (Status st = set_size(d, &v); !st.ok()) return st;
       if (v > (uint64_t(1) << 40)) return Status::Error(ErrorKind::bad_input, "at most 1t");
       c.module<RegistryConf>().bytes_per_client = int64_t(v);
       return Status::Ok();
     },
     "pick_bytes_per_client SIZE;", "125000",
     "Bytes per second of the proxy's measured traffic with an origin that weigh as one client in the pick load "
     "(load = sum of max(1, clients) + bytes/s / this); 0 = bytes not counted."},
    {"backend", kCtxRegistry, 1, 1, 0, false, set_backend, "backend memory|redis;", "memory",
     "memory: this host's shared memory is the whole registry; redis: several proxies share one registry in Redis "
     "(the shared memory is each proxy's local cache)."},
    {"redis", kCtxRegistry, 1, 1, 0, false, set_redis_address, "redis HOST:PORT|unix:PATH;", "127.0.0.1:6379",
     "Where Redis listens (backend redis); a host alone means port 6379."},
    {"redis_password", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.module<RegistryConf>().redis_password); },
     "redis_password PASSWORD;", "", "Sent with AUTH on every connection; never printed (-T shows ***).", true},
    {"redis_db", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_int(d, 0, kRedisDbMax, &c.module<RegistryConf>().redis_db); },
     "redis_db N;", "0", "The Redis database SELECTed (0 to 1023; the server's databases setting is the real bound)."},
    {"redis_key_prefix", kCtxRegistry, 1, 1, 0, false, set_key_prefix, "redis_key_prefix PREFIX;", "srs-proxy:",
     "Prefix of every Redis key: proxies with the same prefix share one registry (letters, digits and _ - . : { } "
     "only, at most 64)."},
    {"redis_timeout", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<RegistryConf>().redis_timeout_ms); },
     "redis_timeout TIME;", "2s",
     "How long a registry look-up waits for Redis before failing (clients get \"service unavailable\"), and the "
     "connect timeout."},
};

}  // namespace

RegistryTtls registry_ttls(const RegistryConf& c) {
  return RegistryTtls{c.origin_ttl_ms,   c.session_ttl_ms,   c.heartbeat_misses, c.max_fails,
                      c.fail_timeout_ms, c.origin_remove_ms, c.cpu_limit,      c.bytes_per_client};
}

namespace {

Status set_backend_env(Config& c, const std::string& v) {
  auto b = parse_backend(v);
  if (!b.ok()) return b.status();
  c.module<RegistryConf>().backend = *b;
  return Status::Ok();
}

// PROXY_REDIS_HOST and PROXY_REDIS_PORT each replace their half of `redis`.
Status set_redis_host_port(Config& c, const std::string& host, const std::string& port) {
  RegistryConf& r = c.module<RegistryConf>();
  auto cur = parse_redis_address(r.redis);
  std::string h = cur.ok() && cur->unix_path.empty() ? cur->host : "127.0.0.1";
  uint16_t p = cur.ok() && cur->unix_path.empty() ? cur->port : 6379;
  if (!host.empty()) h = host;
  std::string text = (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + (port.empty() ? std::to_string(p) : port);
  auto a = parse_redis_address(text);
  if (!a.ok()) return a.status();
  r.redis = text;
  return Status::Ok();
}

Status set_redis_host_env(Config& c, const std::string& v) {
  if (v.empty()) return Status::Error("must not be empty");
  if (v.find_first_of("/ []") != std::string::npos) return Status::Error("must be a host name or an IP address");
  return set_redis_host_port(c, v, "");
}

Status set_redis_port_env(Config& c, const std::string& v) {
  auto p = parse_int(v, 1, 65535);
  if (!p.ok()) return p.status();
  return set_redis_host_port(c, "", v);
}

Status set_redis_password_env(Config& c, const std::string& v) {
  c.module<RegistryConf>().redis_password = v;
  return Status::Ok();
}

Status set_redis_db_env(Config& c, const std::string& v) {
  auto n = parse_int(v, 0, kRedisDbMax);
  if (!n.ok()) return n.status();
  c.module<RegistryConf>().redis_db = int(*n);
  return Status::Ok();
}

Status set_key_prefix_env(Config& c, const std::string& v) {
  if (Status st = check_key_prefix(v); !st.ok()) return st;
  c.module<RegistryConf>().redis_key_prefix = v;
  return Status::Ok();
}

// A Go duration as upstream reads it (300s, 1m30s, 1.5h), or bare seconds.
Status set_origin_ttl_env(Config& c, const std::string& v) {
  auto ns = parse_go_duration_ns(v);
  if (!ns.ok()) return ns.status();
  if (*ns <= 0) return Status::Error("must be positive");
  c.module<RegistryConf>().origin_ttl_ms = *ns / 1000000;
  return Status::Ok();
}

const EnvOverride kRegistryEnvironment[] = {
    {"PROXY_LOAD_BALANCER_TYPE", set_backend_env, "registry { backend }"},
    {"PROXY_REDIS_HOST", set_redis_host_env, "registry { redis } (host)"},
    {"PROXY_REDIS_PORT", set_redis_port_env, "registry { redis } (port)"},
    {"PROXY_REDIS_PASSWORD", set_redis_password_env, "registry { redis_password }", true},
    {"PROXY_REDIS_DB", set_redis_db_env, "registry { redis_db }"},
    {"PROXY_REDIS_KEY_PREFIX", set_key_prefix_env, "registry { redis_key_prefix }"},
    {"PROXY_ORIGIN_SERVER_TTL", set_origin_ttl_env, "registry { origin_ttl }"},
};

Status validate_registry(Config& conf) {
  const RegistryConf& c = conf.module<RegistryConf>();
  if (c.size < Registry::minimum_size()) {
    return Status::Error("registry size must be at least " + std::to_string((Registry::minimum_size() + 1023) / 1024) +
                         "k to hold a few origins, streams and sessions");
  }
  if (c.size > 4ull * 1024 * 1024 * 1024) return Status::Error("registry size must be at most 4g");
  if (c.origin_ttl_ms < 1000) return Status::Error("registry origin_ttl must be at least 1s");
  if (c.session_ttl_ms < 1000) return Status::Error("registry session_ttl must be at least 1s");
  if (c.fail_timeout_ms < 1000) return Status::Error("registry fail_timeout must be at least 1s");
  if (c.origin_remove_ms < 1000) return Status::Error("registry origin_remove_time must be at least 1s");
  if (c.redis_timeout_ms < 10 || c.redis_timeout_ms > 60 * 1000) {
    return Status::Error("registry redis_timeout must be between 10ms and 60s");
  }
  if (auto a = parse_redis_address(c.redis); !a.ok()) {
    return Status::Error("registry redis \"" + c.redis + "\": " + a.error());
  }
  return Status::Ok();
}

// -t: where the proxy will connect, and whether Redis answers a PING (AUTH
// and SELECT first) within a short timeout. A Redis that does not answer is
// reported, not a test failure: the proxy starts and keeps retrying.
void probe_registry(const Config& conf, std::vector<std::string>* out) {
  const RegistryConf& c = conf.module<RegistryConf>();
  if (c.backend != RegistryBackend::redis) return;
  auto addr = parse_redis_address(c.redis);
  if (!addr.ok()) return;  // validate() refused it already
  std::string where = addr->to_string() + " (db " + std::to_string(c.redis_db) + ", key prefix \"" +
                      c.redis_key_prefix + "\"" + (c.redis_password.empty() ? "" : ", with a password") + ")";
  out->push_back("registry: backend redis: the workers will connect to " + where);
  int64_t timeout_ms = std::min<int64_t>(c.redis_timeout_ms, 1000);
  timeval tv{time_t(timeout_ms / 1000), suseconds_t((timeout_ms % 1000) * 1000)};
  auto start = std::chrono::steady_clock::now();
  redisContext* ctx = addr->unix_path.empty() ? redisConnectWithTimeout(addr->host.c_str(), addr->port, tv)
                                              : redisConnectUnixWithTimeout(addr->unix_path.c_str(), tv);
  std::string error;
  if (!ctx || ctx->err) {
    error = ctx ? ctx->errstr : "out of memory";
  } else {
    redisSetTimeout(ctx, tv);
    auto run = [&](std::vector<std::string> argv) {
      if (!error.empty()) return;
      std::vector<const char*> p;
      std::vector<size_t> l;
      for (const std::string& a : argv) {
        p.push_back(a.data());
        l.push_back(a.size());
      }
      auto* r = static_cast<redisReply*>(redisCommandArgv(ctx, int(argv.size()), p.data(), l.data()));
      if (!r) {
        error = ctx->errstr[0] ? ctx->errstr : "no answer";
      } else {
        if (r->type == REDIS_REPLY_ERROR) error = argv[0] + ": " + std::string(r->str, r->len);
        freeReplyObject(r);
      }
    };
    if (!c.redis_password.empty()) run({"AUTH", c.redis_password});
    if (c.redis_db != 0) run({"SELECT", std::to_string(c.redis_db)});
    run({"PING"});
  }
  if (ctx) redisFree(ctx);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  if (error.empty()) {
    out->push_back("registry: redis " + addr->to_string() + " answered PING in " + std::to_string(ms) + " ms");
  } else {
    out->push_back("registry: warning: redis " + addr->to_string() + " did not answer PING within " +
                   std::to_string(timeout_ms) + " ms: " + error +
                   "; the proxy would start anyway, answer new streams with \"service unavailable\" and keep "
                   "reconnecting");
  }
}

}  // namespace

extern const ConfModule kRegistryConfModule = {
    "registry", kRegistryDirectives, kRegistryEnvironment, nullptr, validate_registry, nullptr, nullptr,
    probe_registry};

}  // namespace sp
