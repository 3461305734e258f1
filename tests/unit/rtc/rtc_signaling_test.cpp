// Tests for src/rtc/signaling: request targets, SRS stream URLs, the origin's
// media port from a real aiortc answer, the registry session record, Location
// rewriting and the claim socket name.
#include "rtc/signaling.h"
#include "test_files.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace sp {
namespace {

std::string read_fixture(const std::string& name) {
  return testing::read_source_file("tests/fixtures/rtc/" + name);
}

TEST(RtcTarget, QueryAndPathForms) {
  auto t = parse_rtc_target("/rtc/v1/whip/", "app=live&stream=livestream&token=x");
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(t->action, RtcAction::whip);
  EXPECT_EQ(t->app, "live");
  EXPECT_EQ(t->stream, "livestream");

  t = parse_rtc_target("/rtc/v1/whep/live/cam%201", "");
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(t->action, RtcAction::whep);
  EXPECT_EQ(t->app, "live");
  EXPECT_EQ(t->stream, "cam 1");

  t = parse_rtc_target("/rtc/v1/whip-play/", "app=a&stream=b");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->action, RtcAction::whep);

  t = parse_rtc_target("/rtc/v1/whip/deep/app/s", "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->app, "deep/app");
  EXPECT_EQ(t->stream, "s");

  t = parse_rtc_target("/rtc/v1/publish/", "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->action, RtcAction::publish);
  EXPECT_TRUE(rtc_action_is_json(t->action));
  EXPECT_EQ(parse_rtc_target("/rtc/v1/play", "")->action, RtcAction::play);
}

TEST(RtcTarget, Rejects) {
  EXPECT_FALSE(parse_rtc_target("/rtc/v1/whipx/", "app=a&stream=b").ok());
  EXPECT_FALSE(parse_rtc_target("/api/v1/versions", "").ok());
  EXPECT_NE(parse_rtc_target("/rtc/v1/whip/", "app=live").error().find("stream"), std::string::npos);
  EXPECT_NE(parse_rtc_target("/rtc/v1/whip/", "stream=s").error().find("app"), std::string::npos);
  EXPECT_FALSE(parse_rtc_target("/rtc/v1/whip/onlyone", "").ok());
  EXPECT_TRUE(is_rtc_resource_path("/rtc/v1/whip/"));
  EXPECT_TRUE(is_rtc_resource_path("/rtc/v1/whep/resource/abc"));
  EXPECT_FALSE(is_rtc_resource_path("/rtc/v1/whipper"));
}

TEST(StreamUrl, SrsForms) {
  auto u = parse_stream_url("webrtc://example.com:1985/live/livestream?token=1&vhost=v");
  ASSERT_TRUE(u.ok()) << u.error();
  EXPECT_EQ(u->host, "example.com:1985");
  EXPECT_EQ(u->app, "live");
  EXPECT_EQ(u->stream, "livestream");
  EXPECT_EQ(u->query, "token=1&vhost=v");
  EXPECT_FALSE(parse_stream_url("live/livestream").ok());
  EXPECT_FALSE(parse_stream_url("webrtc://host").ok());
  EXPECT_FALSE(parse_stream_url("webrtc://host/onlystream").ok());
  EXPECT_FALSE(parse_stream_url("webrtc://host/app/").ok());
}

TEST(OriginMediaPort, FromAnswerCandidateOnTheOriginHost) {
  std::string answer = read_fixture("aiortc_answer.sdp");
  ASSERT_FALSE(answer.empty());
  // The captured aiortc answer names 192.0.2.2:48790 (per-session port).
  EXPECT_EQ(origin_media_port(answer, "192.0.2.2", 8000), 48790);
  // A candidate naming another address is not trusted: the registered port.
  EXPECT_EQ(origin_media_port(answer, "10.0.0.1", 8000), 8000);
  EXPECT_EQ(origin_media_port("v=0\r\n", "192.0.2.2", 8000), 8000);
  // TCP and non-host candidates are ignored.
  EXPECT_EQ(origin_media_port("a=candidate:1 1 tcp 1 10.0.0.1 9 typ host\n"
                              "a=candidate:2 1 udp 1 10.0.0.1 7 typ srflx raddr 0.0.0.0 rport 0\n",
                              "10.0.0.1", 8000),
            8000);
  EXPECT_EQ(origin_media_port("a=candidate:1 1 udp 1 ::1 5000 typ host\n", "[::1]", 8000), 5000);
  EXPECT_EQ(origin_media_port("a=candidate:1 1 udp 1 10.0.0.1 99999 typ host\n", "10.0.0.1", 8000), 8000);
}

TEST(RtcSessionData, RoundTripAndLimits) {
  RtcSessionData d{"127.0.0.1", 8000, "VsYIKTcxHaLdIyCWrEFERS", "/rtc/v1/whip/?action=delete&session=a:b"};
  auto back = decode_rtc_session_data(encode_rtc_session_data(d, 256));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->origin_host, d.origin_host);
  EXPECT_EQ(back->origin_port, 8000);
  EXPECT_EQ(back->answer_pwd, d.answer_pwd);
  EXPECT_EQ(back->origin_resource, d.origin_resource);

  d.origin_resource = "/" + std::string(300, 'x');
  back = decode_rtc_session_data(encode_rtc_session_data(d, 256));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->answer_pwd, d.answer_pwd);
  EXPECT_TRUE(back->origin_resource.empty());

  RtcSessionData bare{"::1", 9, "", ""};
  back = decode_rtc_session_data(encode_rtc_session_data(bare, 256));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->answer_pwd.empty());

  EXPECT_FALSE(decode_rtc_session_data("").ok());
  EXPECT_FALSE(decode_rtc_session_data("host 0 - -").ok());
  EXPECT_FALSE(decode_rtc_session_data("host 80 -").ok());
  EXPECT_FALSE(decode_rtc_session_data("host x - -").ok());
}

TEST(Location, OriginResourceAndProxyLocation) {
  EXPECT_EQ(origin_resource_path("http://10.0.0.1:1985/rtc/v1/whip/?action=delete&s=1", "/rtc/v1/whip/"),
            "/rtc/v1/whip/?action=delete&s=1");
  EXPECT_EQ(origin_resource_path("https://o.example?x=1", "/rtc/v1/whip/"), "/?x=1");
  EXPECT_EQ(origin_resource_path("/whip/resource/42", "/rtc/v1/whip/"), "/whip/resource/42");
  EXPECT_EQ(origin_resource_path("resource/42", "/rtc/v1/whip/"), "/rtc/v1/whip/resource/42");
  EXPECT_EQ(proxy_location("/rtc/v1/whip/?action=delete&session=a:b", "a:b", "http://proxy:1985"),
            "http://proxy:1985/rtc/v1/whip/?action=delete&session=a:b&spsid=a%3Ab");
  EXPECT_EQ(proxy_location("/whip/resource/42", "a:b", ""), "/whip/resource/42?spsid=a%3Ab");
}

// Found by tests/fuzz (fuzz_rtc_signaling, regressions/rtc_signaling/
// location_with_space.txt): a Location with a space made a session record
// with five fields, which no worker could read back.
TEST(Location, SpacesAndControlsAreEscapedSoTheRecordReadsBack) {
  EXPECT_EQ(origin_resource_path("/whip/my resource?a=b c", "/rtc/v1/whip/"), "/whip/my%20resource?a=b%20c");
  EXPECT_EQ(origin_resource_path("r\x01\xc3\xa9", "/rtc/v1/whip/"), "/rtc/v1/whip/r%01%C3%A9");
  RtcSessionData d{"127.0.0.1", 8000, "", origin_resource_path("a b", "/rtc/v1/whip/")};
  auto back = decode_rtc_session_data(encode_rtc_session_data(d, 512));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->origin_resource, "/rtc/v1/whip/a%20b");
}

TEST(ClaimName, StablePerListenerAndSession) {
  EXPECT_EQ(rtc_claim_socket_name(7, "a:b"), rtc_claim_socket_name(7, "a:b"));
  EXPECT_NE(rtc_claim_socket_name(7, "a:b"), rtc_claim_socket_name(8, "a:b"));
  EXPECT_NE(rtc_claim_socket_name(7, "a:b"), rtc_claim_socket_name(7, "a:c"));
  EXPECT_LT(rtc_claim_socket_name(~0ull, "x").size(), 100u);  // fits sun_path
}

}  // namespace
}  // namespace sp
