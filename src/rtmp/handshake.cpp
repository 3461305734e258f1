// RTMP handshake packets, simple and complex (see handshake.h for the shape
// of the scheme). The keys below are the public constants every Flash-era
// client and server share; they are part of the protocol, not secrets.
#include "rtmp/handshake.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <string>

namespace sp::rtmp::handshake {
namespace {

// "Genuine Adobe Flash Player 001" followed by 32 fixed bytes.
constexpr std::array<uint8_t, 62> kPlayerKey = {
    'G',  'e',  'n',  'u',  'i',  'n',  'e',  ' ',  'A',  'd',  'o',  'b',  'e',  ' ',  'F',  'l',
    'a',  's',  'h',  ' ',  'P',  'l',  'a',  'y',  'e',  'r',  ' ',  '0',  '0',  '1',  0xf0, 0xee,
    0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec,
    0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae};
// "Genuine Adobe Flash Media Server 001" followed by the same 32 bytes.
constexpr std::array<uint8_t, 68> kServerKey = {
    'G',  'e',  'n',  'u',  'i',  'n',  'e',  ' ',  'A',  'd',  'o',  'b',  'e',  ' ',  'F',
    'l',  'a',  's',  'h',  ' ',  'M',  'e',  'd',  'i',  'a',  ' ',  'S',  'e',  'r',  'v',
    'e',  'r',  ' ',  '0',  '0',  '1',  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e,
    0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab,
    0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae};
// C1/S1 digests are keyed with the text part only; S2/C2 answers with the whole key.
constexpr size_t kPlayerTextKeySize = 30;
constexpr size_t kServerTextKeySize = 36;

// Version fields in C1/S1 bytes 4..7. Non-zero signals "complex" to the peer.
constexpr uint8_t kServerVersion[4] = {0x04, 0x05, 0x00, 0x01};
constexpr uint8_t kClientVersion[4] = {0x09, 0x00, 0x7c, 0x02};

// Each half of C1/S1 after the 8-byte time+version header is a 764-byte
// block; the digest block begins with 4 bytes whose sum picks the digest's
// place among the 728 positions that fit.
constexpr size_t kBlockSize = 764;
constexpr size_t kDigestPositions = 728;

using Digest = std::array<uint8_t, kDigestSize>;

Digest hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), data.data(), data.size(), out.data(), &len);
  return out;
}

// HMAC over the packet with the 32 digest bytes at `offset` left out.
Digest packet_digest(std::span<const uint8_t> packet, size_t offset,
                     std::span<const uint8_t> key) {
  std::vector<uint8_t> joined;
  joined.reserve(packet.size() - kDigestSize);
  joined.insert(joined.end(), packet.begin(), packet.begin() + offset);
  joined.insert(joined.end(), packet.begin() + offset + kDigestSize, packet.end());
  return hmac_sha256(key, joined);
}

// The HMAC an S2/C2 ends with, answering the peer's digest.
Digest answer_digest(std::span<const uint8_t> answer, std::span<const uint8_t> peer_digest,
                     std::span<const uint8_t> full_key) {
  Digest key = hmac_sha256(full_key, peer_digest);
  return hmac_sha256(key, answer.first(kPacketSize - kDigestSize));
}

// Random filler. Handshake randomness protects nothing, so if the RNG fails
// the bytes simply stay as they were; the handshake remains valid.
void fill_random(std::span<uint8_t> out) { RAND_bytes(out.data(), int(out.size())); }

void put_time(std::span<uint8_t> packet) {
  uint32_t t = uint32_t(std::time(nullptr));
  packet[0] = uint8_t(t >> 24);
  packet[1] = uint8_t(t >> 16);
  packet[2] = uint8_t(t >> 8);
  packet[3] = uint8_t(t);
}

std::optional<Schema> find_digest(std::span<const uint8_t> packet,
                                  std::span<const uint8_t> text_key) {
  if (packet.size() != kPacketSize) return std::nullopt;
  // Clients mostly use schema 1 (ffmpeg, Flash); try both, like real servers.
  for (Schema s : {Schema::digest_first, Schema::key_first}) {
    size_t off = digest_offset(packet, s);
    Digest d = packet_digest(packet, off, text_key);
    if (std::memcmp(d.data(), packet.data() + off, kDigestSize) == 0) return s;
  }
  return std::nullopt;
}

// Builds a complex C1/S1: header, random blocks, digest in `schema`'s place.
void sign_packet(std::span<uint8_t> packet, const uint8_t version[4], Schema schema,
                 std::span<const uint8_t> text_key) {
  fill_random(packet);
  put_time(packet);
  std::memcpy(packet.data() + 4, version, 4);
  size_t off = digest_offset(packet, schema);
  Digest d = packet_digest(packet, off, text_key);
  std::memcpy(packet.data() + off, d.data(), kDigestSize);
}

// Builds an S2/C2 answering `peer_digest`: random bytes ending in the HMAC.
void sign_answer(std::span<uint8_t> answer, std::span<const uint8_t> peer_digest,
                 std::span<const uint8_t> full_key) {
  fill_random(answer);
  Digest d = answer_digest(answer, peer_digest, full_key);
  std::memcpy(answer.data() + kPacketSize - kDigestSize, d.data(), kDigestSize);
}

Status check_version(uint8_t v, const char* who) {
  if (v == kVersion) return Status::Ok();
  return Status::Error(ErrorKind::bad_input, std::string("rtmp handshake: ") + who + " version " + std::to_string(v) +
                                                 " is not 3" + (v == 6 ? " (RTMPE is not supported)" : ""));
}

}  // namespace

size_t digest_offset(std::span<const uint8_t> packet, Schema schema) {
  size_t block = schema == Schema::digest_first ? 8 : 8 + kBlockSize;
  size_t sum = size_t(packet[block]) + packet[block + 1] + packet[block + 2] + packet[block + 3];
  return block + 4 + sum % kDigestPositions;
}

std::optional<Schema> find_client_digest(std::span<const uint8_t> c1) {
  return find_digest(c1, std::span(kPlayerKey).first(kPlayerTextKeySize));
}

std::optional<Schema> find_server_digest(std::span<const uint8_t> s1) {
  return find_digest(s1, std::span(kServerKey).first(kServerTextKeySize));
}

bool verify_answer(std::span<const uint8_t> answer, std::span<const uint8_t> peer_digest,
                   bool server_answer) {
  if (answer.size() != kPacketSize || peer_digest.size() != kDigestSize) return false;
  std::span<const uint8_t> key = server_answer ? std::span<const uint8_t>(kServerKey)
                                               : std::span<const uint8_t>(kPlayerKey);
  Digest d = answer_digest(answer, peer_digest, key);
  return std::memcmp(d.data(), answer.data() + kPacketSize - kDigestSize, kDigestSize) == 0;
}

// ---- server side ----------------------------------------------------------

Result<ServerReply> server_reply(std::span<const uint8_t> c0c1) {
  if (c0c1.size() != kC0C1Size) {
    return Result<ServerReply>::Error(
        ErrorKind::bad_input,
        "rtmp handshake: C0C1 must be " + std::to_string(kC0C1Size) + " bytes, got " + std::to_string(c0c1.size()));
  }
  Status v = check_version(c0c1[0], "client");
  if (!v.ok()) return v;

  std::span<const uint8_t> c1 = c0c1.subspan(1);
  ServerReply reply;
  reply.s0s1s2.assign(kS0S1S2Size, 0);
  reply.s0s1s2[0] = kVersion;
  std::span<uint8_t> s1(reply.s0s1s2.data() + 1, kPacketSize);
  std::span<uint8_t> s2(reply.s0s1s2.data() + 1 + kPacketSize, kPacketSize);

  std::optional<Schema> schema = find_client_digest(c1);
  if (!schema) {
    // Simple: S1 is time, zero, random; S2 echoes C1.
    fill_random(s1);
    put_time(s1);
    std::memset(s1.data() + 4, 0, 4);
    std::copy(c1.begin(), c1.end(), s2.begin());
    return reply;
  }
  reply.kind = Kind::complex;
  reply.schema = *schema;
  sign_packet(s1, kServerVersion, *schema, std::span(kServerKey).first(kServerTextKeySize));
  sign_answer(s2, c1.subspan(digest_offset(c1, *schema), kDigestSize), kServerKey);
  return reply;
}

void warm_up() {
  ClientHello hello = client_hello(Kind::complex);
  (void)server_reply(hello.c0c1);
}

Status server_check_c2(std::span<const uint8_t> c2) {
  if (c2.size() != kPacketSize) {
    return Status::Error(ErrorKind::bad_input, "rtmp handshake: C2 must be " + std::to_string(kPacketSize) +
                                                   " bytes, got " + std::to_string(c2.size()));
  }
  return Status::Ok();
}

bool c2_matches(std::span<const uint8_t> c2, const ServerReply& reply) {
  if (c2.size() != kPacketSize || reply.s0s1s2.size() != kS0S1S2Size) return false;
  std::span<const uint8_t> s1(reply.s0s1s2.data() + 1, kPacketSize);
  // Even complex clients may echo S1: ffmpeg does when publishing.
  if (std::equal(c2.begin(), c2.end(), s1.begin())) return true;
  if (reply.kind == Kind::simple) return false;
  return verify_answer(c2, s1.subspan(digest_offset(s1, reply.schema), kDigestSize), false);
}

// ---- client side ----------------------------------------------------------

ClientHello client_hello(Kind kind) {
  ClientHello hello;
  hello.kind = kind;
  hello.c0c1.assign(kC0C1Size, 0);
  hello.c0c1[0] = kVersion;
  std::span<uint8_t> c1(hello.c0c1.data() + 1, kPacketSize);
  if (kind == Kind::complex) {
    sign_packet(c1, kClientVersion, Schema::digest_first,
                std::span(kPlayerKey).first(kPlayerTextKeySize));
  } else {
    fill_random(c1);
    put_time(c1);
    std::memset(c1.data() + 4, 0, 4);
  }
  return hello;
}

Result<std::vector<uint8_t>> client_c2(std::span<const uint8_t> s0s1s2, const ClientHello& hello) {
  if (s0s1s2.size() != kS0S1S2Size) {
    return Result<std::vector<uint8_t>>::Error(ErrorKind::bad_input, "rtmp handshake: S0S1S2 must be " +
                                                                         std::to_string(kS0S1S2Size) + " bytes, got " +
                                                                         std::to_string(s0s1s2.size()));
  }
  Status v = check_version(s0s1s2[0], "server");
  if (!v.ok()) return v;

  std::span<const uint8_t> s1 = s0s1s2.subspan(1, kPacketSize);
  std::vector<uint8_t> c2(kPacketSize);
  std::optional<Schema> schema;
  if (hello.kind == Kind::complex) schema = find_server_digest(s1);
  if (!schema) {
    std::copy(s1.begin(), s1.end(), c2.begin());
    return c2;
  }
  sign_answer(c2, s1.subspan(digest_offset(s1, *schema), kDigestSize), kPlayerKey);
  return c2;
}

}  // namespace sp::rtmp::handshake
