// Redirect Location resolution (see location.h).
#include "http/location.h"

#include "core/net_addr.h"

namespace sp {

namespace {

Result<OriginTarget> refuse(std::string why) { return Result<OriginTarget>::Error(std::move(why)); }

}  // namespace

Result<OriginTarget> resolve_location(std::string_view loc, const OriginTarget& current) {
  for (unsigned char c : loc) {
    if (c <= ' ' || c == 0x7f) return refuse("whitespace or control character in Location");
  }
  if (loc.substr(0, 7) == "http://") {
    std::string_view rest = loc.substr(7);
    size_t slash = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, slash);
    std::string path(slash == std::string_view::npos ? "/" : rest.substr(slash));
    if (path.front() == '?') path.insert(0, "/");
    OriginTarget next;
    next.port = 80;
    if (!authority.empty() && authority.front() == '[') {
      size_t close = authority.find(']');
      if (close == std::string_view::npos) return refuse("unclosed '[' in Location host");
      next.host = std::string(authority.substr(1, close - 1));
      std::string_view after = authority.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':' || !parse_port(after.substr(1), &next.port)) return refuse("bad port in Location");
      }
    } else {
      size_t colon = authority.find(':');
      if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
        return refuse("IPv6 Location host without brackets");
      }
      next.host = std::string(authority.substr(0, colon));
      if (colon != std::string_view::npos && !parse_port(authority.substr(colon + 1), &next.port)) {
        return refuse("bad port in Location");
      }
    }
    if (next.host.empty() || !make_sock_addr(next.host, next.port).ok()) {
      return refuse("Location host is not a numeric address");
    }
    next.target = std::move(path);
    return next;
  }
  if (loc.find("://") != std::string_view::npos || loc.substr(0, 2) == "//") {
    return refuse("Location is not http:// to a numeric host");
  }
  OriginTarget next = current;
  if (!loc.empty() && loc.front() == '/') {
    next.target = std::string(loc);
    return next;
  }
  std::string base = current.target.substr(0, current.target.find('?'));
  next.target = base.substr(0, base.rfind('/') + 1) + std::string(loc);
  return next;
}

}  // namespace sp
