// Directives of the `webrtc { }` block (the UDP media relay).
#include "rtc/webrtc_conf.h"

#include "core/access_log.h"

#include <cstdlib>

#include "core/conf_checks.h"

namespace sp {

namespace {

const Directive kWebrtcDirectives[] = {
    SP_ACCESS_LOG_DIRECTIVE(kCtxWebrtc, c.module<WebrtcConf>().access_log),
    {"webrtc", kCtxMain, 0, 0, kCtxWebrtc, false, nullptr, "webrtc { ... }", "",
     "The WebRTC UDP media listener."},
    {"listen", kCtxWebrtc, 1, 1, 0, true,
     [](Config& c, const ConfDirective& d) { return add_listen(d, 0, &c.module<WebrtcConf>().listen); },
     "listen ADDRESS;", "", "UDP address WebRTC clients send media to (standard port 8000)."},
    {"candidate", kCtxWebrtc, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) {
       auto cand = expand_candidate(d.args[0], [](const char* n) { return getenv(n); });
       if (!cand.ok()) return invalid_value(d, d.args[0], cand.error());
       c.module<WebrtcConf>().candidate = *cand;
       return Status::Ok();
     },
     "candidate ADDRESS|$VARIABLE;", "",
     "Address put in answers' candidates (public IP or host name, no port); $NAME takes it from the environment "
     "variable NAME, PROXY_WEBRTC_CANDIDATE overrides it; default: the address the client signalled to."},
    {"idle_timeout", kCtxWebrtc, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<WebrtcConf>().idle_timeout_ms); },
     "idle_timeout TIME;", "30s", "A media session without packets for this long ends."},
};

}  // namespace

namespace {

Status set_listen_env(Config& c, const std::string& v) {
  return set_listen_from_env(&c.module<WebrtcConf>().listen, v, "PROXY_WEBRTC_SERVER");
}

// The SRS convention: the media address from the environment.
Status set_candidate_env(Config& c, const std::string& v) {
  auto cand = expand_candidate(v, [](const char* n) { return getenv(n); });
  if (!cand.ok()) return cand.status();
  c.module<WebrtcConf>().candidate = *cand;
  return Status::Ok();
}

const EnvOverride kWebrtcEnvironment[] = {
    {"PROXY_WEBRTC_SERVER", set_listen_env, "webrtc { listen }"},
    {"PROXY_WEBRTC_CANDIDATE", set_candidate_env, "webrtc { candidate }"},
};

void webrtc_listens(const Config& c, std::vector<ConfListen>* out) {
  for (const ListenConf& l : c.module<WebrtcConf>().listen) out->push_back(ConfListen{"webrtc", true, false, &l});
}

}  // namespace

extern const ConfModule kWebrtcConfModule = {"webrtc", kWebrtcDirectives, kWebrtcEnvironment, webrtc_listens};

}  // namespace sp
