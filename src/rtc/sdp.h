// The few SDP operations WHIP/WHEP proxying needs. The proxy does not model
// SDP: it reads the ICE ufrag of an offer and of an answer (the pair names the
// session the UDP relay later recognises in STUN), and rewrites the origin's
// answer so the client sends its media to the proxy instead of the origin.
// Text in, text out; every other line passes through byte for byte, with the
// input's own line endings (CRLF, or bare LF).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sp {

// The ICE ufrag of an offer or answer: the session-level a=ice-ufrag if any,
// else the first media section's. Error when the text is not SDP (no leading
// "v="), when there is none, or when it is not 4..256 ice-chars (RFC 8839).
// The view points into `sdp`.
Result<std::string_view> sdp_ice_ufrag(std::string_view sdp);

// The ICE password, found the same way (22..256 ice-chars). The relay can use
// the answer's to check MESSAGE-INTEGRITY of the client's binding requests.
Result<std::string_view> sdp_ice_pwd(std::string_view sdp);

struct SdpCandidateRewrite {
  std::string sdp;    // the rewritten answer
  int rewritten = 0;  // host UDP candidates now naming the proxy
  int dropped = 0;    // candidates removed (TCP, srflx/prflx/relay, unparsable, duplicates)
};

// Rewrites an origin's answer for a client that must reach the origin through
// the proxy at address:port (UDP).
//  - Every "a=candidate" for UDP of type host gets `address` and `port`. All
//    of them map to the same proxy socket, so per media section only the first
//    one of each component is kept; the others count as dropped.
//  - TCP candidates and server-reflexive, peer-reflexive and relay candidates
//    are dropped: the proxy relays only UDP to the origin's rtc endpoint.
//  - "c=" lines and "m=" ports are the default candidate (RFC 8839 section
//    5.1). A c= naming the address of a rewritten candidate becomes `address`
//    (IP4/IP6 from the new address), and an m= port equal to a rewritten
//    candidate's port becomes `port`. Placeholders such as "c=IN IP4 0.0.0.0"
//    and port 9 are left alone, as is a=rtcp (RTCP is muxed with RTP).
// Error when the text is not SDP, when address is empty or port is 0, or when
// no candidate remains ("answer has no usable candidate").
Result<SdpCandidateRewrite> rewrite_answer_candidates(std::string_view sdp, std::string_view address,
                                                      uint16_t port);

}  // namespace sp
