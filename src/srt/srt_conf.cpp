// Directives of the `srt { }` block.
#include "srt/srt_conf.h"

#include "core/access_log.h"

namespace sp {

namespace {

const Directive kSrtDirectives[] = {
    SP_ACCESS_LOG_DIRECTIVE(kCtxSrt, c.module<SrtConf>().access_log),
    {"srt", kCtxMain, 0, 0, kCtxSrt, false, nullptr, "srt { ... }", "", "The SRT listener (libsrt, live mode)."},
    {"listen", kCtxSrt, 1, 1, 0, true,
     [](Config& c, const ConfDirective& d) { return add_listen(d, 0, &c.module<SrtConf>().listen); }, "listen ADDRESS;",
     "", "UDP address for SRT callers (standard port 10080)."},
    {"latency", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<SrtConf>().latency_ms); }, "latency TIME;",
     "120ms", "SRTO_RCVLATENCY of a hop received with TSBPD on (a publisher without m=publish)."},
    {"peer_latency", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<SrtConf>().peer_latency_ms); },
     "peer_latency TIME;", "120ms",
     "SRTO_PEERLATENCY: the latency asked of the end receiver (origin or player)."},
    {"passphrase", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       if (d.args[0].size() < 10 || d.args[0].size() > 79) {
         return invalid_value(d, "...", "passphrase must be 10 to 79 characters");
       }
       return set_string(d, &c.module<SrtConf>().passphrase);
     },
     "passphrase STRING;", "", "Encrypt both hops; callers must use the same passphrase."},
    {"pbkeylen", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       Status st = set_int(d, 0, 32, &c.module<SrtConf>().pbkeylen);
       if (st.ok() && c.module<SrtConf>().pbkeylen != 0 && c.module<SrtConf>().pbkeylen != 16 && c.module<SrtConf>().pbkeylen != 24 &&
           c.module<SrtConf>().pbkeylen != 32) {
         return invalid_value(d, d.args[0], "must be 0, 16, 24 or 32");
       }
       return st;
     },
     "pbkeylen 0|16|24|32;", "16", "Encryption key length in bytes."},
    {"connect_timeout", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<SrtConf>().connect_timeout_ms); },
     "connect_timeout TIME;", "3s", "Time allowed to connect to the origin."},
    {"idle_timeout", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<SrtConf>().idle_timeout_ms); },
     "idle_timeout TIME;", "10s", "A session without data for this long is closed."},
    {"payload_size", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_int(d, 188, 1456, &c.module<SrtConf>().payload_size); },
     "payload_size NUMBER;", "1316", "SRT payload size (SRTO_PAYLOADSIZE)."},
};

}  // namespace

namespace {

Status set_listen_env(Config& c, const std::string& v) {
  return set_listen_from_env(&c.module<SrtConf>().listen, v, "PROXY_SRT_SERVER");
}

const EnvOverride kSrtEnvironment[] = {{"PROXY_SRT_SERVER", set_listen_env, "srt { listen }"}};

// Each generation binds an SRT socket of its own in the address's
// SO_REUSEPORT group, so sessions survive a reload (srt/srt_steering.h).
void srt_listens(const Config& c, std::vector<ConfListen>* out) {
  for (const ListenConf& l : c.module<SrtConf>().listen) out->push_back(ConfListen{"srt", true, true, &l});
}

}  // namespace

extern const ConfModule kSrtConfModule = {"srt", kSrtDirectives, kSrtEnvironment, srt_listens};

}  // namespace sp
