// Socket addresses and networks as plain values: parsing of listen addresses
// ("1935", "127.0.0.1:1935", "[::]:1935", "*:1935") and of allow/deny networks
// ("10.0.0.0/8", "::1", "all"). Pure: no sockets, no name resolution.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sp {

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;

  int family() const { return ss.ss_family; }
  uint16_t port() const;
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
  // "127.0.0.1:1935" or "[::1]:1935".
  std::string to_string() const;
  // Address only, no port: "127.0.0.1" or "::1".
  std::string host_string() const;
  bool operator==(const SockAddr& o) const;

  static SockAddr from(const sockaddr* sa, socklen_t len);
};

// A decimal port 1-65535, nothing else (no sign, no spaces).
bool parse_port(std::string_view s, uint16_t* out);

// A listen address: "PORT", "ADDR:PORT", "*:PORT", "[V6]:PORT". A bare port or
// "*" means every IPv4 address (0.0.0.0). Only numeric addresses are accepted.
Result<SockAddr> parse_listen_address(std::string_view text);

// "HOST:PORT" for logs, Host headers and the API: an IPv6 host (any host
// with a ':') is bracketed, "[::1]:8080"; an empty host gives ":PORT".
std::string host_port_text(std::string_view host, uint16_t port);

// Numeric host + port ("127.0.0.1", 80) to an address.
Result<SockAddr> make_sock_addr(std::string_view host, uint16_t port);

// Ok when `host` is a numeric IPv4 or IPv6 address a client can connect to;
// else an error saying why: not numeric (host names are not resolved),
// unspecified (0.0.0.0/8, ::), broadcast (255.255.255.255) or multicast
// (224.0.0.0/4, ff00::/8), IPv4-mapped forms included.
Status check_connectable_host(std::string_view host);

// An address reduced to what identifies a host: IPv4 (IPv4-mapped IPv6
// becomes IPv4) or IPv6, port ignored.
struct HostBytes {
  int family = 0;  // AF_INET, AF_INET6, 0 = none
  uint8_t addr[16]{};
  bool operator==(const HostBytes&) const = default;
  bool is_loopback() const;  // 127.0.0.0/8, ::1
  bool is_unspecified() const;  // 0.0.0.0, ::
};
HostBytes host_bytes(const sockaddr* sa);
HostBytes host_bytes(const SockAddr& a);
// Numeric text ("10.0.0.1", "::1"); family 0 when not numeric.
HostBytes host_bytes(std::string_view host);

// Network for allow/deny: "all", "ADDR", "ADDR/PREFIX" (IPv4 or IPv6).
struct Cidr {
  int family = 0;  // 0 = all
  uint8_t addr[16]{};
  int prefix = 0;
  bool contains(const sockaddr* sa) const;
};
Result<Cidr> parse_cidr(std::string_view text);

}  // namespace sp
