// Static-file helpers: traversal refusal, MIME types, single byte ranges.
#include "http/http_static.h"

#include <gtest/gtest.h>

using namespace sp;

TEST(HttpStaticTest, RelativePaths) {
  EXPECT_EQ(*static_relative_path("/crossdomain.xml"), "crossdomain.xml");
  EXPECT_EQ(*static_relative_path("/players/srs_player.html"), "players/srs_player.html");
  EXPECT_EQ(*static_relative_path("/"), "index.html");
  EXPECT_EQ(*static_relative_path("/players/"), "players/index.html");
  EXPECT_EQ(*static_relative_path("//a/./b"), "a/b");
  EXPECT_EQ(*static_relative_path("/a%20b.txt"), "a b.txt");
}

TEST(HttpStaticTest, RefusesTraversal) {
  for (const char* bad : {"/../etc/passwd", "/a/../../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E/x",
                          "/a/%2e%2e/%2e%2e/x", "/..", "/a\\..\\b", "/a%00.html", "/a/..%2f..%2fetc", "relative"}) {
    EXPECT_FALSE(static_relative_path(bad).ok()) << bad;
  }
}

TEST(HttpStaticTest, MimeTypes) {
  EXPECT_EQ(mime_type_for("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(mime_type_for("crossdomain.xml"), "text/xml");
  EXPECT_EQ(mime_type_for("a/b/player.JS"), "application/javascript");
  EXPECT_EQ(mime_type_for("s.m3u8"), "application/vnd.apple.mpegurl");
  EXPECT_EQ(mime_type_for("seg.ts"), "video/mp2t");
  EXPECT_EQ(mime_type_for("noext"), "application/octet-stream");
  EXPECT_EQ(mime_type_for("dir.d/noext"), "application/octet-stream");
}

TEST(HttpStaticTest, Ranges) {
  auto r = parse_byte_range("bytes=0-99", 1000);
  EXPECT_EQ(r.kind, ByteRange::kRange);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 99u);
  r = parse_byte_range("bytes=900-", 1000);
  EXPECT_EQ(r.first, 900u);
  EXPECT_EQ(r.last, 999u);
  r = parse_byte_range("bytes=-100", 1000);
  EXPECT_EQ(r.first, 900u);
  EXPECT_EQ(r.last, 999u);
  r = parse_byte_range("bytes=-5000", 1000);
  EXPECT_EQ(r.first, 0u);
  r = parse_byte_range("bytes=500-5000", 1000);
  EXPECT_EQ(r.last, 999u);
  EXPECT_EQ(parse_byte_range("bytes=1000-", 1000).kind, ByteRange::kUnsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=0-", 0).kind, ByteRange::kUnsatisfiable);
  EXPECT_EQ(parse_byte_range("", 1000).kind, ByteRange::kNone);
  EXPECT_EQ(parse_byte_range("items=0-1", 1000).kind, ByteRange::kNone);
  EXPECT_EQ(parse_byte_range("bytes=0-1,5-6", 1000).kind, ByteRange::kNone);
  EXPECT_EQ(parse_byte_range("bytes=5-1", 1000).kind, ByteRange::kNone);
  EXPECT_EQ(parse_byte_range("bytes=x-1", 1000).kind, ByteRange::kNone);
}
