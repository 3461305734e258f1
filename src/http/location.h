// Redirects the HTTP stream listener follows on the proxy side (an origin's
// 3xx for an HLS playlist), the pure part: a Location header resolved
// against the request it answers into the next origin request. Only
// http:// with a numeric host is followed (origins register numeric
// addresses); anything else is refused and the 3xx goes to the player as is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sp {

// One origin request: where it goes and its origin-form target.
struct OriginTarget {
  std::string host;  // numeric IPv4 or IPv6 (no brackets)
  uint16_t port = 0;
  std::string target;  // "/path?query"
  bool operator==(const OriginTarget&) const = default;
};

// `location` resolved against `current`:
//   http://HOST[:PORT][/path][?query]  another origin (port 80 by default;
//                                      HOST numeric, IPv6 in brackets)
//   /path?query                        same origin, that target
//   name?query                         same origin, next to current's path
// Error for other schemes, network-path references ("//host"), a host that
// is not a numeric address (or IPv6 without brackets), a port that is not 1-65535 in decimal digits,
// and whitespace or control characters anywhere (they cannot go on a request
// line).
Result<OriginTarget> resolve_location(std::string_view location, const OriginTarget& current);

}  // namespace sp
