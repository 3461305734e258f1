// The RTMP module's configuration: directives of the `rtmp { }` block, its
// PROXY_RTMP_SERVER override and its listeners.
#include "rtmp/rtmp_conf.h"

#include "core/access_log.h"

namespace sp {

namespace {

const Directive kRtmpDirectives[] = {
    SP_ACCESS_LOG_DIRECTIVE(kCtxRtmp, c.module<RtmpConf>().access_log),
    {"rtmp", kCtxMain, 0, 0, kCtxRtmp, false, nullptr, "rtmp { ... }", "", "The RTMP listener."},
    {"listen", kCtxRtmp, 1, 2, 0, true,
     [](Config& c, const ConfDirective& d) { return add_listen(d, kListenBacklog, &c.module<RtmpConf>().listen); },
     "listen ADDRESS [backlog=NUMBER];", "", "TCP address for RTMP clients (standard port 1935); may be repeated (IPv4 and IPv6)."},
    {"chunk_size", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       int v = 0;
       Status st = set_int(d, 128, 16 * 1024 * 1024 - 1, &v);
       c.module<RtmpConf>().chunk_size = uint32_t(v);
       return st;
     },
     "chunk_size NUMBER;", "4096", "Outgoing chunk size toward clients and origins; bounds what a relaying session holds per chunk stream."},
    {"handshake_timeout", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<RtmpConf>().handshake_timeout_ms); },
     "handshake_timeout TIME;", "10s", "Time allowed for the handshake and the publish/play commands."},
    {"connect_timeout", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<RtmpConf>().connect_timeout_ms); },
     "connect_timeout TIME;", "5s", "Time allowed to connect to the origin and get its answer."},
    {"idle_timeout", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<RtmpConf>().idle_timeout_ms); },
     "idle_timeout TIME;", "30s", "A session with no data either way for this long is closed."},
    {"preconnect_buffer", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       Status st = set_size(d, &c.module<RtmpConf>().preconnect_buffer);
       if (st.ok() && (c.module<RtmpConf>().preconnect_buffer < 4096 || c.module<RtmpConf>().preconnect_buffer > 8 * 1024 * 1024))
         return invalid_value(d, d.args[0], "must be between 4k and 8m");
       return st;
     },
     "preconnect_buffer SIZE;", "64k",
     "Largest message, and most bytes of partial messages and kept commands, a client may make the proxy "
     "hold before its publish/play is accepted."},
    {"preconnect_worker_buffer", kCtxRtmp, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_size(d, &c.module<RtmpConf>().preconnect_worker_buffer); },
     "preconnect_worker_buffer SIZE;", "4m",
     "Most bytes all the clients of one worker not yet accepted may make it hold together (beyond 4 KiB each)."},
};

}  // namespace

namespace {

Status set_listen_env(Config& c, const std::string& v) {
  return set_listen_from_env(&c.module<RtmpConf>().listen, v, "PROXY_RTMP_SERVER");
}

const EnvOverride kRtmpEnvironment[] = {{"PROXY_RTMP_SERVER", set_listen_env, "rtmp { listen }"}};

void rtmp_listens(const Config& c, std::vector<ConfListen>* out) {
  for (const ListenConf& l : c.module<RtmpConf>().listen) out->push_back(ConfListen{"rtmp", false, false, &l});
}

}  // namespace

extern const ConfModule kRtmpConfModule = {"rtmp", kRtmpDirectives, kRtmpEnvironment, rtmp_listens};

}  // namespace sp
