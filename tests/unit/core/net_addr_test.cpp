// Listen addresses and allow/deny networks.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "core/net_addr.h"

namespace sp {
namespace {

TEST(NetAddr, ListenForms) {
  EXPECT_EQ(parse_listen_address("1935")->to_string(), "0.0.0.0:1935");
  EXPECT_EQ(parse_listen_address(":1935")->to_string(), "0.0.0.0:1935");
  EXPECT_EQ(parse_listen_address("*:1935")->to_string(), "0.0.0.0:1935");
  EXPECT_EQ(parse_listen_address("127.0.0.1:80")->to_string(), "127.0.0.1:80");
  EXPECT_EQ(parse_listen_address("[::]:1935")->to_string(), "[::]:1935");
  EXPECT_EQ(parse_listen_address("[::1]:8080")->host_string(), "::1");
  for (const char* bad : {"", "0", "65536", "abc", "1.2.3.4:", "[::1]", "[::1:80", "::1:80", "1.2.3.999:80",
                          "host:80", "80x"}) {
    EXPECT_FALSE(parse_listen_address(bad).ok()) << bad;
  }
}

TEST(NetAddr, CidrMatching) {
  auto v4 = [](const char* ip) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &sa.sin_addr);
    return sa;
  };
  auto v6 = [](const char* ip) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &sa.sin6_addr);
    return sa;
  };
  auto net = parse_cidr("10.1.0.0/16");
  ASSERT_TRUE(net.ok());
  auto a = v4("10.1.200.3"), b = v4("10.2.0.1");
  EXPECT_TRUE(net->contains(reinterpret_cast<sockaddr*>(&a)));
  EXPECT_FALSE(net->contains(reinterpret_cast<sockaddr*>(&b)));
  auto mapped = v6("::ffff:10.1.2.3");
  EXPECT_TRUE(net->contains(reinterpret_cast<sockaddr*>(&mapped)));
  auto host = parse_cidr("::1");
  auto lo6 = v6("::1"), other6 = v6("::2");
  EXPECT_TRUE(host->contains(reinterpret_cast<sockaddr*>(&lo6)));
  EXPECT_FALSE(host->contains(reinterpret_cast<sockaddr*>(&other6)));
  EXPECT_FALSE(host->contains(reinterpret_cast<sockaddr*>(&a)));
  EXPECT_TRUE(parse_cidr("all")->contains(reinterpret_cast<sockaddr*>(&b)));
  auto odd = parse_cidr("192.168.1.128/25");
  auto in = v4("192.168.1.200"), out = v4("192.168.1.100");
  EXPECT_TRUE(odd->contains(reinterpret_cast<sockaddr*>(&in)));
  EXPECT_FALSE(odd->contains(reinterpret_cast<sockaddr*>(&out)));
  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/33", "::/129", "nonsense", "/8"}) {
    EXPECT_FALSE(parse_cidr(bad).ok()) << bad;
  }
}

TEST(NetAddr, HostPortText) {
  EXPECT_EQ(host_port_text("127.0.0.1", 8080), "127.0.0.1:8080");
  EXPECT_EQ(host_port_text("::1", 1985), "[::1]:1985");
  EXPECT_EQ(host_port_text("", 80), ":80");
  auto a = make_sock_addr("fe80::1", 443);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->to_string(), "[fe80::1]:443");
}

}  // namespace
}  // namespace sp
