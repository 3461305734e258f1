// STUN (RFC 5389) as the WebRTC UDP relay needs it: tell STUN from RTP/DTLS
// on the shared port (RFC 7983), parse a message with every bound checked, and
// read the ICE USERNAME "answer-ufrag:offer-ufrag" that names a session. The
// relay only reads STUN; it never answers it (the origin does), so there is
// no encoder here. Parsing allocates nothing: views point into the datagram,
// which must outlive the StunMessage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/result.h"

namespace sp {

constexpr uint32_t kStunMagicCookie = 0x2112A442;
constexpr size_t kStunHeaderBytes = 20;

// Message types (method | class bits) the relay cares about.
constexpr uint16_t kStunBindingRequest = 0x0001;
constexpr uint16_t kStunBindingSuccess = 0x0101;
constexpr uint16_t kStunBindingError = 0x0111;
constexpr uint16_t kStunBindingIndication = 0x0011;

// Attribute types.
constexpr uint16_t kStunAttrUsername = 0x0006;
constexpr uint16_t kStunAttrMessageIntegrity = 0x0008;
constexpr uint16_t kStunAttrFingerprint = 0x8028;

struct StunMessage {
  uint16_t type = 0;
  uint16_t length = 0;  // bytes after the 20-byte header
  std::span<const uint8_t, 12> transaction_id{static_cast<const uint8_t*>(nullptr), 12};
  // USERNAME as sent (first occurrence before MESSAGE-INTEGRITY); empty if absent.
  std::string_view username;
  bool has_username = false;
  bool has_message_integrity = false;
  // Where the MESSAGE-INTEGRITY attribute starts (its type field), when present.
  size_t message_integrity_offset = 0;
  // FINGERPRINT present; parse_stun() has already checked its CRC.
  bool has_fingerprint = false;

  bool is_binding_request() const { return type == kStunBindingRequest; }
};

// RFC 7983 demultiplexing: a first byte in 0..3 is STUN (20..63 DTLS, 128..191
// RTP/RTCP). Cheap enough for every datagram; parse_stun() does the rest.
bool looks_like_stun(std::span<const uint8_t> datagram);

// Parses one datagram as a STUN message. Errors: shorter than a header, top
// two bits set, length not a multiple of 4 or not matching the datagram,
// wrong magic cookie, an attribute (with its padding) running past the end,
// a USERNAME over 513 bytes, or a FINGERPRINT whose CRC does not match.
Result<StunMessage> parse_stun(std::span<const uint8_t> datagram);

// Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 5389 section 15.4) with an ICE
// short-term credential: for a binding request from the client, `password` is
// the answer's a=ice-pwd. `message` must come from parse_stun(datagram). False
// when the message has no MESSAGE-INTEGRITY. Lets the relay refuse a spoofed
// USERNAME (ufrags travel in clear text) before letting a new address take
// over a session.
bool stun_integrity_matches(std::span<const uint8_t> datagram, const StunMessage& message,
                            std::string_view password);

// The two ufrags of an ICE USERNAME. In a binding request from the client,
// USERNAME is "<ufrag of the side receiving>:<ufrag of the sender>", i.e.
// "answer-ufrag:offer-ufrag" for a client that made the offer.
struct StunUsername {
  std::string_view local_ufrag;   // the answer's ufrag (the origin's, via the proxy)
  std::string_view remote_ufrag;  // the offer's ufrag (the client's)
};

// Splits "a:b" at the first ':'. Error when there is no ':' or a side is empty.
Result<StunUsername> split_stun_username(std::string_view username);

}  // namespace sp
