// Tests for src/srt/srt_route: the decision the SRT listen callback takes from
// a caller's streamid (stream key or rejection), on the streamid shapes real
// callers send, and the rejection codes matching libsrt's constants.
#include "srt/srt_route.h"

#include <gtest/gtest.h>
#include <srt/srt.h>
#include <srt/access_control.h>

#include <string>

namespace sp {
namespace {

std::string key_of(std::string_view streamid) {
  Result<SrtRoute> r = route_srt_streamid(streamid);
  EXPECT_TRUE(r.ok()) << streamid << ": " << r.error();
  return r.ok() ? r->key : std::string();
}

TEST(SrtRouteTest, EveryStreamIdFormGivesTheSameKey) {
  const char* forms[] = {"#!::r=live/s,m=publish", "#!::m=publish,r=live/s", "#!::h=live/s",
                         "#!::r=live/s", "live/s", "s", "#!::r=live/s?token=abc,m=request",
                         "#!::u=admin,r=live/s,s=1234,t=stream,m=publish"};
  for (const char* f : forms) EXPECT_EQ(key_of(f), "__defaultVhost__/live/s") << f;
}

TEST(SrtRouteTest, VhostFromHostKeyOldFormAndQuery) {
  EXPECT_EQ(key_of("#!::h=srs.example.com,r=live/s,m=request"), "srs.example.com/live/s");
  EXPECT_EQ(key_of("#!::h=srs.example.com/live/s"), "srs.example.com/live/s");
  EXPECT_EQ(key_of("#!::r=live/s?vhost=v.example.com"), "v.example.com/live/s");
  // An IP address is not a vhost.
  EXPECT_EQ(key_of("#!::h=127.0.0.1,r=live/s"), "__defaultVhost__/live/s");
}

TEST(SrtRouteTest, ModeAndExtrasAreKept) {
  Result<SrtRoute> r = route_srt_streamid("#!::r=app/st,m=publish,u=bob");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->id.mode, SrtMode::kPublish);
  EXPECT_EQ(r->id.app, "app");
  ASSERT_EQ(r->id.extra.size(), 1u);
  EXPECT_EQ(r->id.extra[0].first, "u");
}

TEST(SrtRouteTest, MalformedStreamIdsAreRefused) {
  const char* bad[] = {"", "#!::m=publish", "#!::r=live/s,r=live/t", "#!::r=live/s,m=play",
                       "#!::r=/s", "#!::r=live/", "#!{\"r\":\"x\"}", "#!::r=live/s,junk", "live/s\x01"};
  for (const char* b : bad) {
    Result<SrtRoute> r = route_srt_streamid(b);
    EXPECT_FALSE(r.ok()) << "accepted: " << b;
    EXPECT_EQ(r.kind(), ErrorKind::bad_input) << b;
    EXPECT_FALSE(r.error().empty()) << b;
  }
  std::string too_long = "live/" + std::string(600, 'a');
  EXPECT_FALSE(route_srt_streamid(too_long).ok());
}

TEST(SrtRouteTest, RejectCodesAreLibsrtsAndNamed) {
  EXPECT_EQ(kSrtRejectBadRequest, SRT_REJX_BAD_REQUEST);
  EXPECT_EQ(kSrtRejectUnavailable, SRT_REJX_DOWN);
  EXPECT_EQ(kSrtRejectOverload, SRT_REJX_OVERLOAD);
  EXPECT_EQ(kSrtRejectLoop, SRT_REJC_PREDEFINED + 508);  // HTTP 508 Loop Detected
  EXPECT_NE(srt_reject_text(kSrtRejectLoop).find("loop"), std::string::npos);
  EXPECT_EQ(srt_reject_text(kSrtRejectBadRequest), "1400 (bad request)");
  EXPECT_EQ(srt_reject_text(kSrtRejectUnavailable), "1503 (service unavailable)");
  // libsrt's own reasons come with libsrt's text.
  EXPECT_NE(srt_reject_text(SRT_REJ_BADSECRET).find("10 ("), std::string::npos);
  EXPECT_EQ(srt_reject_text(1499), "1499");
  EXPECT_EQ(kSrtRejectNotFound, SRT_REJX_NOTFOUND);
  EXPECT_EQ(kSrtRejectInternal, SRT_REJX_ISE);
  EXPECT_EQ(kSrtRejectGateway, SRT_REJX_GW);
}

TEST(SrtRouteTest, EveryErrorKindHasItsRejection) {
  EXPECT_EQ(srt_reject_for(ErrorKind::bad_input), SRT_REJX_BAD_REQUEST);  // malformed streamid
  EXPECT_EQ(srt_reject_for(ErrorKind::not_found), SRT_REJX_NOTFOUND);
  EXPECT_EQ(srt_reject_for(ErrorKind::internal), SRT_REJX_ISE);
  EXPECT_EQ(srt_reject_for(ErrorKind::upstream), SRT_REJX_GW);
  EXPECT_EQ(srt_reject_for(ErrorKind::unavailable), SRT_REJX_DOWN);  // no alive origin
  EXPECT_EQ(srt_reject_for(ErrorKind::full), SRT_REJX_DOWN);         // registry full
  EXPECT_EQ(srt_reject_for(ErrorKind::timeout), SRT_REJX_DOWN);
  // What the listen callback meets: a bad streamid and a stream no origin serves.
  Result<SrtRoute> bad = route_srt_streamid("#!::m=publish");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(srt_reject_for(bad.kind()), kSrtRejectBadRequest);
}

}  // namespace
}  // namespace sp
