// Proxy loop detection: this proxy's identity and the marker every request it
// sends to an origin carries, so a request that comes back to the proxy that
// sent it (an origin registered in the registry that is in fact this proxy, or
// another srs-proxy whose origin is this one) is refused on arrival instead of
// chaining proxy-to-proxy sessions until every connection slot is taken.
//
// Identity: a random 64-bit id, made when the binary loads, i.e. in the master
// before it forks (as the HLS fingerprint secret is), so every worker, every
// respawned worker and every generation after a reload shares it: the master
// process, which lives across reloads, holds it. It is never 0. Written as 16
// lower-case hex digits; in HTTP as the Via received-by "srs-proxy-<hex>".
//
// Markers (appended by each proxy on the way to the origin, checked on every
// client request; see README.md "Proxy loops"):
//   HTTP (FLV/TS, HLS, WHIP/WHEP)  Via: 1.1 srs-proxy-<hex>   (RFC 9110 7.6.3)
//   RTMP                           connect object property srsProxyVia="<hex>.<hex>"
//   SRT                            streamid key srsproxy=<hex>.<hex>
// The chain form ("<hex>.<hex>...", one id per proxy passed) is the same for
// RTMP and SRT; '.' because ',' separates SRT streamid items.
//
// Everything here but proxy_id() is pure and unit-tested (proxy_loop_test.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sp {

// This proxy instance's id (see above).
uint64_t proxy_id();

// 16 lower-case hex digits.
std::string proxy_id_hex(uint64_t id);

// "srs-proxy-<hex>": the Via received-by pseudonym of proxy `id`.
std::string proxy_via_name(uint64_t id);

// HTTP. True when a Via field value (one line, or several joined by ", ")
// names proxy `id` as a received-by, in any case. Malformed members are
// skipped, never an error: a garbled Via must not stop a stream.
bool via_lists_proxy(std::string_view via, uint64_t id);
// The Via value to send onward: `prior` (the client's Via lines joined by
// ", ", may be empty) with "1.1 srs-proxy-<hex>" appended.
std::string via_append(std::string_view prior, uint64_t id);

// RTMP and SRT. True when a chain ("<hex>.<hex>...") lists `id`; members
// that are not 16 hex digits are skipped.
bool proxy_chain_lists(std::string_view chain, uint64_t id);
// `chain` with `id` appended (`chain` may be empty).
std::string proxy_chain_append(std::string_view chain, uint64_t id);

// Property of the RTMP connect command object and key of the SRT streamid.
inline constexpr std::string_view kRtmpViaProperty = "srsProxyVia";
inline constexpr std::string_view kSrtViaKey = "srsproxy";

}  // namespace sp
