// Tests for src/rtc/sdp: ufrag extraction and answer candidate rewriting on a
// real aiortc offer/answer pair (CRLF) and on SRS-shaped answers (LF).
#include "rtc/sdp.h"
#include "test_files.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace sp {
namespace {

std::string read_fixture(const std::string& name) {
  return testing::read_source_file("tests/fixtures/rtc/" + name);
}

size_t count(std::string_view text, std::string_view what) { return testing::count_of(text, what); }

// Lines ending in a bare "\n" (not preceded by '\r').
size_t bare_newlines(std::string_view text) {
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) n += text[i] == '\n' && (i == 0 || text[i - 1] != '\r');
  return n;
}

// The shape of an SRS 5/6 answer (ICE-lite, port 9, c=0.0.0.0, one host UDP
// candidate per section, plus the TCP candidate SRS adds when rtc over TCP is
// on). Hand-written: no SRS is installed here.
constexpr std::string_view kSrsAnswer =
    "v=0\n"
    "o=SRS/6.0.100 94166136 2 IN IP4 0.0.0.0\n"
    "s=SRSPublishSession\n"
    "t=0 0\n"
    "a=ice-lite\n"
    "a=group:BUNDLE 0 1\n"
    "a=msid-semantic: WMS live/livestream\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\n"
    "c=IN IP4 0.0.0.0\n"
    "a=ice-ufrag:9kq10p37\n"
    "a=ice-pwd:t5x3r9n71f0e8h7k06y1329kp50l2a41\n"
    "a=fingerprint:sha-256 3E:8B:2A:61:7C:9D:0F:44:1B:A2:55:06:E3:92:7F:18:C4:DA:30:6B:29:81:5E:F7:A0:13:4C:B6:D8:72:EE:95\n"
    "a=setup:passive\n"
    "a=mid:0\n"
    "a=recvonly\n"
    "a=rtcp-mux\n"
    "a=rtpmap:111 opus/48000/2\n"
    "a=candidate:0 1 udp 2130706431 10.0.0.5 8000 typ host generation 0\n"
    "a=candidate:1 1 tcp 2130706431 10.0.0.5 8000 typ host tcptype passive generation 0\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 106\n"
    "c=IN IP4 0.0.0.0\n"
    "a=ice-ufrag:9kq10p37\n"
    "a=mid:1\n"
    "a=recvonly\n"
    "a=rtcp-mux\n"
    "a=rtpmap:106 H264/90000\n"
    "a=candidate:0 1 udp 2130706431 10.0.0.5 8000 typ host generation 0\n"
    "a=candidate:1 1 tcp 2130706431 10.0.0.5 8000 typ host tcptype passive generation 0\n";

TEST(SdpTest, UfragOfRealAiortcOfferIsFirstMediaSections) {
  // aiortc puts a different ufrag in each section and none at session level.
  std::string offer = read_fixture("aiortc_offer.sdp");
  Result<std::string_view> u = sdp_ice_ufrag(offer);
  ASSERT_TRUE(u.ok()) << u.error();
  EXPECT_EQ(*u, "Vtpc");
  EXPECT_EQ(*sdp_ice_ufrag(read_fixture("aiortc_answer.sdp")), "5tW7");
}

TEST(SdpTest, UfragOfSrsAnswer) { EXPECT_EQ(*sdp_ice_ufrag(kSrsAnswer), "9kq10p37"); }

TEST(SdpTest, SessionLevelUfragWins) {
  std::string sdp = "v=0\r\na=ice-ufrag:sess\r\nm=audio 9 RTP/AVP 0\r\na=ice-ufrag:media\r\n";
  EXPECT_EQ(*sdp_ice_ufrag(sdp), "sess");
}

TEST(SdpTest, UfragWithoutTrailingNewlineAndWithTrailingSpace) {
  EXPECT_EQ(*sdp_ice_ufrag("v=0\nm=audio 9 RTP/AVP 0\na=ice-ufrag:ab+/Cd9 "), "ab+/Cd9");
}

TEST(SdpTest, UfragErrors) {
  EXPECT_NE(sdp_ice_ufrag("").error().find("not an SDP"), std::string::npos);
  EXPECT_NE(sdp_ice_ufrag("hello").error().find("not an SDP"), std::string::npos);
  EXPECT_NE(sdp_ice_ufrag("v=0\r\nm=audio 9 RTP/AVP 0\r\n").error().find("no a=ice-ufrag"),
            std::string::npos);
  // Only the second section has one: not the session's, not the first media's.
  EXPECT_NE(sdp_ice_ufrag("v=0\nm=audio 9 RTP/AVP 0\nm=video 9 RTP/AVP 96\na=ice-ufrag:abcd\n")
                .error()
                .find("no a=ice-ufrag"),
            std::string::npos);
  EXPECT_NE(sdp_ice_ufrag("v=0\na=ice-ufrag:abc\n").error().find("4..256"), std::string::npos);
  EXPECT_NE(sdp_ice_ufrag("v=0\na=ice-ufrag:ab:cd\n").error().find("4..256"), std::string::npos);
  EXPECT_NE(sdp_ice_ufrag("v=0\na=ice-ufrag:\n").error().find("4..256"), std::string::npos);
  EXPECT_NE(sdp_ice_ufrag("v=0\na=ice-ufrag:" + std::string(257, 'a') + "\n").error().find("4..256"),
            std::string::npos);
}

TEST(SdpTest, IcePassword) {
  EXPECT_EQ(*sdp_ice_pwd(read_fixture("aiortc_answer.sdp")), "VsYIKTcxHaLdIyCWrEFERS");
  EXPECT_EQ(*sdp_ice_pwd(kSrsAnswer), "t5x3r9n71f0e8h7k06y1329kp50l2a41");
  EXPECT_NE(sdp_ice_pwd("v=0\na=ice-ufrag:abcd\n").error().find("no a=ice-pwd"), std::string::npos);
  EXPECT_NE(sdp_ice_pwd("v=0\na=ice-pwd:tooshort\n").error().find("22..256"), std::string::npos);
}

TEST(SdpTest, RewritesRealAiortcAnswer) {
  std::string answer = read_fixture("aiortc_answer.sdp");
  Result<SdpCandidateRewrite> r = rewrite_answer_candidates(answer, "203.0.113.7", 8000);
  ASSERT_TRUE(r.ok()) << r.error();
  // Each section had an IPv4 and an IPv6 host candidate on component 1; both
  // map to the proxy's one socket, so one stays per section.
  EXPECT_EQ(r->rewritten, 2);
  EXPECT_EQ(r->dropped, 2);
  EXPECT_EQ(count(r->sdp, "a=candidate:"), 2u);
  EXPECT_EQ(count(r->sdp,
                  "a=candidate:f957a2332b1715da3b0ef8ba684454eb 1 udp 2130706431 203.0.113.7 8000 typ host\r\n"),
            2u);
  EXPECT_EQ(r->sdp.find("192.0.2.2"), std::string::npos);
  EXPECT_EQ(r->sdp.find("fd00::2"), std::string::npos);
  // The default candidate (c= and m= port) follows the rewritten one.
  EXPECT_EQ(count(r->sdp, "c=IN IP4 203.0.113.7\r\n"), 2u);
  EXPECT_EQ(count(r->sdp, "m=audio 8000 UDP/TLS/RTP/SAVPF 96 0 8\r\n"), 1u);
  EXPECT_EQ(count(r->sdp, "m=video 8000 UDP/TLS/RTP/SAVPF 97 98"), 1u);
  // Placeholders and everything else are untouched; CRLF kept everywhere.
  EXPECT_EQ(count(r->sdp, "a=rtcp:9 IN IP4 0.0.0.0\r\n"), 2u);
  EXPECT_EQ(count(r->sdp, "a=end-of-candidates\r\n"), 2u);
  EXPECT_EQ(bare_newlines(r->sdp), 0u);
  EXPECT_EQ(count(r->sdp, "\r\n"), count(answer, "\r\n") - 2);
  EXPECT_EQ(*sdp_ice_ufrag(r->sdp), "5tW7");
}

TEST(SdpTest, RewritesSrsAnswerDroppingTcp) {
  Result<SdpCandidateRewrite> r = rewrite_answer_candidates(kSrsAnswer, "proxy.example.com", 18000);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->rewritten, 2);
  EXPECT_EQ(r->dropped, 2);
  EXPECT_EQ(count(r->sdp, "a=candidate:0 1 udp 2130706431 proxy.example.com 18000 typ host generation 0\n"),
            2u);
  EXPECT_EQ(r->sdp.find(" tcp "), std::string::npos);
  EXPECT_EQ(r->sdp.find("10.0.0.5"), std::string::npos);
  // c=0.0.0.0 and port 9 are placeholders, not the origin's address.
  EXPECT_EQ(count(r->sdp, "c=IN IP4 0.0.0.0\n"), 2u);
  EXPECT_EQ(count(r->sdp, "m=audio 9 "), 1u);
  EXPECT_EQ(count(r->sdp, "\r"), 0u);
  // Apart from the candidate lines, the answer is byte for byte the same.
  std::string expected(kSrsAnswer);
  for (std::string_view tcp : {"a=candidate:1 1 tcp 2130706431 10.0.0.5 8000 typ host tcptype passive generation 0\n"}) {
    for (size_t at; (at = expected.find(tcp)) != std::string::npos;) expected.erase(at, tcp.size());
  }
  for (size_t at; (at = expected.find("10.0.0.5 8000")) != std::string::npos;) {
    expected.replace(at, 13, "proxy.example.com 18000");
  }
  EXPECT_EQ(r->sdp, expected);
}

TEST(SdpTest, DropsNonHostCandidatesAndKeepsOrder) {
  std::string sdp =
      "v=0\r\n"
      "m=audio 50000 UDP/TLS/RTP/SAVPF 111\r\n"
      "c=IN IP4 198.51.100.9\r\n"
      "a=candidate:1 1 UDP 2122260223 10.1.1.1 50000 typ host generation 0 network-id 1\r\n"
      "a=candidate:2 1 udp 1686052607 198.51.100.9 50000 typ srflx raddr 10.1.1.1 rport 50000\r\n"
      "a=candidate:3 1 udp 41885439 192.0.2.50 3478 typ relay raddr 198.51.100.9 rport 50000\r\n"
      "a=candidate:4 1 udp 1845501695 198.51.100.10 50001 typ prflx raddr 10.1.1.1 rport 50000\r\n"
      "a=candidate:5 1 tcp 1518280447 10.1.1.1 9 typ host tcptype active\r\n"
      "a=candidate:6 2 udp 2122260222 10.1.1.1 50001 typ host\r\n"
      "a=candidate:bogus\r\n"
      "a=end-of-candidates\r\n";
  Result<SdpCandidateRewrite> r = rewrite_answer_candidates(sdp, "2001:db8::1", 8000);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->rewritten, 2);  // components 1 and 2 are distinct
  EXPECT_EQ(r->dropped, 5);
  EXPECT_EQ(r->sdp,
            "v=0\r\n"
            "m=audio 8000 UDP/TLS/RTP/SAVPF 111\r\n"
            "c=IN IP4 198.51.100.9\r\n"  // srflx address: not one we rewrote
            "a=candidate:1 1 UDP 2122260223 2001:db8::1 8000 typ host generation 0 network-id 1\r\n"
            "a=candidate:6 2 udp 2122260222 2001:db8::1 8000 typ host\r\n"
            "a=end-of-candidates\r\n");
}

TEST(SdpTest, ConnectionLineBecomesIp6ForIpv6Proxy) {
  std::string sdp = "v=0\nm=audio 5000 RTP/AVP 0\nc=IN IP4 10.0.0.1\na=candidate:1 1 udp 1 10.0.0.1 5000 typ host";
  Result<SdpCandidateRewrite> r = rewrite_answer_candidates(sdp, "2001:db8::1", 8000);
  ASSERT_TRUE(r.ok()) << r.error();
  // The last line had no terminator and still has none.
  EXPECT_EQ(r->sdp, "v=0\nm=audio 8000 RTP/AVP 0\nc=IN IP6 2001:db8::1\na=candidate:1 1 udp 1 2001:db8::1 8000 typ host");
}

TEST(SdpTest, NoUsableCandidateIsAnError) {
  std::string only_unusable =
      "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
      "a=candidate:1 1 tcp 2130706431 10.0.0.5 8000 typ host tcptype passive\r\n"
      "a=candidate:2 1 udp 1686052607 198.51.100.9 50000 typ srflx raddr 10.1.1.1 rport 50000\r\n";
  EXPECT_EQ(rewrite_answer_candidates(only_unusable, "1.2.3.4", 8000).error(), "answer has no usable candidate");
  EXPECT_EQ(rewrite_answer_candidates("v=0\r\nm=audio 9 RTP/AVP 0\r\n", "1.2.3.4", 8000).error(),
            "answer has no usable candidate");
  // Too few fields, no "typ", non-numeric port: unparsable, so dropped.
  EXPECT_EQ(rewrite_answer_candidates("v=0\na=candidate:1 1 udp 1 10.0.0.1 5000 host\n"
                                      "a=candidate:1 1 udp 1 10.0.0.1 x typ host\n"
                                      "a=candidate:1 1 udp\n",
                                      "1.2.3.4", 8000)
                .error(),
            "answer has no usable candidate");
}

TEST(SdpTest, RewriteRejectsBadArguments) {
  EXPECT_NE(rewrite_answer_candidates("<html>", "1.2.3.4", 8000).error().find("not an SDP"), std::string::npos);
  EXPECT_NE(rewrite_answer_candidates(kSrsAnswer, "", 8000).error().find("address"), std::string::npos);
  EXPECT_NE(rewrite_answer_candidates(kSrsAnswer, "1.2.3.4 x", 8000).error().find("address"), std::string::npos);
  EXPECT_NE(rewrite_answer_candidates(kSrsAnswer, "1.2.3.4", 0).error().find("port is 0"), std::string::npos);
}

}  // namespace
}  // namespace sp
