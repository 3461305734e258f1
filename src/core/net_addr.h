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

// Numeric host + port ("127.0.0.1", 80) to an address.
Result<SockAddr> make_sock_addr(std::string_view host, uint16_t port);

// Network for allow/deny: "all", "ADDR", "ADDR/PREFIX" (IPv4 or IPv6).
struct Cidr {
  int family = 0;  // 0 = all
  uint8_t addr[16]{};
  int prefix = 0;
  bool contains(const sockaddr* sa) const;
};
Result<Cidr> parse_cidr(std::string_view text);

}  // namespace sp
