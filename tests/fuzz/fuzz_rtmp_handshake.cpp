// Fuzz target: the RTMP handshake, both directions. The first 1537 bytes are a
// client's C0+C1 (the server side answers it, then checks the next 1536 bytes
// as C2); the first 3073 bytes are also taken as an origin's S0+S1+S2 (the
// client side builds its C2). Short inputs are passed as they are: sizes are
// the session's job, but the functions must refuse wrong ones, not over-read.
#include <algorithm>

#include "fuzz_util.h"
#include "rtmp/handshake.h"

namespace hs = sp::rtmp::handshake;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  auto c0c1 = in.first(std::min(size, hs::kC0C1Size));
  auto reply = hs::server_reply(c0c1);
  if (reply.ok()) {
    FUZZ_CHECK(reply->s0s1s2.size() == hs::kS0S1S2Size);
    auto c2 = in.subspan(c0c1.size(), std::min(size - c0c1.size(), hs::kPacketSize));
    if (hs::server_check_c2(c2).ok()) (void)hs::c2_matches(c2, reply.value());
  }
  if (size > 1) {
    auto c1 = in.subspan(1, std::min(size - 1, hs::kPacketSize));
    if (c1.size() == hs::kPacketSize) {
      (void)hs::find_client_digest(c1);
      (void)hs::find_server_digest(c1);
      FUZZ_CHECK(hs::digest_offset(c1, hs::Schema::key_first) + hs::kDigestSize <= hs::kPacketSize);
      FUZZ_CHECK(hs::digest_offset(c1, hs::Schema::digest_first) + hs::kDigestSize <= hs::kPacketSize);
    }
  }

  auto s0s1s2 = in.first(std::min(size, hs::kS0S1S2Size));
  for (hs::Kind kind : {hs::Kind::simple, hs::Kind::complex}) {
    hs::ClientHello hello = hs::client_hello(kind);
    auto c2 = hs::client_c2(s0s1s2, hello);
    if (c2.ok()) FUZZ_CHECK(c2->size() == hs::kPacketSize);
  }
  return 0;
}
