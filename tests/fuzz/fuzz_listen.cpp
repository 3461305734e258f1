// Fuzz target: endpoint strings from configuration and registrations:
// listen addresses ("127.0.0.1:1935", "[::]:80", "*:1935"), allow/deny
// networks ("10.0.0.0/8", "all") and registered origin endpoints
// ("tcp://0.0.0.0:1935", "udp://:8000").
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/net_addr.h"
#include "fuzz_util.h"
#include "registry/endpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = sp::fuzz::as_text(data, size);

  auto ep = sp::parse_endpoint(text);
  if (ep.ok()) {
    std::string host = sp::endpoint_connect_host(ep.value(), "192.0.2.1");
    FUZZ_CHECK(!host.empty());
  }

  auto addr = sp::parse_listen_address(text);
  if (addr.ok()) {
    // What we print must parse back to the same address (logs and -T).
    std::string printed = addr->to_string();
    auto again = sp::parse_listen_address(printed);
    FUZZ_CHECK(again.ok() && again.value() == addr.value());
    (void)addr->host_string();
    (void)addr->port();
  }

  auto cidr = sp::parse_cidr(text);
  if (cidr.ok()) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(0x0a000001);
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_loopback;
    (void)cidr->contains(reinterpret_cast<const sockaddr*>(&v4));
    (void)cidr->contains(reinterpret_cast<const sockaddr*>(&v6));
  }
  return 0;
}
