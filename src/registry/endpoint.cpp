// Origin endpoint parsing (see endpoint.h). An origin tells us where it
// listens in one of several shapes; we keep only what matters to connect:
// an optional specific host and a port. Hosts must be numeric addresses so
// the connect path never blocks on name resolution, and addresses one can
// connect to (check_connectable_host); a wildcard host means "the origin's ip".
#include "registry/endpoint.h"

#include <arpa/inet.h>

#include "core/net_addr.h"

namespace sp {

namespace {

// The error quotes at most kQuoteMax bytes of the text: it is logged and
// answered, and a registration body may be 64k of one endpoint.
constexpr size_t kQuoteMax = 100;

Result<Endpoint> bad(std::string_view text, std::string_view why) {
  std::string quoted(text.substr(0, kQuoteMax));
  if (text.size() > kQuoteMax) quoted += "...";
  return Result<Endpoint>::Error(ErrorKind::bad_input, "invalid endpoint \"" + quoted + "\": " + std::string(why));
}

// Removes a "tcp://" or "udp://" prefix. False for any other scheme.
bool strip_scheme(std::string_view* s) {
  size_t sep = s->find("://");
  if (sep == std::string_view::npos) return true;
  std::string_view scheme = s->substr(0, sep);
  if (scheme != "tcp" && scheme != "udp") return false;
  s->remove_prefix(sep + 3);
  return true;
}

bool is_wildcard(std::string_view host) {
  return host.empty() || host == "*" || host == "0.0.0.0" || host == "::";
}

bool is_numeric_address(std::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view s = text;
  if (s.empty()) return bad(text, "empty");
  if (!strip_scheme(&s)) return bad(text, "scheme must be tcp:// or udp://");

  // Split host and port; a bare number is a port on every address.
  std::string_view host, port_text = s;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return bad(text, "missing ']'");
    host = s.substr(1, close - 1);
    if (close + 1 >= s.size() || s[close + 1] != ':') return bad(text, "missing port");
    port_text = s.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return bad(text, "brackets are for IPv6 addresses");
  } else if (size_t colon = s.rfind(':'); colon != std::string_view::npos) {
    if (s.find(':') != colon) return bad(text, "IPv6 addresses must be written in brackets");
    host = s.substr(0, colon);
    port_text = s.substr(colon + 1);
  }

  Endpoint ep;
  if (!parse_port(port_text, &ep.port)) return bad(text, "port must be 1-65535");
  if (is_wildcard(host)) return ep;
  if (!is_numeric_address(host)) return bad(text, "host must be a numeric IPv4 or IPv6 address");
  // A specific host is where the proxy connects: the same rule as the
  // origin's "ip" (no broadcast, multicast or unspecified address).
  if (Status st = check_connectable_host(host); !st.ok()) return bad(text, "host " + st.message());
  ep.host = std::string(host);
  return ep;
}

std::string endpoint_connect_host(const Endpoint& ep, std::string_view origin_ip) {
  return ep.host.empty() ? std::string(origin_ip) : ep.host;
}

}  // namespace sp
