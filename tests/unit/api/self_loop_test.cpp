// Tests for the registration-time self-loop check: an origin endpoint that is
// one of this proxy's own listeners (same transport and port; the same
// address, or a wildcard listener and a local address) is refused, naming the
// field; everything else passes. Also the system API exposure warning.
#include "api/self_loop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "api/system_api.h"
#include "api/api_conf.h"
#include "http/http_conf.h"
#include "registry/registry_conf.h"
#include "rtc/webrtc_conf.h"
#include "rtmp/rtmp_conf.h"
#include "srt/srt_conf.h"

namespace sp {
namespace {

OwnListener listener(const char* addr, bool udp = false) {
  auto a = parse_listen_address(addr);
  EXPECT_TRUE(a.ok()) << addr;
  return OwnListener{*a, udp, std::string("test listener ") + addr};
}

OriginSpec origin(const char* ip, Proto proto, const char* endpoint) {
  OriginSpec s;
  s.ip = ip;
  s.server = "o";
  s.endpoints[int(Proto::rtmp)] = {Endpoint{"", 1}};  // mandatory; port 1 matches nothing below
  auto ep = parse_endpoint(endpoint);
  EXPECT_TRUE(ep.ok()) << endpoint;
  s.endpoints[int(proto)].push_back(*ep);
  return s;
}

Status check(const OriginSpec& s, std::vector<OwnListener> ls, std::vector<HostBytes> local = {}) {
  return check_self_loop(s, ls, local);
}

TEST(SelfLoop, SameAddressAndPortIsRefusedNamingTheField) {
  Status st = check(origin("127.0.0.1", Proto::rtmp, "1935"), {listener("127.0.0.1:1935")});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().find("field \"rtmp\""), 0u) << st.message();
  EXPECT_NE(st.message().find("self-loop"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("127.0.0.1:1935"), std::string::npos) << st.message();
  // Via a specific endpoint host, whatever the ip.
  EXPECT_FALSE(check(origin("10.9.9.9", Proto::http, "tcp://127.0.0.1:8080"), {listener("127.0.0.1:8080")}).ok());
  // IPv4-mapped IPv6 is the same host.
  EXPECT_FALSE(check(origin("::ffff:127.0.0.1", Proto::rtmp, "1935"), {listener("127.0.0.1:1935")}).ok());
  EXPECT_FALSE(check(origin("::1", Proto::api, "1985"), {listener("[::1]:1985")}).ok());
}

TEST(SelfLoop, EveryListenerKindCounts) {
  // An origin's http endpoint on the proxy's system API or HTTP API port.
  EXPECT_FALSE(check(origin("127.0.0.1", Proto::http, "12025"), {listener("127.0.0.1:12025")}).ok());
  // UDP endpoints against UDP listeners.
  EXPECT_FALSE(check(origin("127.0.0.1", Proto::srt, "udp://0.0.0.0:10080"), {listener("127.0.0.1:10080", true)}).ok());
  EXPECT_FALSE(check(origin("127.0.0.1", Proto::rtc, "8000"), {listener("0.0.0.0:8000", true)}).ok());
}

TEST(SelfLoop, TransportMustMatch) {
  // A TCP endpoint on the port of the proxy's UDP listener reaches no proxy.
  EXPECT_TRUE(check(origin("127.0.0.1", Proto::rtmp, "10080"), {listener("127.0.0.1:10080", true)}).ok());
  EXPECT_TRUE(check(origin("127.0.0.1", Proto::srt, "1935"), {listener("127.0.0.1:1935")}).ok());
}

TEST(SelfLoop, WildcardListenerMatchesEveryLocalAddress) {
  std::vector<OwnListener> any = {listener("1935")};  // 0.0.0.0:1935
  EXPECT_FALSE(check(origin("127.0.0.1", Proto::rtmp, "1935"), any).ok());
  EXPECT_FALSE(check(origin("127.3.4.5", Proto::rtmp, "1935"), any).ok());
  // An address of one of this host's interfaces.
  std::vector<HostBytes> local = {host_bytes("192.168.7.20"), host_bytes("fd00::20")};
  EXPECT_FALSE(check(origin("192.168.7.20", Proto::rtmp, "1935"), any, local).ok());
  // Another host on the same port is a real origin.
  EXPECT_TRUE(check(origin("192.168.7.21", Proto::rtmp, "1935"), any, local).ok());
  EXPECT_TRUE(check(origin("10.0.0.5", Proto::rtmp, "1935"), any, local).ok());
  // 0.0.0.0 takes IPv4 only; :: takes both.
  EXPECT_TRUE(check(origin("::1", Proto::rtmp, "1935"), any, local).ok());
  std::vector<OwnListener> any6 = {listener("[::]:1935")};
  EXPECT_FALSE(check(origin("::1", Proto::rtmp, "1935"), any6, local).ok());
  EXPECT_FALSE(check(origin("fd00::20", Proto::rtmp, "1935"), any6, local).ok());
  EXPECT_FALSE(check(origin("127.0.0.1", Proto::rtmp, "1935"), any6, local).ok());
  EXPECT_TRUE(check(origin("2001:db8::1", Proto::rtmp, "1935"), any6, local).ok());
}

TEST(SelfLoop, SpecificListenerMatchesOnlyItsAddressAndPort) {
  std::vector<OwnListener> ls = {listener("127.0.0.1:1935")};
  EXPECT_TRUE(check(origin("127.0.0.2", Proto::rtmp, "1935"), ls).ok());
  EXPECT_TRUE(check(origin("127.0.0.1", Proto::rtmp, "1936"), ls).ok());
  std::vector<HostBytes> local = {host_bytes("192.168.7.20")};
  EXPECT_TRUE(check(origin("192.168.7.20", Proto::rtmp, "1935"), ls, local).ok());
}

TEST(SelfLoop, OwnListenersCoverEveryKind) {
  Config c;
  auto add = [](std::vector<ListenConf>* v, const char* a) { v->push_back(ListenConf{*parse_listen_address(a), a}); };
  add(&c.module<SystemApiConf>().listen, "127.0.0.1:1");
  add(&c.module<RtmpConf>().listen, "127.0.0.1:2");
  add(&c.module<HttpStreamConf>().listen, "127.0.0.1:3");
  add(&c.module<HttpApiConf>().listen, "127.0.0.1:4");
  add(&c.module<WebrtcConf>().listen, "127.0.0.1:5");
  add(&c.module<SrtConf>().listen, "127.0.0.1:6");
  auto ls = own_listeners(c);
  ASSERT_EQ(ls.size(), 6u);
  for (size_t i = 0; i < ls.size(); i++) {
    EXPECT_EQ(ls[i].addr.port(), i + 1);
    EXPECT_EQ(ls[i].udp, i >= 4) << ls[i].what;
  }
  EXPECT_NE(ls[1].what.find("rtmp"), std::string::npos);
}

TEST(SelfLoop, HostAddressesIncludeLoopback) {
  auto local = host_addresses();
  // Every Linux host has lo; the check needs no interface list for it anyway.
  EXPECT_NE(std::find(local.begin(), local.end(), host_bytes("127.0.0.1")), local.end());
}

TEST(SystemApiExposure, WarnsForReachableOpenApi) {
  SystemApiConf c;
  c.listen.push_back(ListenConf{*parse_listen_address("127.0.0.1:12025"), "127.0.0.1:12025"});
  EXPECT_TRUE(system_api_exposure_warnings(c).empty());
  c.listen.push_back(ListenConf{*parse_listen_address("12025"), "12025"});
  auto w = system_api_exposure_warnings(c);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("0.0.0.0:12025"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("no token"), std::string::npos) << w[0];
  // An allow-list (ending in deny all) or a token makes it quiet.
  SystemApiConf with_rules = c;
  with_rules.access.push_back(AccessRule{true, *parse_cidr("10.0.0.0/8"), "10.0.0.0/8"});
  EXPECT_EQ(system_api_exposure_warnings(with_rules).size(), 1u);  // allows, denies nothing
  with_rules.access.push_back(AccessRule{false, *parse_cidr("all"), "all"});
  EXPECT_TRUE(system_api_exposure_warnings(with_rules).empty());
  SystemApiConf allow_all_first = c;
  allow_all_first.access.push_back(AccessRule{true, *parse_cidr("all"), "all"});
  allow_all_first.access.push_back(AccessRule{false, *parse_cidr("all"), "all"});
  EXPECT_EQ(system_api_exposure_warnings(allow_all_first).size(), 1u);  // "deny all" is never reached
  SystemApiConf with_token = c;
  with_token.token = "s3cret";
  EXPECT_TRUE(system_api_exposure_warnings(with_token).empty());
  SystemApiConf v6;
  v6.listen.push_back(ListenConf{*parse_listen_address("[::1]:12025"), "[::1]:12025"});
  EXPECT_TRUE(system_api_exposure_warnings(v6).empty());
  v6.listen.push_back(ListenConf{*parse_listen_address("10.1.2.3:12025"), "10.1.2.3:12025"});
  EXPECT_EQ(system_api_exposure_warnings(v6).size(), 1u);
}

}  // namespace
}  // namespace sp
