// Directives of the `rtmp { }` block.
#include "core/config.h"

namespace sp {

namespace {

const Directive kRtmpDirectives[] = {
    {"rtmp", kCtxMain, 0, 0, kCtxRtmp, false, nullptr, "rtmp { ... }", "", "The RTMP listener."},
    {"listen", kCtxRtmp, 1, 1, 0, true,
     [](Config& c, const ConfDirective& d) { return add_listen(d, false, &c.rtmp.listen); },
     "listen ADDRESS;", "", "TCP address for RTMP clients (standard port 1935); may be repeated (IPv4 and IPv6)."},
    {"chunk_size", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       int v = 0;
       Status st = set_int(d, 128, 16 * 1024 * 1024 - 1, &v);
       c.rtmp.chunk_size = uint32_t(v);
       return st;
     },
     "chunk_size NUMBER;", "60000", "Outgoing chunk size toward clients and origins."},
    {"handshake_timeout", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.rtmp.handshake_timeout_ms); },
     "handshake_timeout TIME;", "10s", "Time allowed for the handshake and the publish/play commands."},
    {"connect_timeout", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.rtmp.connect_timeout_ms); },
     "connect_timeout TIME;", "5s", "Time allowed to connect to the origin and get its answer."},
    {"idle_timeout", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.rtmp.idle_timeout_ms); },
     "idle_timeout TIME;", "30s", "A session with no data either way for this long is closed."},
    {"preconnect_buffer", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       Status st = set_size(d, &c.rtmp.preconnect_buffer);
       if (st.ok() && (c.rtmp.preconnect_buffer < 4096 || c.rtmp.preconnect_buffer > 8 * 1024 * 1024))
         return invalid_value(d, d.args[0], "must be between 4k and 8m");
       return st;
     },
     "preconnect_buffer SIZE;", "64k",
     "Largest message, and most bytes of partial messages and kept commands, a client may make the proxy "
     "hold before its publish/play is accepted."},
    {"preconnect_worker_buffer", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_size(d, &c.rtmp.preconnect_worker_buffer); },
     "preconnect_worker_buffer SIZE;", "4m",
     "Most bytes all the clients of one worker not yet accepted may make it hold together (beyond 4 KiB each)."},
};

}  // namespace

extern const ConfModule kRtmpConfModule = {"rtmp", kRtmpDirectives};

}  // namespace sp
