// Tests for origin endpoint parsing: every shape SRS and the spec use, and
// the garbage that must be refused with the text named in the error.
#include "registry/endpoint.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

Endpoint parse_ok(std::string_view text) {
  auto r = parse_endpoint(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.error();
  return r.ok() ? *r : Endpoint{};
}

TEST(Endpoint, BarePortIsWildcard) {
  EXPECT_EQ(parse_ok("1935"), (Endpoint{"", 1935}));
  EXPECT_EQ(parse_ok("19351"), (Endpoint{"", 19351}));
  EXPECT_EQ(parse_ok(":1935"), (Endpoint{"", 1935}));
  EXPECT_EQ(parse_ok("65535"), (Endpoint{"", 65535}));
}

TEST(Endpoint, SchemesAndWildcards) {
  EXPECT_EQ(parse_ok("tcp://:1935"), (Endpoint{"", 1935}));
  EXPECT_EQ(parse_ok("tcp://0.0.0.0:1935"), (Endpoint{"", 1935}));
  EXPECT_EQ(parse_ok("udp://0.0.0.0:8001"), (Endpoint{"", 8001}));
  EXPECT_EQ(parse_ok("udp://0.0.0.0:10081"), (Endpoint{"", 10081}));
  EXPECT_EQ(parse_ok("0.0.0.0:1935"), (Endpoint{"", 1935}));
  EXPECT_EQ(parse_ok("[::]:1935"), (Endpoint{"", 1935}));
  EXPECT_EQ(parse_ok("tcp://[::]:1935"), (Endpoint{"", 1935}));
}

TEST(Endpoint, SpecificHosts) {
  EXPECT_EQ(parse_ok("tcp://192.168.3.10:1935"), (Endpoint{"192.168.3.10", 1935}));
  EXPECT_EQ(parse_ok("10.0.0.1:8080"), (Endpoint{"10.0.0.1", 8080}));
  EXPECT_EQ(parse_ok("[::1]:1935"), (Endpoint{"::1", 1935}));
  EXPECT_EQ(parse_ok("udp://[fe80::1]:8000"), (Endpoint{"fe80::1", 8000}));
}

TEST(Endpoint, RejectsGarbageNamingTheText) {
  for (const char* bad : {"", "abc", "0", "65536", "99999999", "-1", "1935x", "tcp://", "tcp://:0", "http://:80",
                          "rtmp://1.2.3.4:1935", "1.2.3.4", "1.2.3.4:", "::1:1935", "[::1]", "[::1]1935",
                          "[1.2.3.4]:80", "example.com:1935", "1.2.3.4:19 35", " 1935"}) {
    auto r = parse_endpoint(bad);
    EXPECT_FALSE(r.ok()) << "accepted \"" << bad << "\"";
    EXPECT_NE(r.error().find(std::string("\"") + bad + "\""), std::string::npos) << r.error();
  }
}

TEST(Endpoint, SpecificHostMustBeConnectable) {
  for (const char* bad : {"tcp://255.255.255.255:1935", "224.0.0.1:1935", "udp://239.1.2.3:8000", "0.1.2.3:80",
                          "[ff02::1]:1935", "[::ffff:0.0.0.0]:1935", "[::ffff:224.0.0.1]:1935"}) {
    auto r = parse_endpoint(bad);
    EXPECT_FALSE(r.ok()) << "accepted \"" << bad << "\"";
    EXPECT_NE(r.error().find(std::string("\"") + bad + "\""), std::string::npos) << r.error();
  }
  EXPECT_NE(parse_endpoint("224.0.0.1:1935").error().find("multicast"), std::string::npos);
  EXPECT_NE(parse_endpoint("255.255.255.255:1").error().find("broadcast"), std::string::npos);
  // An IPv4-mapped unicast address is a host like any other.
  EXPECT_EQ(parse_ok("[::ffff:10.0.0.1]:1935"), (Endpoint{"::ffff:10.0.0.1", 1935}));
}

TEST(Endpoint, LongTextIsQuotedInPart) {
  std::string text(5000, '9');
  auto r = parse_endpoint(text);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.error().size(), 200u) << r.error();
}

TEST(Endpoint, ErrorSaysWhy) {
  EXPECT_NE(parse_endpoint("http://:80").error().find("scheme"), std::string::npos);
  EXPECT_NE(parse_endpoint("0").error().find("1-65535"), std::string::npos);
}

TEST(Endpoint, ConnectHostPrefersSpecificEndpointHost) {
  EXPECT_EQ(endpoint_connect_host(Endpoint{"", 1935}, "10.1.1.1"), "10.1.1.1");
  EXPECT_EQ(endpoint_connect_host(Endpoint{"192.168.3.10", 1935}, "10.1.1.1"), "192.168.3.10");
}

}  // namespace
}  // namespace sp
