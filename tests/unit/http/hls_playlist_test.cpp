// Tests for src/http/hls_playlist: playlists captured from nginx-rtmp and
// ffmpeg, hand-written LL-HLS and master playlists, and the URI edge cases
// the original proxy got wrong ("?spbhid=x&&...").
#include "http/hls_playlist.h"
#include "test_files.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace sp {
namespace {

std::string read_fixture(const std::string& name) {
  return testing::read_source_file("tests/fixtures/hls/" + name);
}

size_t count(std::string_view text, std::string_view what) { return testing::count_of(text, what); }

HlsPlaylistRewrite rewrite_ok(std::string_view text, std::string_view id = "abc123") {
  Result<HlsPlaylistRewrite> r = rewrite_hls_playlist(text, id);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? *r : HlsPlaylistRewrite{};
}

TEST(HlsPlaylistTest, UriWithSessionQueryCases) {
  EXPECT_EQ(hls_uri_with_session("seg.ts", "ID"), "seg.ts?spbhid=ID");
  EXPECT_EQ(hls_uri_with_session("seg.ts?a=1", "ID"), "seg.ts?a=1&spbhid=ID");
  EXPECT_EQ(hls_uri_with_session("seg.ts?", "ID"), "seg.ts?spbhid=ID");
  EXPECT_EQ(hls_uri_with_session("seg.ts?a=1&", "ID"), "seg.ts?a=1&spbhid=ID");
  // The origin's own query passes byte for byte; the proxy never adds a "&&".
  EXPECT_EQ(hls_uri_with_session("seg.ts?a=1&&b=2", "ID"), "seg.ts?a=1&&b=2&spbhid=ID");
  EXPECT_EQ(hls_uri_with_session("seg.ts?&a=1", "ID"), "seg.ts?&a=1&spbhid=ID");
}

TEST(HlsPlaylistTest, UriWithSessionReplacesExistingId) {
  EXPECT_EQ(hls_uri_with_session("seg.ts?spbhid=old", "ID"), "seg.ts?spbhid=ID");
  EXPECT_EQ(hls_uri_with_session("seg.ts?spbhid=old&a=1", "ID"), "seg.ts?spbhid=ID&a=1");
  EXPECT_EQ(hls_uri_with_session("seg.ts?a=1&spbhid=x&b=2&spbhid=y", "ID"), "seg.ts?a=1&spbhid=ID&b=2");
  EXPECT_EQ(hls_uri_with_session("seg.ts?spbhid", "ID"), "seg.ts?spbhid=ID");
  // Only the exact name: "xspbhid" and "spbhid2" are other parameters.
  EXPECT_EQ(hls_uri_with_session("seg.ts?xspbhid=1&spbhid2=2", "ID"), "seg.ts?xspbhid=1&spbhid2=2&spbhid=ID");
}

TEST(HlsPlaylistTest, UriWithSessionKeepsFragmentAndEncodesId) {
  EXPECT_EQ(hls_uri_with_session("seg.ts#t=10", "ID"), "seg.ts?spbhid=ID#t=10");
  EXPECT_EQ(hls_uri_with_session("seg.ts?a=1#t=10", "ID"), "seg.ts?a=1&spbhid=ID#t=10");
  EXPECT_EQ(hls_uri_with_session("seg.ts?#x", "ID"), "seg.ts?spbhid=ID#x");
  EXPECT_EQ(hls_uri_with_session("seg.ts", "a b&c"), "seg.ts?spbhid=a%20b%26c");
}

TEST(HlsPlaylistTest, WhichUrisGoToTheProxy) {
  EXPECT_TRUE(hls_uri_goes_to_proxy("seg.ts"));
  EXPECT_TRUE(hls_uri_goes_to_proxy("../1M/seg.ts"));
  EXPECT_TRUE(hls_uri_goes_to_proxy("/live/seg.ts"));
  EXPECT_TRUE(hls_uri_goes_to_proxy("seg-1.ts?t=a:b"));  // ':' after '?' is no scheme
  EXPECT_TRUE(hls_uri_goes_to_proxy("a/b:c.ts"));       // ':' after '/' is no scheme
  EXPECT_TRUE(hls_uri_goes_to_proxy("2024-01-01.ts"));
  EXPECT_FALSE(hls_uri_goes_to_proxy("http://cdn.example.com/seg.ts"));
  EXPECT_FALSE(hls_uri_goes_to_proxy("HTTPS://cdn.example.com/seg.ts"));
  EXPECT_FALSE(hls_uri_goes_to_proxy("//cdn.example.com/seg.ts"));
  EXPECT_FALSE(hls_uri_goes_to_proxy("skd://key65"));
  EXPECT_FALSE(hls_uri_goes_to_proxy("data:text/plain;base64,AAAA"));
  EXPECT_FALSE(hls_uri_goes_to_proxy(""));
}

TEST(HlsPlaylistTest, RewritesRealNginxRtmpPlaylist) {
  std::string in = read_fixture("nginx_rtmp_live.m3u8");
  HlsPlaylistRewrite r = rewrite_ok(in, "f00dbeef");
  EXPECT_EQ(r.uris_rewritten, 3);
  EXPECT_EQ(r.text,
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-MEDIA-SEQUENCE:0\n"
            "#EXT-X-TARGETDURATION:1\n"
            "#EXT-X-DISCONTINUITY\n"
            "#EXTINF:1.000,\n"
            "s-0.ts?spbhid=f00dbeef\n"
            "#EXTINF:1.000,\n"
            "s-1.ts?spbhid=f00dbeef\n"
            "#EXTINF:1.000,\n"
            "s-2.ts?spbhid=f00dbeef\n");
  EXPECT_EQ(*hls_playlist_kind(in), HlsPlaylistKind::kMedia);
}

TEST(HlsPlaylistTest, EveryNginxSegmentLineGetsExactlyOneId) {
  std::string in = read_fixture("nginx_rtmp_ended.m3u8");
  HlsPlaylistRewrite r = rewrite_ok(in);
  EXPECT_EQ(r.uris_rewritten, int(count(in, ".ts")));
  EXPECT_EQ(count(r.text, "spbhid="), count(in, ".ts"));
  EXPECT_EQ(count(r.text, "&&"), 0u);
  EXPECT_EQ(count(r.text, "\n"), count(in, "\n"));
  // Rewriting the rewritten playlist again (a session re-fetch) changes nothing.
  EXPECT_EQ(rewrite_ok(r.text).text, r.text);
}

TEST(HlsPlaylistTest, RewritesRealFfmpegFmp4Playlist) {
  std::string in = read_fixture("ffmpeg_fmp4_media.m3u8");
  HlsPlaylistRewrite r = rewrite_ok(in, "S1");
  EXPECT_EQ(r.uris_rewritten, 5);
  EXPECT_NE(r.text.find("#EXT-X-MAP:URI=\"init_0.mp4?spbhid=S1\"\n"), std::string::npos);
  EXPECT_NE(r.text.find("\nseg0.m4s?spbhid=S1\n"), std::string::npos);
  EXPECT_NE(r.text.find("\nseg3.m4s?spbhid=S1\n#EXT-X-ENDLIST"), std::string::npos);
  EXPECT_EQ(*hls_playlist_kind(in), HlsPlaylistKind::kMedia);
}

TEST(HlsPlaylistTest, RewritesRealFfmpegMasterPlaylist) {
  std::string in = read_fixture("ffmpeg_master.m3u8");
  HlsPlaylistRewrite r = rewrite_ok(in, "S1");
  EXPECT_EQ(r.uris_rewritten, 2);
  EXPECT_EQ(r.text,
            "#EXTM3U\n"
            "#EXT-X-VERSION:7\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=625900,RESOLUTION=320x240,CODECS=\"avc1.f4000d,mp4a.40.2\"\n"
            "v0/index.m3u8?spbhid=S1\n"
            "\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=295900,RESOLUTION=160x120,CODECS=\"avc1.f4000b,mp4a.40.2\"\n"
            "v1/index.m3u8?spbhid=S1\n"
            "\n");
  EXPECT_EQ(*hls_playlist_kind(in), HlsPlaylistKind::kMaster);
}

TEST(HlsPlaylistTest, RewritesLowLatencyTagsAndKeepsCrlf) {
  HlsPlaylistRewrite r = rewrite_ok(read_fixture("ll_hls_media.m3u8"), "ID");
  EXPECT_EQ(r.uris_rewritten, 8);
  EXPECT_EQ(r.text,
            "#EXTM3U\r\n"
            "#EXT-X-VERSION:9\r\n"
            "#EXT-X-TARGETDURATION:2\r\n"
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0\r\n"
            "#EXT-X-PART-INF:PART-TARGET=0.33334\r\n"
            "#EXT-X-MEDIA-SEQUENCE:266\r\n"
            "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin?kid=7&spbhid=ID\",IV=0x1234\r\n"
            "#EXT-X-MAP:URI=\"init.mp4?spbhid=ID\"\r\n"
            "#EXTINF:2.00000,\r\n"
            "fileSequence266.m4s?spbhid=ID\r\n"
            "#EXT-X-PART:DURATION=0.33334,URI=\"filePart267.0.m4s?spbhid=ID\"\r\n"
            "#EXT-X-PART:DURATION=0.33334,INDEPENDENT=YES,URI=\"filePart267.1.m4s?token=abc&spbhid=ID\"\r\n"
            "#EXTINF:2.00000,\r\n"
            "/live/abs/fileSequence267.m4s?token=abc&spbhid=ID\r\n"
            "#EXTINF:2.00000,\r\n"
            "https://cdn.example.com/live/fileSequence268.m4s\r\n"
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"filePart269.0.m4s?spbhid=ID\"\r\n"
            "#EXT-X-RENDITION-REPORT:URI=\"../1M/waitForMe.m3u8?spbhid=ID\",LAST-MSN=268,LAST-PART=0\r\n");
}

TEST(HlsPlaylistTest, RewritesMasterRenditions) {
  std::string in = read_fixture("master_renditions.m3u8");
  HlsPlaylistRewrite r = rewrite_ok(in, "ID");
  EXPECT_EQ(r.uris_rewritten, 4);
  EXPECT_NE(r.text.find("URI=\"skd://key65\""), std::string::npos);  // key server, not us
  EXPECT_NE(r.text.find("LANGUAGE=\"en\",URI=\"audio/en/index.m3u8?spbhid=ID\"\r\n"), std::string::npos);
  EXPECT_NE(r.text.find("\r\nvideo/hi/index.m3u8?spbhid=ID\r\n"), std::string::npos);  // stale id replaced
  EXPECT_NE(r.text.find("\r\nvideo/lo/index.m3u8?spbhid=ID\r\n"), std::string::npos);
  EXPECT_NE(r.text.find("CODECS=\"avc1.64001f\",URI=\"video/hi/iframes.m3u8?spbhid=ID\"\r\n"), std::string::npos);
  EXPECT_EQ(count(r.text, "spbhid="), 4u);
  EXPECT_EQ(count(r.text, "stale"), 0u);
  EXPECT_EQ(*hls_playlist_kind(in), HlsPlaylistKind::kMaster);
}

TEST(HlsPlaylistTest, UriInsideAnotherQuotedAttributeIsNotTouched) {
  std::string in =
      "#EXTM3U\n"
      "#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"a,URI=x\",X-URI=\"y\",GROUP-ID=\"g\",URI=\"a.m3u8\"\n"
      "#EXTINF:1.0,URI=\"title.ts\"\n"
      "#EXT-X-KEY:METHOD=NONE\n"
      "#EXT-X-MAP:URI=\"unterminated\n"
      "#EXT-X-MAP:URI=unquoted.mp4\n";
  HlsPlaylistRewrite r = rewrite_ok(in, "ID");
  EXPECT_EQ(r.uris_rewritten, 1);
  EXPECT_EQ(r.text,
            "#EXTM3U\n"
            "#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"a,URI=x\",X-URI=\"y\",GROUP-ID=\"g\",URI=\"a.m3u8?spbhid=ID\"\n"
                  "#EXTINF:1.0,URI=\"title.ts\"\n"
            "#EXT-X-KEY:METHOD=NONE\n"
            "#EXT-X-MAP:URI=\"unterminated\n"
            "#EXT-X-MAP:URI=unquoted.mp4\n");
}

TEST(HlsPlaylistTest, BomWhitespaceCommentsAndMixedEndings) {
  std::string in =
      "\xEF\xBB\xBF \r\n#EXTM3U\r\n"
      "# a plain comment naming seg.ts\n"
      "#EXTINF:1.0,\r\n"
      "  seg 1.ts  \r\n"
      "\r\n"
      "#EXTINF:1.0,\n"
      "seg2.ts";  // no final newline
  HlsPlaylistRewrite r = rewrite_ok(in, "ID");
  EXPECT_EQ(r.uris_rewritten, 2);
  EXPECT_EQ(r.text,
            "\xEF\xBB\xBF \r\n#EXTM3U\r\n"
            "# a plain comment naming seg.ts\n"
            "#EXTINF:1.0,\r\n"
            "  seg 1.ts?spbhid=ID  \r\n"
            "\r\n"
            "#EXTINF:1.0,\n"
            "seg2.ts?spbhid=ID");
}

TEST(HlsPlaylistTest, KindIgnoresMediaSequencePrefix) {
  // "#EXT-X-MEDIA-SEQUENCE" starts like "#EXT-X-MEDIA" but is a media tag.
  EXPECT_EQ(*hls_playlist_kind("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:1,\na.ts\n"), HlsPlaylistKind::kMedia);
  EXPECT_EQ(*hls_playlist_kind("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"a\"\n"),
            HlsPlaylistKind::kMaster);
  EXPECT_EQ(*hls_playlist_kind("#EXTM3U\r\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"i.m3u8\"\r\n"),
            HlsPlaylistKind::kMaster);
  EXPECT_EQ(*hls_playlist_kind("#EXTM3U"), HlsPlaylistKind::kMedia);
}

TEST(HlsPlaylistTest, RejectsTextThatIsNotAPlaylist) {
  for (std::string_view bad : {"", "\xEF\xBB\xBF", "<html>#EXTM3U", "#EXTM3UX\n", "seg.ts\n#EXTM3U\n",
                               "#EXTINF:1,\nseg.ts\n"}) {
    EXPECT_EQ(rewrite_hls_playlist(bad, "ID").error(), "playlist does not start with #EXTM3U") << bad;
    EXPECT_EQ(hls_playlist_kind(bad).error(), "playlist does not start with #EXTM3U") << bad;
  }
  EXPECT_EQ(rewrite_hls_playlist("#EXTM3U\n", "").error(), "HLS session id is empty");
}

}  // namespace
}  // namespace sp
