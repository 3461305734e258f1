// Routing of HTTP stream requests (stream_route.h): every kind, first match
// wins, stream keys from the path or SRS's ?app=&stream= form.
#include "http/stream_route.h"

#include <gtest/gtest.h>

using namespace sp;

namespace {

StreamRoute route(std::string_view method, std::string_view target, std::string_view host = "127.0.0.1:8080") {
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  return route_stream_request(method, target, path, query, host);
}

}  // namespace

TEST(StreamRoute, MethodsFirst) {
  EXPECT_EQ(route("OPTIONS", "/live/s.flv").kind, StreamRoute::kOptions);
  EXPECT_EQ(route("POST", "/live/s.flv").kind, StreamRoute::kMethodNotAllowed);
  EXPECT_EQ(route("DELETE", "/api/v1/versions").kind, StreamRoute::kMethodNotAllowed);
  EXPECT_EQ(route("get", "/live/s.flv").kind, StreamRoute::kMethodNotAllowed);  // methods are case-sensitive
}

TEST(StreamRoute, Versions) {
  EXPECT_EQ(route("GET", "/api/v1/versions").kind, StreamRoute::kVersions);
  EXPECT_EQ(route("HEAD", "/api/v1/versions/").kind, StreamRoute::kVersions);
  EXPECT_EQ(route("GET", "/api/v1/versions/x").kind, StreamRoute::kStatic);
}

TEST(StreamRoute, HlsSessionWinsOverExtensions) {
  auto r = route("GET", "/live/s-1.ts?spbhid=0123456789abcdef");
  EXPECT_EQ(r.kind, StreamRoute::kHlsSession);
  EXPECT_EQ(r.hls_id, "0123456789abcdef");
  r = route("GET", "/players/x.html?a=1&spbhid=");
  EXPECT_EQ(r.kind, StreamRoute::kHlsSession);
  EXPECT_EQ(r.hls_id, "");
}

TEST(StreamRoute, LiveAndHlsByExtension) {
  for (const char* t : {"/live/s.flv", "/live/s.ts", "/live/s.aac?x=1", "/live/s.mp3"}) {
    auto r = route("GET", t);
    EXPECT_EQ(r.kind, StreamRoute::kLive) << t;
    EXPECT_EQ(r.key, "__defaultVhost__/live/s") << t;
  }
  EXPECT_EQ(route("GET", "/live/s.FLV").kind, StreamRoute::kLive);  // extensions in any case
  auto r = route("HEAD", "/live/s.m3u8", "Live.Example.com");
  EXPECT_EQ(r.kind, StreamRoute::kNewHls);
  EXPECT_EQ(r.key, "live.example.com/live/s");
}

TEST(StreamRoute, SrsQueryForm) {
  auto r = route("GET", "/?app=live&stream=s.flv");
  EXPECT_EQ(r.kind, StreamRoute::kLive);
  EXPECT_EQ(r.key, "__defaultVhost__/live/s");
  r = route("GET", "/x?app=live&stream=s.m3u8");
  EXPECT_EQ(r.kind, StreamRoute::kNewHls);
  EXPECT_EQ(r.key, "__defaultVhost__/live/s");
  r = route("GET", "/x.m3u8?app=live&stream=s");
  EXPECT_EQ(r.kind, StreamRoute::kNewHls);
  // An empty app or stream: the path decides.
  EXPECT_EQ(route("GET", "/index.html?app=&stream=s.flv").kind, StreamRoute::kStatic);
}

TEST(StreamRoute, BadKeysAre400) {
  auto r = route("GET", "/s.flv");
  EXPECT_EQ(r.kind, StreamRoute::kBadRequest);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(route("GET", "/a//b/s.m3u8").kind, StreamRoute::kBadRequest);
}

TEST(StreamRoute, EverythingElseIsStatic) {
  for (const char* t : {"/", "/index.html", "/crossdomain.xml", "/live/s", "/live/s.mp4", "/live.flv/x"}) {
    EXPECT_EQ(route("GET", t).kind, StreamRoute::kStatic) << t;
  }
}

TEST(StreamRoute, Extension) {
  EXPECT_EQ(url_extension("/a/b.FLV"), "flv");
  EXPECT_EQ(url_extension("/a.d/b"), "");
  EXPECT_EQ(url_extension("/a/b."), "");
  EXPECT_EQ(url_extension("s.tar.gz"), "gz");
}
