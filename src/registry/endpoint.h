// Origin endpoints as registered: "1935", ":1935", "tcp://:1935",
// "tcp://0.0.0.0:1935", "udp://0.0.0.0:8001", "tcp://192.168.3.10:1935",
// "0.0.0.0:1935", "[::]:1935". Pure parsing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sp {

struct Endpoint {
  std::string host;  // empty for a wildcard (0.0.0.0, ::, none given)
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

Result<Endpoint> parse_endpoint(std::string_view text);

// Address to connect to: the endpoint's own host if specific, else `origin_ip`.
std::string endpoint_connect_host(const Endpoint& ep, std::string_view origin_ip);

}  // namespace sp
