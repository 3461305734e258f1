// Directives of the `registry { }` and `default_backend { }` blocks.
#include "core/config.h"

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

extern const ConfModule kRegistryConfModule = {"registry", kRegistryDirectives};

}  // namespace sp
