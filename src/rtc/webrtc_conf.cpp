// Directives of the `webrtc { }` block (the UDP media relay).
#include <cstdlib>

#include "core/conf_checks.h"
#include "core/config.h"

namespace sp {

namespace {

const Directive kWebrtcDirectives[] = {
    {"webrtc", kCtxMain, 0, 0, kCtxWebrtc, false, nullptr, "webrtc { ... }", "",
     "The WebRTC UDP media listener."},
    {"listen", kCtxWebrtc, 1, 1, 0, true,
     [](Config& c, const ConfDirective& d) { return add_listen(d, false, &c.webrtc.listen); },
     "listen ADDRESS;", "", "UDP address WebRTC clients send media to (standard port 8000)."},
    {"candidate", kCtxWebrtc, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       auto cand = expand_candidate(d.args[0], [](const char* n) { return getenv(n); });
       if (!cand.ok()) return invalid_value(d, d.args[0], cand.error());
       c.webrtc.candidate = *cand;
       return Status::Ok();
     },
     "candidate ADDRESS|$VARIABLE;", "",
     "Address put in answers' candidates (public IP or host name, no port); $NAME takes it from the environment "
     "variable NAME, PROXY_WEBRTC_CANDIDATE overrides it; default: the address the client signalled to."},
    {"idle_timeout", kCtxWebrtc, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.webrtc.idle_timeout_ms); },
     "idle_timeout TIME;", "30s", "A media session without packets for this long ends."},
};

}  // namespace

extern const ConfModule kWebrtcConfModule = {"webrtc", kWebrtcDirectives};

}  // namespace sp
