// Directives of the `registry { }` and `default_backend { }` blocks.
#include "core/config.h"
#include "registry/registry.h"

namespace sp {

namespace {

const Directive kRegistryDirectives[] = {
    {"registry", kCtxMain, 0, 0, kCtxRegistry, false, nullptr, "registry { ... }", "",
     "The shared-memory origin registry."},
    {"size", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_size(d, &c.registry.size); }, "size SIZE;", "16m",
     "Bytes of shared memory for origins, stream pins and sessions; fixed until restart."},
    {"origin_ttl", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.registry.origin_ttl_ms); },
     "origin_ttl TIME;", "300s", "An origin is alive while its last heartbeat is younger than this."},
    {"session_ttl", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.registry.session_ttl_ms); },
     "session_ttl TIME;", "120s", "HLS and WebRTC sessions expire after this much inactivity."},
    {"heartbeat_misses", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_int(d, 0, 1000, &c.registry.heartbeat_misses); },
     "heartbeat_misses N;", "3",
     "An origin is dead after N of its heartbeat intervals (learned from its heartbeats) without one, never later "
     "than origin_ttl; 0 = origin_ttl only."},
    {"max_fails", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_int(d, 0, 1000, &c.registry.max_fails); }, "max_fails N;",
     "1",
     "N failed connects or handshakes to an origin within fail_timeout mark it down for fail_timeout (no new "
     "streams, idle streams move); 0 = never."},
    {"fail_timeout", kCtxRegistry, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.registry.fail_timeout_ms); },
     "fail_timeout TIME;", "10s", "The window in which max_fails failures count, and how long an origin stays down."},

    {"default_backend", kCtxMain, 0, 0, kCtxDefaultBackend, false, nullptr, "default_backend { ... }", "",
     "An origin registered by the proxy itself and kept alive (for single-origin setups and debugging)."},
    {"enabled", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_flag(d, &c.default_backend.enabled); },
     "enabled on|off;", "off", "Register the default backend at start and refresh it every 30 seconds."},
    {"ip", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.default_backend.ip); }, "ip ADDRESS;",
     "127.0.0.1", "Address of the default backend."},
    {"rtmp", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.default_backend.rtmp); },
     "rtmp ENDPOINT;", "1935", "Its RTMP endpoint."},
    {"http", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.default_backend.http); },
     "http ENDPOINT;", "", "Its HTTP stream endpoint (HTTP-FLV, HLS)."},
    {"api", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.default_backend.api); },
     "api ENDPOINT;", "", "Its HTTP API endpoint (WHIP/WHEP signalling)."},
    {"rtc", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.default_backend.rtc); },
     "rtc ENDPOINT;", "", "Its WebRTC UDP endpoint."},
    {"srt", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.default_backend.srt); },
     "srt ENDPOINT;", "", "Its SRT UDP endpoint."},
};

}  // namespace

RegistryTtls registry_ttls(const RegistryConf& c) {
  return RegistryTtls{c.origin_ttl_ms, c.session_ttl_ms, c.heartbeat_misses, c.max_fails, c.fail_timeout_ms};
}

extern const ConfModule kRegistryConfModule = {"registry", kRegistryDirectives};

}  // namespace sp
