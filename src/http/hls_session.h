// HLS session records of the HTTP stream listener, the pure part: where a
// session's requests go (kept as the registry session's data), how a path a
// player asks for maps into the directory the origin redirected the playlist
// to, and the viewer fingerprint that lets a player reloading its first
// playlist URL find the session it already has. The I/O that uses them is
// hls_fetch.cpp (playlists) and stream_relay.cpp (segments).
//
// Session data: "HOST PORT" of the origin's http endpoint, plus
// " CLIENT_PATH ORIGIN_DIR" when the origin redirected the playlist into
// another directory. A player resolves relative URIs against the URL it
// asked for (CLIENT_PATH), so such requests are mapped back into ORIGIN_DIR
// before going to the origin. Fields are separated by one space and hold no
// space, so every record hls_session_data() prints parses back to itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sp {

struct HlsSessionRoute {
  std::string host;
  uint16_t port = 0;
  std::string client_path, origin_dir;  // both empty: no mapping
  bool operator==(const HlsSessionRoute&) const = default;
};

// The directory part of a path (query dropped), with its trailing '/':
// "/a/b.m3u8?x" -> "/a/", "b" -> "".
std::string url_dir_of(std::string_view path);

// The route of a session whose playlist the player asked for at
// `client_path` and the origin served from `origin_target` on host:port.
// The mapping is kept only when the playlist was redirected into another
// directory.
HlsSessionRoute make_hls_session_route(std::string host, uint16_t port, std::string_view client_path,
                                       std::string_view origin_target, bool redirected);

std::string hls_session_data(const HlsSessionRoute& r);

// Error for anything hls_session_data() would not print: not 2 or 4
// space-separated fields, an empty host, a port that is not 1-65535 in plain
// decimal digits, a client path or origin directory not starting with '/'.
Result<HlsSessionRoute> parse_hls_session_data(std::string_view data);

// The origin path for a path (no query) a session's client asked for: the
// playlist itself as asked (the origin redirects it again), anything under
// the client's directory moved into the origin's directory, the rest as is.
std::string map_hls_session_path(const HlsSessionRoute& r, const std::string& path);

// A viewer's fingerprint: the first 16 bytes, in hex, of
// HMAC-SHA256(secret, peer_ip "\n" user_agent "\n" stream_key).
std::string hls_client_fingerprint(std::string_view secret, std::string_view peer_ip, std::string_view user_agent,
                                   std::string_view stream_key);

// Lower-case hex of bytes.
std::string hex_string(const unsigned char* bytes, size_t n);

}  // namespace sp
