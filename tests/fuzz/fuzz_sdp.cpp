// Fuzz target: SDP offers from WebRTC clients and answers from origins: the
// ICE credentials the relay keys sessions by, and the candidate rewrite that
// points a client at the proxy. The proxy address varies with the input so
// IPv4 and IPv6 rewrites are both exercised.
#include "fuzz_util.h"
#include "rtc/sdp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sdp = sp::fuzz::as_text(data, size);
  auto ufrag = sp::sdp_ice_ufrag(sdp);
  if (ufrag.ok()) FUZZ_CHECK(ufrag->size() >= 4 && ufrag->size() <= 256);
  auto pwd = sp::sdp_ice_pwd(sdp);
  if (pwd.ok()) FUZZ_CHECK(pwd->size() >= 22 && pwd->size() <= 256);

  static constexpr std::string_view kAddresses[] = {"127.0.0.1", "::1", "2001:db8::7"};
  std::string_view address = kAddresses[size % 3];
  uint16_t port = static_cast<uint16_t>(1 + size % 65535);
  auto rw = sp::rewrite_answer_candidates(sdp, address, port);
  if (rw.ok()) {
    FUZZ_CHECK(rw->rewritten > 0);
    // The rewritten answer is what the client parses next: still SDP with
    // the same credentials.
    auto ufrag2 = sp::sdp_ice_ufrag(rw->sdp);
    FUZZ_CHECK(ufrag.ok() == ufrag2.ok());
    if (ufrag.ok()) FUZZ_CHECK(ufrag.value() == ufrag2.value());
  }
  return 0;
}
