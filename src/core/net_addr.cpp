// Address parsing and formatting: see net_addr.h.
#include "core/net_addr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace sp {

bool parse_port(std::string_view s, uint16_t* out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return false;
  *out = uint16_t(v);
  return true;
}

uint16_t SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

std::string SockAddr::host_string() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof(buf));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

std::string SockAddr::to_string() const {
  if (family() != AF_INET6 && family() != AF_INET) return "unknown";
  return host_port_text(host_string(), port());
}

std::string host_port_text(std::string_view host, uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out = "[" + std::string(host) + "]";
  } else {
    out = std::string(host);
  }
  return out + ":" + std::to_string(port);
}

bool SockAddr::operator==(const SockAddr& o) const {
  if (family() != o.family() || port() != o.port()) return false;
  if (family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&o.ss)->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    return memcmp(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr,
                  &reinterpret_cast<const sockaddr_in6*>(&o.ss)->sin6_addr, 16) == 0;
  }
  return false;
}

SockAddr SockAddr::from(const sockaddr* sa, socklen_t len) {
  SockAddr a;
  if (len > sizeof(a.ss)) len = sizeof(a.ss);
  memcpy(&a.ss, sa, len);
  a.len = len;
  return a;
}

Result<SockAddr> make_sock_addr(std::string_view host, uint16_t port) {
  std::string h(host);
  SockAddr a;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    return a;
  }
  a = SockAddr();
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return Result<SockAddr>::Error(ErrorKind::bad_input, "invalid address \"" + std::string(host) + "\"");
}

Result<SockAddr> parse_listen_address(std::string_view text) {
  auto bad = [&](const char* why) {
    return Result<SockAddr>::Error(ErrorKind::bad_input,
                                   "invalid listen address \"" + std::string(text) + "\": " + why);
  };
  std::string_view host = "0.0.0.0";
  std::string_view port_text = text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("missing port");
    port_text = text.substr(close + 2);
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    if (text.find(':') != colon) return bad("IPv6 addresses must be written in brackets");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.empty() || host == "*") host = "0.0.0.0";
  }
  uint16_t port = 0;
  if (!parse_port(port_text, &port)) return bad("port must be 1-65535");
  auto addr = make_sock_addr(host, port);
  if (!addr.ok()) return bad("host must be a numeric IPv4 or IPv6 address");
  return addr;
}

bool Cidr::contains(const sockaddr* sa) const {
  if (family == 0) return true;
  const uint8_t* a = nullptr;
  uint8_t mapped[4];
  if (sa->sa_family == AF_INET) {
    a = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
  } else if (sa->sa_family == AF_INET6) {
    a = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
    // An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) matches IPv4 rules.
    static const uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET && memcmp(a, kMappedPrefix, 12) == 0) {
      memcpy(mapped, a + 12, 4);
      a = mapped;
    } else if (family != AF_INET6) {
      return false;
    }
  } else {
    return false;
  }
  if (sa->sa_family == AF_INET && family != AF_INET) return false;
  int bits = prefix;
  for (int i = 0; bits > 0; i++, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : uint8_t(0xff << (8 - bits));
    if ((a[i] & mask) != (addr[i] & mask)) return false;
  }
  return true;
}

Result<Cidr> parse_cidr(std::string_view text) {
  Cidr c;
  if (text == "all") return c;
  std::string addr(text);
  int max_prefix = 0;
  int prefix = -1;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    addr = std::string(text.substr(0, slash));
    std::string_view p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix < 0) {
      return Result<Cidr>::Error(ErrorKind::bad_input, "invalid network \"" + std::string(text) + "\"");
    }
  }
  if (inet_pton(AF_INET, addr.c_str(), c.addr) == 1) {
    c.family = AF_INET;
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), c.addr) == 1) {
    c.family = AF_INET6;
    max_prefix = 128;
  } else {
    return Result<Cidr>::Error(ErrorKind::bad_input, "invalid network \"" + std::string(text) + "\"");
  }
  if (prefix > max_prefix) {
    return Result<Cidr>::Error(ErrorKind::bad_input, "invalid prefix in \"" + std::string(text) + "\"");
  }
  c.prefix = prefix < 0 ? max_prefix : prefix;
  return c;
}

namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

HostBytes from_v6(const uint8_t* a) {
  HostBytes h;
  if (memcmp(a, kMappedPrefix, 12) == 0) {
    h.family = AF_INET;
    memcpy(h.addr, a + 12, 4);
  } else {
    h.family = AF_INET6;
    memcpy(h.addr, a, 16);
  }
  return h;
}

}  // namespace

bool HostBytes::is_loopback() const {
  if (family == AF_INET) return addr[0] == 127;
  static const uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return family == AF_INET6 && memcmp(addr, kLoop6, 16) == 0;
}

bool HostBytes::is_unspecified() const {
  static const uint8_t kZero[16] = {};
  if (family == AF_INET) return memcmp(addr, kZero, 4) == 0;
  return family == AF_INET6 && memcmp(addr, kZero, 16) == 0;
}

HostBytes host_bytes(const sockaddr* sa) {
  HostBytes h;
  if (!sa) return h;
  if (sa->sa_family == AF_INET) {
    h.family = AF_INET;
    memcpy(h.addr, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    h = from_v6(reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr));
  }
  return h;
}

HostBytes host_bytes(const SockAddr& a) { return a.len ? host_bytes(a.sa()) : HostBytes{}; }

HostBytes host_bytes(std::string_view host) {
  std::string h(host);
  HostBytes out;
  uint8_t buf[16];
  if (inet_pton(AF_INET, h.c_str(), buf) == 1) {
    out.family = AF_INET;
    memcpy(out.addr, buf, 4);
  } else if (inet_pton(AF_INET6, h.c_str(), buf) == 1) {
    out = from_v6(buf);
  }
  return out;
}

Status check_connectable_host(std::string_view host) {
  HostBytes h = host_bytes(host);
  if (h.family == 0) {
    return Status::Error(ErrorKind::bad_input, "must be a numeric IPv4 or IPv6 address (host names are not resolved)");
  }
  if (h.family == AF_INET) {
    if (h.addr[0] == 0) {
      return Status::Error(ErrorKind::bad_input, "is an unspecified address (0.0.0.0/8), not one to connect to");
    }
    if (h.addr[0] >= 224 && h.addr[0] <= 239) return Status::Error(ErrorKind::bad_input, "is a multicast address");
    if (h.addr[0] == 255 && h.addr[1] == 255 && h.addr[2] == 255 && h.addr[3] == 255) {
      return Status::Error(ErrorKind::bad_input, "is the broadcast address");
    }
    return Status::Ok();
  }
  if (h.is_unspecified()) {
    return Status::Error(ErrorKind::bad_input, "is the unspecified address (::), not one to connect to");
  }
  if (h.addr[0] == 0xff) return Status::Error(ErrorKind::bad_input, "is a multicast address");
  return Status::Ok();
}

}  // namespace sp
