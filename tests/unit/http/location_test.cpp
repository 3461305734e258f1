// Redirect Location resolution (location.h): absolute http:// to numeric
// hosts, absolute paths and relative names against the current request;
// everything a request line or the origin client cannot take is refused.
#include "http/location.h"

#include <gtest/gtest.h>

using namespace sp;

namespace {
const OriginTarget kCur{"10.0.0.1", 8080, "/live/s.m3u8?token=1"};
}

TEST(Location, AbsoluteHttp) {
  EXPECT_EQ(*resolve_location("http://10.0.0.2:8081/hls/s.m3u8?t=2", kCur),
            (OriginTarget{"10.0.0.2", 8081, "/hls/s.m3u8?t=2"}));
  EXPECT_EQ(*resolve_location("http://10.0.0.2/x.m3u8", kCur), (OriginTarget{"10.0.0.2", 80, "/x.m3u8"}));
  EXPECT_EQ(*resolve_location("http://10.0.0.2", kCur), (OriginTarget{"10.0.0.2", 80, "/"}));
  EXPECT_EQ(*resolve_location("http://10.0.0.2:81?a=b", kCur), (OriginTarget{"10.0.0.2", 81, "/?a=b"}));
  EXPECT_EQ(*resolve_location("http://[::1]:8082/s.m3u8", kCur), (OriginTarget{"::1", 8082, "/s.m3u8"}));
  EXPECT_EQ(*resolve_location("http://[::1]/s.m3u8", kCur), (OriginTarget{"::1", 80, "/s.m3u8"}));
}

TEST(Location, RelativeToTheCurrentRequest) {
  EXPECT_EQ(*resolve_location("/hls/s.m3u8", kCur), (OriginTarget{"10.0.0.1", 8080, "/hls/s.m3u8"}));
  EXPECT_EQ(*resolve_location("s/index.m3u8?t=3", kCur), (OriginTarget{"10.0.0.1", 8080, "/live/s/index.m3u8?t=3"}));
}

TEST(Location, Refused) {
  for (const char* bad : {"https://10.0.0.2/s.m3u8", "rtmp://10.0.0.2/live", "//10.0.0.2/s.m3u8",
                          "http://origin.example/s.m3u8", "http:///s.m3u8", "http://10.0.0.2:0/",
                          "http://10.0.0.2:65536/", "http://10.0.0.2:99999/", "http://10.0.0.2:-1/",
                          "http://10.0.0.2:80x/", "http://10.0.0.2:/", "http://[::1/", "http://[]/",
                          "http://[::1]x/", "http://[::1]:/", "http://::1/", "/a b.m3u8", "/a\tb", "s.m3u8\r",
                          "http://10.0.0.2/a\x7f"}) {
    EXPECT_FALSE(resolve_location(bad, kCur).ok()) << bad;
  }
  EXPECT_FALSE(resolve_location(std::string_view("/a\0b", 4), kCur).ok());
}
