// The WebRTC pick: an origin must have both `api` (signalling) and `rtc`
// (media) endpoints; Registry::pick(key, Proto::rtc, Proto::api, now).
#include <gtest/gtest.h>

#include "registry/registry.h"

namespace sp {
namespace {

OriginSpec origin(const char* server, bool api, bool rtc) {
  OriginSpec s;
  s.server = server;
  s.service = "svc";
  s.pid = "1";
  s.ip = "10.0.0.1";
  s.endpoints[int(Proto::rtmp)].push_back(Endpoint{"", 1935});
  if (api) s.endpoints[int(Proto::api)].push_back(Endpoint{"", 1985});
  if (rtc) s.endpoints[int(Proto::rtc)].push_back(Endpoint{"10.0.0.9", 8000});
  return s;
}

TEST(RtcPick, NeedsBothApiAndRtc) {
  auto r = Registry::create(1 << 20, {});
  ASSERT_TRUE(r.ok()) << r.error();
  Registry& reg = **r;
  ASSERT_TRUE(reg.register_origin(origin("rtc-only", false, true), 0).ok());
  ASSERT_TRUE(reg.register_origin(origin("api-only", true, false), 0).ok());
  auto none = reg.pick("__defaultVhost__/live/a", Proto::rtc, Proto::api, 1);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("rtc (with api)"), std::string::npos) << none.error();

  ASSERT_TRUE(reg.register_origin(origin("both", true, true), 0).ok());
  for (int i = 0; i < 3; i++) {
    auto p = reg.pick("__defaultVhost__/live/s" + std::to_string(i), Proto::rtc, Proto::api, 1);
    ASSERT_TRUE(p.ok()) << p.error();
    EXPECT_EQ(p->origin.server, "both");
    EXPECT_EQ(p->host, "10.0.0.9");  // the rtc endpoint's own host
    EXPECT_EQ(p->port, 8000);
  }
}

TEST(RtcPick, PinnedOriginWithoutApi) {
  auto r = Registry::create(1 << 20, {});
  ASSERT_TRUE(r.ok());
  Registry& reg = **r;
  ASSERT_TRUE(reg.register_origin(origin("rtc-only", false, true), 0).ok());
  ASSERT_TRUE(reg.pick("k/a/s", Proto::rtc, 1).ok());  // pinned by an rtc-only pick
  ASSERT_TRUE(reg.register_origin(origin("both", true, true), 0).ok());
  // No clients on the stream: it moves to an origin that has both.
  auto moved = reg.pick("k/a/s", Proto::rtc, Proto::api, 2);
  ASSERT_TRUE(moved.ok()) << moved.error();
  EXPECT_EQ(moved->origin.server, "both");
  // With clients it stays, and the error says what is missing. (The least
  // pinned origin, rtc-only, takes the new stream.)
  auto pinned = reg.pick("k/a/t", Proto::rtc, 3);
  ASSERT_TRUE(pinned.ok());
  ASSERT_EQ(pinned->origin.server, "rtc-only");
  reg.add_client("k/a/t", Proto::rtc, +1);
  auto err = reg.pick("k/a/t", Proto::rtc, Proto::api, 4);
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().find("has no rtc and api endpoint"), std::string::npos) << err.error();
}

}  // namespace
}  // namespace sp
