// The RTMP handshake: C0/C1/C2 from the client, S0/S1/S2 from the server.
// Pure byte transforms; the session reads the fixed-size packets off the
// socket and hands them here.
//
// Two flavours exist in the wild:
//  - simple: C1/S1 are time + zero + random bytes, C2/S2 echo the peer's packet;
//  - complex (Flash Player 9+, ffmpeg, librtmp with SWF verification): C1/S1
//    carry an HMAC-SHA256 digest at a position derived from the packet itself
//    ("schema 0": key block first, digest block second; "schema 1": the other
//    way round), keyed with the public Flash Player / Flash Media Server keys;
//    S2/C2 end with an HMAC keyed by a hash of the peer's C1/S1 digest.
// A server must answer complex with complex (ffmpeg refuses a reply that
// fails its digest checks) and simple with simple.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/result.h"

namespace sp::rtmp::handshake {

inline constexpr uint8_t kVersion = 3;           // C0/S0: plain RTMP
inline constexpr size_t kPacketSize = 1536;      // C1, C2, S1, S2
inline constexpr size_t kC0C1Size = 1 + kPacketSize;
inline constexpr size_t kS0S1S2Size = 1 + 2 * kPacketSize;
inline constexpr size_t kDigestSize = 32;

enum class Kind { simple, complex };
// Where the digest block sits inside a 1536-byte C1/S1.
enum class Schema { key_first = 0, digest_first = 1 };

// ---- server side (a client connects to the proxy) ------------------------

struct ServerReply {
  Kind kind = Kind::simple;
  Schema schema = Schema::key_first;  // meaningful when kind == complex
  std::vector<uint8_t> s0s1s2;        // kS0S1S2Size bytes to send
};

// Given exactly C0+C1, builds S0+S1+S2. Complex when C1 carries a valid
// Flash Player digest in either schema, simple echo otherwise. A C0 other
// than 3 (e.g. 6 = RTMPE, or an HTTP request) is an error.
Result<ServerReply> server_reply(std::span<const uint8_t> c0c1);

// Checks the client's C2 the way real servers do: loosely. Only its length is
// required; Flash-era clients send all sorts of C2 contents and servers accept
// them. Use c2_matches() for a diagnostic of whether it is a proper answer.
Status server_check_c2(std::span<const uint8_t> c2);
// True when C2 echoes our S1 or (complex) carries the digest our S1 asked for.
bool c2_matches(std::span<const uint8_t> c2, const ServerReply& reply);

// Runs the handshake's crypto once (a complex C1 signed and checked: HMAC-SHA256
// and random bytes). OpenSSL builds its algorithm tables lazily, on first use,
// and its code pages are mapped in on first touch; a worker calls this when it
// starts, so the first client does not pay for either and the memory a worker
// holds for its sessions does not include a one-time 3 MB step at the first
// one (bench/rtmp_fanout prints it).
void warm_up();

// ---- client side (the proxy connects to an origin) -----------------------

struct ClientHello {
  Kind kind = Kind::simple;
  std::vector<uint8_t> c0c1;  // kC0C1Size bytes to send
};

ClientHello client_hello(Kind kind = Kind::simple);

// Given exactly S0+S1+S2, builds C2. Errors on a bad S0 version. When we sent
// a complex C1 and the server's S1 carries a valid digest, C2 is the digest
// answer; otherwise C2 echoes S1 (what simple servers expect).
Result<std::vector<uint8_t>> client_c2(std::span<const uint8_t> s0s1s2, const ClientHello& hello);

// ---- the digest scheme, exposed for tests and diagnostics ----------------

// Byte offset of the 32-byte digest inside a 1536-byte C1/S1 for `schema`.
size_t digest_offset(std::span<const uint8_t> packet, Schema schema);
// The schema under which a C1 (client key) or S1 (server key) digest
// verifies, if any.
std::optional<Schema> find_client_digest(std::span<const uint8_t> c1);
std::optional<Schema> find_server_digest(std::span<const uint8_t> s1);
// Whether the last 32 bytes of `answer` (an S2 or C2) are the HMAC its peer
// owes for `peer_digest` (the digest found in the C1 or S1 being answered).
// `server_answer` is true for S2 (FMS key), false for C2 (FP key).
bool verify_answer(std::span<const uint8_t> answer, std::span<const uint8_t> peer_digest,
                   bool server_answer);

}  // namespace sp::rtmp::handshake
