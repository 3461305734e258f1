// Fuzz target: what the WebRTC signalling listener reads from clients and
// origins besides SDP: the request path and query (WHIP/WHEP and SRS's API
// forms), the streamurl of SRS's JSON API, the origin's Location header and
// the media port in its answer, and the session record read back from the
// shared registry. Input lines: "path\nquery\nurl-or-location\nsdp...".
#include "fuzz_util.h"
#include "rtc/sdp.h"
#include "rtc/signaling.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = sp::fuzz::split_lines(sp::fuzz::as_text(data, size), 4);

  auto target = sp::parse_rtc_target(p[0], p[1]);
  if (target.ok()) (void)sp::rtc_action_name(target->action);
  (void)sp::is_rtc_resource_path(p[0]);

  auto url = sp::parse_stream_url(p[2]);
  if (url.ok()) FUZZ_CHECK(!url->stream.empty());

  (void)sp::origin_media_port(p[3], "127.0.0.1", 8000);

  // The session record as rtc_api.cpp builds it from an origin's answer
  // (ice-pwd) and Location header, stored in the registry and read back by
  // any worker: it must fit and decode to what was stored.
  sp::RtcSessionData d;
  d.origin_host = "127.0.0.1";
  d.origin_port = sp::origin_media_port(p[3], d.origin_host, 8000);
  auto pwd = sp::sdp_ice_pwd(p[3]);
  if (pwd.ok()) d.answer_pwd = std::string(pwd.value());
  if (!p[2].empty()) d.origin_resource = sp::origin_resource_path(p[2], p[0]);
  (void)sp::proxy_location(d.origin_resource, "sid1", "http://127.0.0.1:1985");
  std::string enc = sp::encode_rtc_session_data(d, 512);
  FUZZ_CHECK(enc.size() <= 512);
  auto back = sp::decode_rtc_session_data(enc);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->origin_host == d.origin_host && back->origin_port == d.origin_port);
  (void)sp::decode_rtc_session_data(p[3]);
  return 0;
}
