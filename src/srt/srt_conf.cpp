// Directives of the `srt { }` block.
#include "core/config.h"

namespace sp {

namespace {

const Directive kSrtDirectives[] = {
    {"srt", kCtxMain, 0, 0, kCtxSrt, false, nullptr, "srt { ... }", "", "The SRT listener (libsrt, live mode)."},
    {"listen", kCtxSrt, 1, 1, 0, true,
     [](Config& c, const ConfDirective& d) { return add_listen(d, false, &c.srt.listen); }, "listen ADDRESS;",
     "", "UDP address for SRT callers (standard port 10080)."},
    {"latency", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.srt.latency_ms); }, "latency TIME;",
     "120ms", "SRTO_RCVLATENCY of a hop received with TSBPD on (a publisher without m=publish)."},
    {"peer_latency", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.srt.peer_latency_ms); },
     "peer_latency TIME;", "120ms",
     "SRTO_PEERLATENCY: the latency asked of the end receiver (origin or player)."},
    {"passphrase", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       if (d.args[0].size() < 10 || d.args[0].size() > 79) {
         return invalid_value(d, "...", "passphrase must be 10 to 79 characters");
       }
       return set_string(d, &c.srt.passphrase);
     },
     "passphrase STRING;", "", "Encrypt both hops; callers must use the same passphrase."},
    {"pbkeylen", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       Status st = set_int(d, 0, 32, &c.srt.pbkeylen);
       if (st.ok() && c.srt.pbkeylen != 0 && c.srt.pbkeylen != 16 && c.srt.pbkeylen != 24 &&
           c.srt.pbkeylen != 32) {
         return invalid_value(d, d.args[0], "must be 0, 16, 24 or 32");
       }
       return st;
     },
     "pbkeylen 0|16|24|32;", "16", "Encryption key length in bytes."},
    {"connect_timeout", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.srt.connect_timeout_ms); },
     "connect_timeout TIME;", "3s", "Time allowed to connect to the origin."},
    {"idle_timeout", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.srt.idle_timeout_ms); },
     "idle_timeout TIME;", "10s", "A session without data for this long is closed."},
    {"payload_size", kCtxSrt, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_int(d, 188, 1456, &c.srt.payload_size); },
     "payload_size NUMBER;", "1316", "SRT payload size (SRTO_PAYLOADSIZE)."},
};

}  // namespace

extern const ConfModule kSrtConfModule = {"srt", kSrtDirectives};

}  // namespace sp
