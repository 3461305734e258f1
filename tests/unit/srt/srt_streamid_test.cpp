// Tests for src/srt/streamid: every form SRS and libsrt callers send (the
// strings ffmpeg, OBS and srt-live-transmit put after "?streamid="), and the
// malformed ones the listener must reject.
#include "srt/streamid.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sp {
namespace {

using Extra = std::vector<std::pair<std::string, std::string>>;

SrtStreamId parse_ok(std::string_view text) {
  Result<SrtStreamId> r = parse_srt_streamid(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.error();
  return r.ok() ? *r : SrtStreamId{};
}

std::string parse_error(std::string_view text) {
  Result<SrtStreamId> r = parse_srt_streamid(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.error();
}

TEST(SrtStreamIdTest, KeyValueFormWithEverything) {
  SrtStreamId id = parse_ok("#!::r=live/livestream,m=publish,h=srs.example.com");
  EXPECT_EQ(id.vhost, "srs.example.com");
  EXPECT_EQ(id.app, "live");
  EXPECT_EQ(id.stream, "livestream");
  EXPECT_EQ(id.query, "");
  EXPECT_EQ(id.mode, SrtMode::kPublish);
  EXPECT_TRUE(id.extra.empty());
}

TEST(SrtStreamIdTest, KeysInAnyOrder) {
  SrtStreamId id = parse_ok("#!::h=v.com,m=publish,r=app/s");
  EXPECT_EQ(id.vhost, "v.com");
  EXPECT_EQ(id.app, "app");
  EXPECT_EQ(id.stream, "s");
  EXPECT_EQ(id.mode, SrtMode::kPublish);
  SrtStreamId id2 = parse_ok("#!::m=request,r=app/s");
  EXPECT_EQ(id2.mode, SrtMode::kRequest);
  EXPECT_EQ(id2.vhost, "");
}

TEST(SrtStreamIdTest, ModeDefaultsToRequestAndIgnoresCase) {
  EXPECT_EQ(parse_ok("#!::r=live/s").mode, SrtMode::kRequest);
  EXPECT_EQ(parse_ok("#!::r=live/s,m=PUBLISH").mode, SrtMode::kPublish);
  EXPECT_EQ(parse_ok("#!::r=live/s,m=Request").mode, SrtMode::kRequest);
}

TEST(SrtStreamIdTest, ExtraKeysKeptInOrder) {
  SrtStreamId id = parse_ok("#!::u=alice,r=live/s,t=stream,s=abc123,m=publish,secret=x=y");
  EXPECT_EQ(id.extra, (Extra{{"u", "alice"}, {"t", "stream"}, {"s", "abc123"}, {"secret", "x=y"}}));
}

TEST(SrtStreamIdTest, EmptyValueIsKept) {
  SrtStreamId id = parse_ok("#!::r=live/s,u=");
  EXPECT_EQ(id.extra, (Extra{{"u", ""}}));
}

TEST(SrtStreamIdTest, QueryOnResource) {
  SrtStreamId id = parse_ok("#!::r=live/s?secret=abc&vhost=x.com,m=publish");
  EXPECT_EQ(id.app, "live");
  EXPECT_EQ(id.stream, "s");
  EXPECT_EQ(id.query, "secret=abc&vhost=x.com");
}

TEST(SrtStreamIdTest, OldHostFormWithAppAndStream) {
  // srt://127.0.0.1:10080?streamid=#!::h=live/livestream,m=publish
  SrtStreamId id = parse_ok("#!::h=live/livestream,m=publish");
  EXPECT_EQ(id.vhost, "");
  EXPECT_EQ(id.app, "live");
  EXPECT_EQ(id.stream, "livestream");
  EXPECT_EQ(id.mode, SrtMode::kPublish);
}

TEST(SrtStreamIdTest, OldHostFormWithVhost) {
  // Two or more slashes: the first component is the vhost (SRS's rule).
  SrtStreamId id = parse_ok("#!::h=srs.srt.com.cn/live/livestream,m=request");
  EXPECT_EQ(id.vhost, "srs.srt.com.cn");
  EXPECT_EQ(id.app, "live");
  EXPECT_EQ(id.stream, "livestream");
  EXPECT_EQ(id.mode, SrtMode::kRequest);
}

TEST(SrtStreamIdTest, OldHostFormWithQuery) {
  // SRS documents #!::h=live/livestream?secret=xxx,m=publish for auth.
  SrtStreamId id = parse_ok("#!::h=live/livestream?secret=xxx,m=publish");
  EXPECT_EQ(id.app, "live");
  EXPECT_EQ(id.stream, "livestream");
  EXPECT_EQ(id.query, "secret=xxx");
  // A '/' inside the query does not count towards the vhost rule.
  SrtStreamId id2 = parse_ok("#!::h=live/s?next=/a/b");
  EXPECT_EQ(id2.vhost, "");
  EXPECT_EQ(id2.app, "live");
  EXPECT_EQ(id2.query, "next=/a/b");
}

TEST(SrtStreamIdTest, OldHostFormWithDeepPath) {
  // Three slashes: vhost, app, then the rest is the stream (as SRS does).
  SrtStreamId id = parse_ok("#!::h=v.com/live/a/b");
  EXPECT_EQ(id.vhost, "v.com");
  EXPECT_EQ(id.app, "live");
  EXPECT_EQ(id.stream, "a/b");
}

TEST(SrtStreamIdTest, ExplicitResourceWinsOverHostPath) {
  SrtStreamId id = parse_ok("#!::h=v.com/old/one,r=new/two");
  EXPECT_EQ(id.vhost, "v.com");
  EXPECT_EQ(id.app, "new");
  EXPECT_EQ(id.stream, "two");
}

TEST(SrtStreamIdTest, ResourceWithoutAppUsesDefaultApp) {
  SrtStreamId id = parse_ok("#!::r=livestream");
  EXPECT_EQ(id.app, "live");
  EXPECT_EQ(id.stream, "livestream");
}

TEST(SrtStreamIdTest, PlainAppStream) {
  SrtStreamId id = parse_ok("live/livestream");
  EXPECT_EQ(id.vhost, "");
  EXPECT_EQ(id.app, "live");
  EXPECT_EQ(id.stream, "livestream");
  EXPECT_EQ(id.mode, SrtMode::kRequest);
  EXPECT_TRUE(id.extra.empty());
}

TEST(SrtStreamIdTest, PlainStreamUsesDefaultApp) {
  SrtStreamId id = parse_ok("livestream?token=1");
  EXPECT_EQ(id.app, "live");
  EXPECT_EQ(id.stream, "livestream");
  EXPECT_EQ(id.query, "token=1");
}

TEST(SrtStreamIdTest, TrailingAndDoubleCommasTolerated) {
  SrtStreamId id = parse_ok("#!::r=live/s,,m=publish,");
  EXPECT_EQ(id.stream, "s");
  EXPECT_EQ(id.mode, SrtMode::kPublish);
}

TEST(SrtStreamIdTest, MaxLengthAccepted) {
  std::string text = "live/" + std::string(kSrtMaxStreamIdBytes - 5, 's');
  ASSERT_EQ(text.size(), kSrtMaxStreamIdBytes);
  EXPECT_EQ(parse_ok(text).stream.size(), kSrtMaxStreamIdBytes - 5);
}

TEST(SrtStreamIdTest, ModeNames) {
  EXPECT_EQ(srt_mode_name(SrtMode::kPublish), "publish");
  EXPECT_EQ(srt_mode_name(SrtMode::kRequest), "request");
}

TEST(SrtStreamIdTest, FixtureStreamIdsFromRealCallers) {
  // The streamids ffmpeg, OBS and SRS's docs use, one per line with the
  // expected vhost|app|stream|mode after a tab.
  std::ifstream in(SP_SOURCE_DIR "/tests/fixtures/srt/streamids.txt");
  ASSERT_TRUE(in.good());
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ';') continue;
    size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    SrtStreamId id = parse_ok(line.substr(0, tab));
    std::string got = id.vhost + "|" + id.app + "|" + id.stream + "|" +
                      std::string(srt_mode_name(id.mode));
    EXPECT_EQ(got, line.substr(tab + 1)) << line;
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

TEST(SrtStreamIdTest, RejectsEmpty) { EXPECT_EQ(parse_error(""), "streamid is empty"); }

TEST(SrtStreamIdTest, RejectsTooLong) {
  std::string text = "live/" + std::string(kSrtMaxStreamIdBytes, 's');
  EXPECT_NE(parse_error(text).find("longer than 512"), std::string::npos);
}

TEST(SrtStreamIdTest, RejectsPrefixWithoutResource) {
  EXPECT_NE(parse_error("#!::").find("no resource"), std::string::npos);
  EXPECT_NE(parse_error("#!::m=publish,u=a").find("no resource"), std::string::npos);
  // h= without a slash is only a vhost.
  EXPECT_NE(parse_error("#!::h=srs.example.com,m=publish").find("no resource"), std::string::npos);
}

TEST(SrtStreamIdTest, RejectsBadMode) {
  EXPECT_NE(parse_error("#!::r=live/s,m=play").find("unknown mode"), std::string::npos);
  EXPECT_NE(parse_error("#!::r=live/s,m=").find("unknown mode"), std::string::npos);
}

TEST(SrtStreamIdTest, RejectsKeyWithoutEquals) {
  EXPECT_NE(parse_error("#!::r=live/s,publish").find("has no '='"), std::string::npos);
  EXPECT_NE(parse_error("#!::=x,r=live/s").find("has no key"), std::string::npos);
}

TEST(SrtStreamIdTest, RejectsRepeatedRoutingKeys) {
  EXPECT_NE(parse_error("#!::r=live/a,r=live/b").find("repeats key r"), std::string::npos);
  EXPECT_NE(parse_error("#!::r=live/a,m=publish,m=request").find("repeats key m"),
            std::string::npos);
}

TEST(SrtStreamIdTest, RejectsEmptyAppOrStream) {
  EXPECT_NE(parse_error("live/").find("empty stream"), std::string::npos);
  EXPECT_NE(parse_error("/s").find("empty app"), std::string::npos);
  EXPECT_NE(parse_error("#!::r=live/?a=1").find("empty stream"), std::string::npos);
  EXPECT_NE(parse_error("#!::r=").find("empty stream"), std::string::npos);
  EXPECT_NE(parse_error("?a=1").find("empty stream"), std::string::npos);
  EXPECT_NE(parse_error("#!::h=v.com//s").find("empty app"), std::string::npos);
}

TEST(SrtStreamIdTest, RejectsControlCharacters) {
  EXPECT_NE(parse_error("live/s\n").find("control"), std::string::npos);
  EXPECT_NE(parse_error(std::string_view("live/s\0x", 8)).find("control"), std::string::npos);
  EXPECT_NE(parse_error("#!::r=live/s\x7f").find("control"), std::string::npos);
}

TEST(SrtStreamIdTest, RejectsOtherHashBangSyntax) {
  EXPECT_NE(parse_error("#!:{r=live/s}").find("unsupported"), std::string::npos);
}

// The proxy-loop marker (core/proxy_loop.h): what goes to the origin parses
// to the same route, keeps the caller's items and carries the chain.
constexpr uint64_t kA = 0x00000000000000aaULL;
constexpr uint64_t kB = 0x00000000000000bbULL;

std::string for_origin(std::string_view raw, uint64_t proxy) {
  SrtStreamId id = parse_ok(raw);
  Result<std::string> out = srt_streamid_for_origin(raw, id, proxy);
  EXPECT_TRUE(out.ok()) << raw << ": " << out.error();
  return out.ok() ? *out : std::string();
}

TEST(SrtStreamIdTest, OriginStreamIdAppendsTheMarker) {
  EXPECT_EQ(for_origin("#!::r=live/s?token=1,m=publish,u=me", kA),
            "#!::r=live/s?token=1,m=publish,u=me,srsproxy=00000000000000aa");
  EXPECT_EQ(for_origin("#!::h=live/s", kA), "#!::h=live/s,srsproxy=00000000000000aa");
  // Empty items and a trailing comma are tidied, nothing else changes.
  EXPECT_EQ(for_origin("#!::r=live/s,,m=request,", kA), "#!::r=live/s,m=request,srsproxy=00000000000000aa");
  // Plain forms become SRS's key-value form with the same meaning.
  EXPECT_EQ(for_origin("live/s?a=1", kA), "#!::r=live/s?a=1,srsproxy=00000000000000aa");
  EXPECT_EQ(for_origin("s", kA), "#!::r=live/s,srsproxy=00000000000000aa");
}

TEST(SrtStreamIdTest, OriginStreamIdExtendsAnExistingChain) {
  std::string hop1 = for_origin("#!::r=live/s,m=request", kA);
  std::string hop2 = for_origin(hop1, kB);
  EXPECT_EQ(hop2, "#!::r=live/s,m=request,srsproxy=00000000000000aa.00000000000000bb");
  SrtStreamId id = parse_ok(hop2);
  EXPECT_EQ(id.app, "live");
  EXPECT_EQ(id.stream, "s");
  EXPECT_EQ(srt_streamid_proxy_chain(id), "00000000000000aa.00000000000000bb");
  // Several srsproxy= items (a hand-made streamid) merge into one.
  EXPECT_EQ(for_origin("#!::srsproxy=01,r=live/s,srsproxy=02", kA), "#!::r=live/s,srsproxy=01.02.00000000000000aa");
}

TEST(SrtStreamIdTest, ProxyChainOfAStreamId) {
  EXPECT_EQ(srt_streamid_proxy_chain(parse_ok("#!::r=live/s")), "");
  EXPECT_EQ(srt_streamid_proxy_chain(parse_ok("live/s")), "");
  EXPECT_EQ(srt_streamid_proxy_chain(parse_ok("#!::r=live/s,srsproxy=")), "");
  EXPECT_EQ(srt_streamid_proxy_chain(parse_ok("#!::r=live/s,srsproxy=00000000000000aa")), "00000000000000aa");
  EXPECT_EQ(srt_streamid_proxy_chain(parse_ok("#!::r=live/s,SRSPROXY=00000000000000aa")), "");  // keys are case-sensitive
}

TEST(SrtStreamIdTest, OriginStreamIdTooLongIsAnError) {
  std::string raw = "#!::r=live/" + std::string(kSrtMaxStreamIdBytes - 20, 's');
  SrtStreamId id = parse_ok(raw);
  Result<std::string> out = srt_streamid_for_origin(raw, id, kA);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().find("longer than 512"), std::string::npos);
  // A plain streamid with a comma has no faithful key-value form.
  id = parse_ok("live/a,b");
  out = srt_streamid_for_origin("live/a,b", id, kA);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().find("','"), std::string::npos);
}

}  // namespace
}  // namespace sp
