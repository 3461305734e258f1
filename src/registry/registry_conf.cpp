// The registry module: directives of the `registry { }` block and their checks.
#include "registry/registry_conf.h"

#include "core/env_file.h"

namespace sp {

namespace {

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

};

}  // namespace

RegistryTtls registry_ttls(const RegistryConf& c) {
  return RegistryTtls{c.origin_ttl_ms, c.session_ttl_ms, c.heartbeat_misses, c.max_fails, c.fail_timeout_ms};
}

namespace {

// The registry is the shared-memory one; Redis is not built in yet.
Status check_load_balancer_type(Config&, const std::string& v) {
  return v == "memory" ? Status::Ok() : Status::Error("only \"memory\" (the shared-memory registry) is supported");
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
    {"PROXY_LOAD_BALANCER_TYPE", check_load_balancer_type, "the registry type"},
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
  return Status::Ok();
}

}  // namespace

extern const ConfModule kRegistryConfModule = {"registry", kRegistryDirectives, kRegistryEnvironment, nullptr,
                                               validate_registry};

}  // namespace sp
