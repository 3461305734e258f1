// Tests for the stream-key normalisation shared by every protocol: vhost
// rules (domains, IPs, localhost, vhost= overrides), extensions and queries
// stripped, and inputs that cannot make a key.
#include "registry/stream_key.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

std::string rtmp_key(std::string_view tc_url, std::string_view name) {
  auto r = stream_key_from_rtmp(tc_url, name);
  EXPECT_TRUE(r.ok()) << tc_url << " " << name << ": " << r.error();
  return r.ok() ? *r : "";
}

std::string http_key(std::string_view host, std::string_view path) {
  auto r = stream_key_from_http(host, path);
  EXPECT_TRUE(r.ok()) << host << " " << path << ": " << r.error();
  return r.ok() ? *r : "";
}

TEST(StreamKey, VhostOfHosts) {
  EXPECT_EQ(normalize_vhost("", ""), "__defaultVhost__");
  EXPECT_EQ(normalize_vhost("127.0.0.1", ""), "__defaultVhost__");
  EXPECT_EQ(normalize_vhost("127.0.0.1:1935", ""), "__defaultVhost__");
  EXPECT_EQ(normalize_vhost("localhost", ""), "__defaultVhost__");
  EXPECT_EQ(normalize_vhost("LocalHost:8080", ""), "__defaultVhost__");
  EXPECT_EQ(normalize_vhost("[::1]:8080", ""), "__defaultVhost__");
  EXPECT_EQ(normalize_vhost("[::1]", ""), "__defaultVhost__");
  EXPECT_EQ(normalize_vhost("::1", ""), "__defaultVhost__");
  EXPECT_EQ(normalize_vhost("fe80::1:2", ""), "__defaultVhost__");
  EXPECT_EQ(normalize_vhost("Live.Example.COM", ""), "live.example.com");
  EXPECT_EQ(normalize_vhost("live.example.com:1935", ""), "live.example.com");
}

TEST(StreamKey, VhostQueryOverrides) {
  EXPECT_EQ(normalize_vhost("127.0.0.1", "vhost=a.com"), "a.com");
  EXPECT_EQ(normalize_vhost("b.com", "?token=1&vhost=a.com&x=2"), "a.com");
  EXPECT_EQ(normalize_vhost("b.com", "token=1"), "b.com");
  EXPECT_EQ(normalize_vhost("b.com", "myvhost=a.com"), "b.com");
  EXPECT_EQ(normalize_vhost("b.com", "vhost="), "b.com");
  EXPECT_EQ(normalize_vhost("b.com", "vhost=__defaultVhost__"), "__defaultVhost__");
}

TEST(StreamKey, RtmpTcUrls) {
  EXPECT_EQ(rtmp_key("rtmp://127.0.0.1/live", "livestream"), "__defaultVhost__/live/livestream");
  EXPECT_EQ(rtmp_key("rtmp://127.0.0.1:1935/live", "livestream"), "__defaultVhost__/live/livestream");
  EXPECT_EQ(rtmp_key("rtmp://localhost:1935/live/", "livestream"), "__defaultVhost__/live/livestream");
  EXPECT_EQ(rtmp_key("rtmp://ossrs.net:1935/live", "livestream"), "ossrs.net/live/livestream");
  EXPECT_EQ(rtmp_key("rtmp://OSSRS.net/live", "livestream"), "ossrs.net/live/livestream");
  EXPECT_EQ(rtmp_key("rtmp://[::1]:1935/live", "s"), "__defaultVhost__/live/s");
}

TEST(StreamKey, RtmpQueriesNeverInKey) {
  EXPECT_EQ(rtmp_key("rtmp://127.0.0.1/live", "livestream?token=abc&x=1"), "__defaultVhost__/live/livestream");
  EXPECT_EQ(rtmp_key("rtmp://127.0.0.1/live?secret=1", "s"), "__defaultVhost__/live/s");
}

TEST(StreamKey, RtmpVhostParams) {
  // In the tcUrl query.
  EXPECT_EQ(rtmp_key("rtmp://127.0.0.1:1935/live?vhost=v.com", "s"), "v.com/live/s");
  // SRS style: the app itself written "app?vhost=x" (same shape on the wire).
  EXPECT_EQ(rtmp_key("rtmp://127.0.0.1/live?vhost=v.com&token=9", "s"), "v.com/live/s");
  // In the stream name, which wins over the tcUrl.
  EXPECT_EQ(rtmp_key("rtmp://127.0.0.1/live?vhost=a.com", "s?vhost=b.com"), "b.com/live/s");
  EXPECT_EQ(rtmp_key("rtmp://d.com/live", "s?vhost=b.com"), "b.com/live/s");
}

TEST(StreamKey, MakeStreamKeyAppQueryAndExtraQuery) {
  EXPECT_EQ(*make_stream_key("127.0.0.1", "live?vhost=x.com", "s"), "x.com/live/s");
  EXPECT_EQ(*make_stream_key("127.0.0.1", "live", "s", "vhost=y.com"), "y.com/live/s");
  EXPECT_EQ(*make_stream_key("127.0.0.1", "live?vhost=x.com", "s", "vhost=y.com"), "x.com/live/s");
}

TEST(StreamKey, RtmpNestedApps) {
  EXPECT_EQ(rtmp_key("rtmp://127.0.0.1/live/sub", "s"), "__defaultVhost__/live/sub/s");
  // Slashes in the stream name move to the app, agreeing with HTTP paths.
  EXPECT_EQ(rtmp_key("rtmp://127.0.0.1/live", "sub/s"), "__defaultVhost__/live/sub/s");
  EXPECT_EQ(http_key("127.0.0.1", "/live/sub/s.flv"), "__defaultVhost__/live/sub/s");
}

TEST(StreamKey, HttpPaths) {
  EXPECT_EQ(http_key("127.0.0.1:8080", "/live/livestream.flv"), "__defaultVhost__/live/livestream");
  EXPECT_EQ(http_key("localhost", "/live/livestream.m3u8"), "__defaultVhost__/live/livestream");
  EXPECT_EQ(http_key("", "/live/livestream.ts"), "__defaultVhost__/live/livestream");
  EXPECT_EQ(http_key("example.com", "/live/livestream.aac"), "example.com/live/livestream");
  EXPECT_EQ(http_key("example.com:8080", "/live/livestream.mp3"), "example.com/live/livestream");
  EXPECT_EQ(http_key("example.com", "/live/livestream-1.m4s"), "example.com/live/livestream-1");
  EXPECT_EQ(http_key("example.com", "/live/livestream.mp4"), "example.com/live/livestream");
  EXPECT_EQ(http_key("[::1]:8080", "/live/livestream.flv?token=1"), "__defaultVhost__/live/livestream");
  EXPECT_EQ(http_key("127.0.0.1", "/live/livestream.flv?vhost=a.com&token=1"), "a.com/live/livestream");
}

TEST(StreamKey, OnlyMediaExtensionsAreStripped) {
  EXPECT_EQ(http_key("h.com", "/live/stream.v2"), "h.com/live/stream.v2");
  EXPECT_EQ(http_key("h.com", "/live/stream.flv.flv"), "h.com/live/stream.flv");
  // Every protocol agrees on one key.
  EXPECT_EQ(rtmp_key("rtmp://h.com/live", "stream"), http_key("h.com:8080", "/live/stream.m3u8"));
}

TEST(StreamKey, RejectsBadInputs) {
  // Every refusal is bad input (HTTP 400, SRT 1400).
  EXPECT_EQ(stream_key_from_rtmp("rtmp://127.0.0.1/live", "a b").kind(), ErrorKind::bad_input);
  EXPECT_EQ(stream_key_from_http("127.0.0.1", "/s.flv").kind(), ErrorKind::bad_input);
  EXPECT_EQ(make_stream_key("", "live", "").kind(), ErrorKind::bad_input);
  EXPECT_FALSE(stream_key_from_rtmp("127.0.0.1/live", "s").ok());          // no scheme
  EXPECT_FALSE(stream_key_from_rtmp("rtmp://127.0.0.1", "s").ok());        // no app
  EXPECT_FALSE(stream_key_from_rtmp("rtmp://127.0.0.1/", "s").ok());       // empty app
  EXPECT_FALSE(stream_key_from_rtmp("rtmp:///live", "s").ok());            // no host
  EXPECT_FALSE(stream_key_from_rtmp("rtmp://127.0.0.1/live", "").ok());    // no stream
  EXPECT_FALSE(stream_key_from_rtmp("rtmp://127.0.0.1/live", "?a=1").ok());
  EXPECT_FALSE(stream_key_from_rtmp("rtmp://127.0.0.1/live", "a b").ok());
  EXPECT_FALSE(stream_key_from_rtmp("rtmp://127.0.0.1/live", "a\nb").ok());
  EXPECT_FALSE(stream_key_from_rtmp("rtmp://127.0.0.1/../x", "s").ok());
  EXPECT_FALSE(stream_key_from_rtmp("rtmp://127.0.0.1/live", "..").ok());
  EXPECT_FALSE(stream_key_from_http("127.0.0.1", "live/s.flv").ok());      // not absolute
  EXPECT_FALSE(stream_key_from_http("127.0.0.1", "/s.flv").ok());          // no app
  EXPECT_FALSE(stream_key_from_http("127.0.0.1", "/live/").ok());          // no stream
  EXPECT_FALSE(stream_key_from_http("127.0.0.1", "/a//b/s.flv").ok());     // empty segment
  EXPECT_FALSE(stream_key_from_http("bad host", "/live/s.flv").ok());      // bad vhost
  EXPECT_FALSE(stream_key_from_http("127.0.0.1", "").ok());
  EXPECT_FALSE(make_stream_key("h.com", "", "s").ok());
  EXPECT_FALSE(make_stream_key("h.com", "live", ".flv").ok());
  auto r = make_stream_key("h.com", "live", "a\"b");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("stream"), std::string::npos) << r.error();
}

TEST(StreamKey, EveryPartFollowsTheSameRule) {
  // The vhost, from Host, ?vhost= (HTTP and RTMP) or the app's query.
  for (const char* vhost : {"%00x", "a%2fb", "%2e%2e", "a%20b", "a..b", ".a", "a.", "a:b:c", "a%41",
                            "x\x01y", "\xc3\xa9.com"}) {
    std::string q = std::string("vhost=") + vhost;
    EXPECT_FALSE(make_stream_key("h.com", "live", "s", q).ok()) << vhost;
    EXPECT_FALSE(stream_key_from_http("127.0.0.1", "/live/s.flv?" + q).ok()) << vhost;
    EXPECT_FALSE(stream_key_from_rtmp("rtmp://127.0.0.1/live?" + q, "s").ok()) << vhost;
    EXPECT_FALSE(stream_key_from_rtmp("rtmp://127.0.0.1/live", "s?" + q).ok()) << vhost;
    EXPECT_FALSE(stream_key_from_http(vhost, "/live/s.flv").ok()) << vhost;
  }
  // App and stream: escapes are read as an origin that decodes them would.
  for (const char* part : {"%00x", "a%2fb", "a%2Fb", "%2e%2e", "%2e", ".%2e", "a%20b", "a%3fb", "a%5cb", "%", "a%2",
                           "a%zz", "a%0a"}) {
    EXPECT_FALSE(make_stream_key("h.com", "live", part).ok()) << part;
    EXPECT_FALSE(make_stream_key("h.com", part, "s").ok()) << part;
    EXPECT_FALSE(make_stream_key("h.com", std::string("live/") + part, "s").ok()) << part;
    EXPECT_FALSE(stream_key_from_http("h.com", std::string("/live/") + part + ".flv").ok()) << part;
    EXPECT_FALSE(stream_key_from_rtmp("rtmp://h.com/live", part).ok()) << part;
  }
  auto r = make_stream_key("h.com", "live", "s", "vhost=%00x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("vhost"), std::string::npos) << r.error();
  // Errors are logged: client bytes in them are escaped and bounded.
  r = stream_key_from_rtmp("rtmp://h.com/live", "a\nfake log line\x01\xff\"");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "invalid stream name \"a\\x0afake log line\\x01\\xff\\x22\"");
  r = stream_key_from_http("h.com", std::string(5000, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.error().size(), 300u) << r.error();
}

TEST(StreamKey, HarmlessEscapesAndNamesStillPass) {
  // Escaped UTF-8 and escaped ordinary characters stay as written.
  EXPECT_EQ(*make_stream_key("h.com", "live", "%E6%BA%90"), "h.com/live/%E6%BA%90");
  EXPECT_EQ(*make_stream_key("h.com", "live", "a%2db"), "h.com/live/a%2db");
  EXPECT_EQ(*make_stream_key("h.com", "live", "a%2e"), "h.com/live/a%2e");
  EXPECT_EQ(*make_stream_key("Live-1_x.Example.com:80", "live", "s"), "live-1_x.example.com/live/s");
  EXPECT_EQ(*make_stream_key("h.com", "live", "s", "vhost=__defaultVhost__"), "__defaultVhost__/live/s");
  EXPECT_EQ(*make_stream_key("h.com", "live", "s", "vhost=a-b.c_d.com"), "a-b.c_d.com/live/s");
}

}  // namespace
}  // namespace sp
