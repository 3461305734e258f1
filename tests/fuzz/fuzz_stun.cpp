// Fuzz target: STUN datagrams on the WebRTC UDP port (anyone can send them):
// the RFC 7983 demultiplexing test, the parser, the ICE USERNAME split and
// the MESSAGE-INTEGRITY check.
#include "fuzz_util.h"
#include "rtc/stun.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> dgram(data, size);
  (void)sp::looks_like_stun(dgram);
  auto msg = sp::parse_stun(dgram);
  if (!msg.ok()) return 0;
  FUZZ_CHECK(size >= 20 && size_t(msg->length) + 20 <= size);
  if (msg->has_username) {
    FUZZ_CHECK(msg->username.data() >= reinterpret_cast<const char*>(data) &&
               msg->username.data() + msg->username.size() <= reinterpret_cast<const char*>(data) + size);
    auto user = sp::split_stun_username(msg->username);
    if (user.ok()) FUZZ_CHECK(!user->local_ufrag.empty() && !user->remote_ufrag.empty());
  }
  bool match = sp::stun_integrity_matches(dgram, msg.value(), "fuzzpasswordfuzzpassword");
  if (!msg->has_message_integrity) FUZZ_CHECK(!match);
  return 0;
}
