// STUN parsing for the UDP relay: see stun.h.
#include "rtc/stun.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <memory>

namespace sp {

namespace {

constexpr size_t kStunAttrHeaderBytes = 4;
constexpr size_t kStunMaxUsernameBytes = 513;  // RFC 5389 section 15.3
constexpr uint32_t kFingerprintXor = 0x5354554e;
constexpr size_t kSha1Bytes = 20;
constexpr size_t kHmacBlockBytes = 64;

uint16_t read_u16(std::span<const uint8_t> b, size_t at) { return uint16_t(b[at] << 8 | b[at + 1]); }

uint32_t read_u32(std::span<const uint8_t> b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

// CRC-32 (ISO-HDLC, the one zlib uses), as FINGERPRINT requires.
constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

uint32_t crc32(std::span<const uint8_t> bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : bytes) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

using DigestCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

// SHA-1 over several pieces, without copying them together.
bool sha1(std::initializer_list<std::span<const uint8_t>> pieces, uint8_t out[kSha1Bytes]) {
  DigestCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1) return false;
  for (std::span<const uint8_t> p : pieces) {
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) return false;
  }
  unsigned int n = 0;
  return EVP_DigestFinal_ex(ctx.get(), out, &n) == 1 && n == kSha1Bytes;
}

// HMAC-SHA1 (RFC 2104) of header + body, so the caller can pass a patched
// copy of the 20-byte header and the untouched rest of the datagram.
bool hmac_sha1(std::string_view key, std::span<const uint8_t> header, std::span<const uint8_t> body,
               uint8_t out[kSha1Bytes]) {
  std::array<uint8_t, kHmacBlockBytes> block{};
  std::span<const uint8_t> key_bytes(reinterpret_cast<const uint8_t*>(key.data()), key.size());
  if (key_bytes.size() > kHmacBlockBytes) {
    if (!sha1({key_bytes}, block.data())) return false;
  } else {
    std::copy(key_bytes.begin(), key_bytes.end(), block.begin());
  }
  std::array<uint8_t, kHmacBlockBytes> ipad, opad;
  for (size_t i = 0; i < kHmacBlockBytes; ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  uint8_t inner[kSha1Bytes];
  return sha1({ipad, header, body}, inner) && sha1({opad, std::span<const uint8_t>(inner, kSha1Bytes)}, out);
}

Status check_header(std::span<const uint8_t> d) {
  if (d.size() < kStunHeaderBytes) return Status::Error(ErrorKind::bad_input, "STUN message shorter than its header");
  if (d[0] & 0xC0) return Status::Error(ErrorKind::bad_input, "STUN type has its top two bits set");
  uint16_t length = read_u16(d, 2);
  if (length % 4 != 0) return Status::Error(ErrorKind::bad_input, "STUN length is not a multiple of 4");
  if (read_u32(d, 4) != kStunMagicCookie) return Status::Error(ErrorKind::bad_input, "STUN magic cookie is wrong");
  if (kStunHeaderBytes + length > d.size()) return Status::Error(ErrorKind::bad_input, "STUN message is truncated");
  if (kStunHeaderBytes + length < d.size()) {
    return Status::Error(ErrorKind::bad_input, "STUN length does not match the datagram size");
  }
  return Status::Ok();
}

// FINGERPRINT covers everything before it; it must be the last attribute.
Status check_fingerprint(std::span<const uint8_t> d, size_t attr_at, uint16_t value_len) {
  if (value_len != 4) return Status::Error(ErrorKind::bad_input, "STUN FINGERPRINT has a bad length");
  if (attr_at + kStunAttrHeaderBytes + 4 != d.size()) {
    return Status::Error(ErrorKind::bad_input, "STUN FINGERPRINT is not the last attribute");
  }
  uint32_t want = crc32(d.first(attr_at)) ^ kFingerprintXor;
  if (read_u32(d, attr_at + kStunAttrHeaderBytes) != want) {
    return Status::Error(ErrorKind::bad_input, "STUN FINGERPRINT does not match");
  }
  return Status::Ok();
}

// Records what the relay needs from one attribute. Per RFC 5389 section 15.4,
// attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored, and
// only the first USERNAME counts.
Status take_attribute(std::span<const uint8_t> d, size_t at, uint16_t type, uint16_t len,
                      StunMessage* m) {
  if (type == kStunAttrFingerprint) {
    if (Status s = check_fingerprint(d, at, len); !s.ok()) return s;
    m->has_fingerprint = true;
    return Status::Ok();
  }
  if (m->has_message_integrity) return Status::Ok();
  if (type == kStunAttrMessageIntegrity) {
    if (len != kSha1Bytes) return Status::Error(ErrorKind::bad_input, "STUN MESSAGE-INTEGRITY has a bad length");
    m->has_message_integrity = true;
    m->message_integrity_offset = at;
  } else if (type == kStunAttrUsername && !m->has_username) {
    if (len > kStunMaxUsernameBytes) return Status::Error(ErrorKind::bad_input, "STUN USERNAME is too long");
    m->username = std::string_view(reinterpret_cast<const char*>(d.data() + at + kStunAttrHeaderBytes), len);
    m->has_username = true;
  }
  return Status::Ok();
}

Status walk_attributes(std::span<const uint8_t> d, StunMessage* m) {
  size_t at = kStunHeaderBytes;
  while (at < d.size()) {
    if (d.size() - at < kStunAttrHeaderBytes) {
      return Status::Error(ErrorKind::bad_input, "STUN attribute header is truncated");
    }
    uint16_t type = read_u16(d, at);
    uint16_t len = read_u16(d, at + 2);
    size_t padded = (size_t(len) + 3) & ~size_t(3);
    if (padded > d.size() - at - kStunAttrHeaderBytes) {
      return Status::Error(ErrorKind::bad_input, "STUN attribute runs past the end of the message");
    }
    if (Status s = take_attribute(d, at, type, len, m); !s.ok()) return s;
    at += kStunAttrHeaderBytes + padded;
  }
  return Status::Ok();
}

}  // namespace

bool looks_like_stun(std::span<const uint8_t> datagram) {
  return !datagram.empty() && datagram[0] <= 3;
}

Result<StunMessage> parse_stun(std::span<const uint8_t> datagram) {
  if (Status s = check_header(datagram); !s.ok()) return s;
  StunMessage m;
  m.type = read_u16(datagram, 0);
  m.length = read_u16(datagram, 2);
  m.transaction_id = datagram.subspan<8, 12>();
  if (Status s = walk_attributes(datagram, &m); !s.ok()) return s;
  return m;
}

bool stun_integrity_matches(std::span<const uint8_t> datagram, const StunMessage& message,
                            std::string_view password) {
  size_t at = message.message_integrity_offset;
  if (!message.has_message_integrity || at + kStunAttrHeaderBytes + kSha1Bytes > datagram.size()) {
    return false;
  }
  // The HMAC covers the message up to MESSAGE-INTEGRITY, with the header's
  // length field pretending the message ends right after it.
  std::array<uint8_t, kStunHeaderBytes> header;
  std::copy_n(datagram.begin(), kStunHeaderBytes, header.begin());
  size_t length = at + kStunAttrHeaderBytes + kSha1Bytes - kStunHeaderBytes;
  header[2] = uint8_t(length >> 8);
  header[3] = uint8_t(length);
  uint8_t mac[kSha1Bytes];
  if (!hmac_sha1(password, header, datagram.subspan(kStunHeaderBytes, at - kStunHeaderBytes), mac)) {
    return false;
  }
  return CRYPTO_memcmp(mac, datagram.data() + at + kStunAttrHeaderBytes, kSha1Bytes) == 0;
}

Result<StunUsername> split_stun_username(std::string_view username) {
  size_t colon = username.find(':');
  if (colon == std::string_view::npos) {
    return Result<StunUsername>::Error(ErrorKind::bad_input, "STUN USERNAME has no ':' between the ufrags");
  }
  StunUsername u{username.substr(0, colon), username.substr(colon + 1)};
  if (u.local_ufrag.empty() || u.remote_ufrag.empty()) {
    return Result<StunUsername>::Error(ErrorKind::bad_input, "STUN USERNAME has an empty ufrag");
  }
  return u;
}

}  // namespace sp
