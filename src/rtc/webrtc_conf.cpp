// Directives of the `webrtc { }` block (the UDP media relay).
#include "rtc/webrtc_conf.h"

namespace sp {

namespace {

const Directive kWebrtcDirectives[] = {
    {"webrtc", kCtxMain, 0, 0, kCtxWebrtc, false, nullptr, "webrtc { ... }", "",
     "The WebRTC UDP media listener."},
    {"listen", kCtxWebrtc, 1, 1, 0, true,
     [](Config& c, const ConfDirective& d) { return add_listen(d, false, &c.module<WebrtcConf>().listen); },
     "listen ADDRESS;", "", "UDP address WebRTC clients send media to (standard port 8000)."},
    {"candidate", kCtxWebrtc, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.module<WebrtcConf>().candidate); },
     "candidate ADDRESS;", "",
     "Address put in answers' candidates (public IP or name); default: the address the client signalled to."},
    {"idle_timeout", kCtxWebrtc, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<WebrtcConf>().idle_timeout_ms); },
     "idle_timeout TIME;", "30s", "A media session without packets for this long ends."},
};

}  // namespace

namespace {

Status set_listen_env(Config& c, const std::string& v) {
  auto a = parse_listen_address(v);
  if (!a.ok()) return a.status();
  c.module<WebrtcConf>().listen = {ListenConf{*a, v, false}};
  return Status::Ok();
}

const EnvOverride kWebrtcEnvironment[] = {{"PROXY_WEBRTC_SERVER", set_listen_env, "webrtc { listen }"}};

void webrtc_listens(const Config& c, std::vector<ConfListen>* out) {
  for (const ListenConf& l : c.module<WebrtcConf>().listen) out->push_back(ConfListen{"webrtc", true, false, &l});
}

}  // namespace

extern const ConfModule kWebrtcConfModule = {"webrtc", kWebrtcDirectives, kWebrtcEnvironment, webrtc_listens};

}  // namespace sp
