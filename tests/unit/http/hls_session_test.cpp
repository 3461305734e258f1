// HLS session records (hls_session.h): print and parse back, refusal of
// records no worker wrote, path mapping after a redirect into another
// directory, the viewer fingerprint.
#include "http/hls_session.h"

#include <gtest/gtest.h>

using namespace sp;

TEST(HlsSession, DataRoundTrips) {
  HlsSessionRoute plain{"127.0.0.1", 8080, {}, {}};
  EXPECT_EQ(hls_session_data(plain), "127.0.0.1 8080");
  EXPECT_EQ(*parse_hls_session_data("127.0.0.1 8080"), plain);
  HlsSessionRoute mapped{"::1", 80, "/live/s.m3u8", "/hls/live/"};
  EXPECT_EQ(hls_session_data(mapped), "::1 80 /live/s.m3u8 /hls/live/");
  EXPECT_EQ(*parse_hls_session_data(hls_session_data(mapped)), mapped);
  EXPECT_EQ(parse_hls_session_data("h 65535")->port, 65535);
}

TEST(HlsSession, RefusesBadData) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1 ", " 80", "127.0.0.1 0", "127.0.0.1 65536", "127.0.0.1 80x",
                          "127.0.0.1 -1", "127.0.0.1 +80", "127.0.0.1 080", "127.0.0.1  80", "127.0.0.1 80 /a",
                          "127.0.0.1 80 /a/b.m3u8 /c/ /d", "127.0.0.1 80 a.m3u8 /c/", "127.0.0.1 80 /a.m3u8 c/",
                          "127.0.0.1 80 /a.m3u8 ", "127.0.0.1 80  /c/"}) {
    EXPECT_FALSE(parse_hls_session_data(bad).ok()) << '"' << bad << '"';
  }
}

TEST(HlsSession, RouteKeepsMappingOnlyForAnotherDirectory) {
  auto r = make_hls_session_route("10.0.0.1", 80, "/live/s.m3u8", "/hls/live/s/index.m3u8?t=1", true);
  EXPECT_EQ(r.client_path, "/live/s.m3u8");
  EXPECT_EQ(r.origin_dir, "/hls/live/s/");
  // Same directory, or no redirect: nothing to map.
  r = make_hls_session_route("10.0.0.1", 80, "/live/s.m3u8", "/live/t.m3u8", true);
  EXPECT_TRUE(r.origin_dir.empty() && r.client_path.empty());
  r = make_hls_session_route("10.0.0.1", 80, "/live/s.m3u8", "/other/s.m3u8", false);
  EXPECT_TRUE(r.origin_dir.empty() && r.client_path.empty());
}

TEST(HlsSession, MapsPathsIntoTheOriginDirectory) {
  HlsSessionRoute r{"10.0.0.1", 80, "/live/s.m3u8", "/hls/live/s/"};
  EXPECT_EQ(map_hls_session_path(r, "/live/s.m3u8"), "/live/s.m3u8");  // the playlist: redirected again
  EXPECT_EQ(map_hls_session_path(r, "/live/s-1.ts"), "/hls/live/s/s-1.ts");
  EXPECT_EQ(map_hls_session_path(r, "/live/sub/x.ts"), "/hls/live/s/sub/x.ts");
  EXPECT_EQ(map_hls_session_path(r, "/elsewhere/x.ts"), "/elsewhere/x.ts");
  HlsSessionRoute none{"10.0.0.1", 80, {}, {}};
  EXPECT_EQ(map_hls_session_path(none, "/live/s-1.ts"), "/live/s-1.ts");
}

TEST(HlsSession, DirOf) {
  EXPECT_EQ(url_dir_of("/a/b.m3u8?x=/y/"), "/a/");
  EXPECT_EQ(url_dir_of("/b.m3u8"), "/");
  EXPECT_EQ(url_dir_of("b"), "");
  EXPECT_EQ(url_dir_of(""), "");
}

TEST(HlsSession, FingerprintIsKeyedAndStable) {
  std::string a = hls_client_fingerprint("secret", "127.0.0.1", "ffmpeg", "__defaultVhost__/live/s");
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a, hls_client_fingerprint("secret", "127.0.0.1", "ffmpeg", "__defaultVhost__/live/s"));
  EXPECT_NE(a, hls_client_fingerprint("other", "127.0.0.1", "ffmpeg", "__defaultVhost__/live/s"));
  EXPECT_NE(a, hls_client_fingerprint("secret", "127.0.0.2", "ffmpeg", "__defaultVhost__/live/s"));
  EXPECT_NE(a, hls_client_fingerprint("secret", "127.0.0.1", "vlc", "__defaultVhost__/live/s"));
  unsigned char b[] = {0x00, 0x9f, 0xff};
  EXPECT_EQ(hex_string(b, 3), "009fff");
}
