// RTMP handshake against real captured bytes (tests/fixtures/rtmp/, captured
// through a relay between ffmpeg / rtmpdump and nginx-rtmp):
//  - the digest math reproduces what ffmpeg, rtmpdump and nginx computed;
//  - our replies pass the checks a real client makes (ffmpeg as a player
//    verifies the S1 digest and the S2 signature over its C1 digest);
//  - bad versions and sizes are errors.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <iterator>

#include "rtmp/handshake.h"

namespace sp::rtmp::handshake {
namespace {

std::vector<uint8_t> fixture(const std::string& name) {
  std::ifstream f(std::string(SP_SOURCE_DIR) + "/tests/fixtures/rtmp/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::span<const uint8_t> c1_of(const std::vector<uint8_t>& c0c1) {
  return std::span<const uint8_t>(c0c1).subspan(1, kPacketSize);
}
std::span<const uint8_t> s1_of(const std::vector<uint8_t>& s0s1s2) {
  return std::span<const uint8_t>(s0s1s2).subspan(1, kPacketSize);
}
std::span<const uint8_t> s2_of(const std::vector<uint8_t>& s0s1s2) {
  return std::span<const uint8_t>(s0s1s2).subspan(1 + kPacketSize, kPacketSize);
}
std::span<const uint8_t> digest_in(std::span<const uint8_t> packet, Schema s) {
  return packet.subspan(digest_offset(packet, s), kDigestSize);
}

// What a strict client (ffmpeg playing) checks in our reply: S1 carries a
// server digest, and S2 ends with the HMAC answering its own C1 digest.
void expect_client_would_accept(const std::vector<uint8_t>& c0c1, const ServerReply& reply) {
  ASSERT_EQ(reply.s0s1s2.size(), kS0S1S2Size);
  EXPECT_EQ(reply.s0s1s2[0], 3);
  std::optional<Schema> client = find_client_digest(c1_of(c0c1));
  ASSERT_TRUE(client.has_value());
  std::optional<Schema> server = find_server_digest(s1_of(reply.s0s1s2));
  ASSERT_TRUE(server.has_value());
  EXPECT_EQ(*server, *client);  // answered in the client's own schema
  EXPECT_NE(s1_of(reply.s0s1s2)[4], 0);  // non-zero version: "I am complex"
  EXPECT_TRUE(verify_answer(s2_of(reply.s0s1s2), digest_in(c1_of(c0c1), *client), true));
}

TEST(RtmpHandshake, FfmpegC1HasSchema1Digest) {
  std::vector<uint8_t> c0c1 = fixture("ffmpeg_publish_c0c1.bin");
  ASSERT_EQ(c0c1.size(), kC0C1Size);
  std::optional<Schema> s = find_client_digest(c1_of(c0c1));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, Schema::digest_first);
}

TEST(RtmpHandshake, RtmpdumpComplexC1HasDigest) {
  std::vector<uint8_t> c0c1 = fixture("rtmpdump_complex_c0c1.bin");
  EXPECT_TRUE(find_client_digest(c1_of(c0c1)).has_value());
}

TEST(RtmpHandshake, RtmpdumpSimpleC1HasNoDigest) {
  std::vector<uint8_t> c0c1 = fixture("rtmpdump_simple_c0c1.bin");
  EXPECT_FALSE(find_client_digest(c1_of(c0c1)).has_value());
}

// nginx-rtmp's captured replies verify with our keys and math: proof that the
// constants and digest positions are right, independent of our own encoder.
TEST(RtmpHandshake, NginxRepliesVerifyWithOurMath) {
  for (const char* who : {"ffmpeg_publish", "rtmpdump_complex"}) {
    SCOPED_TRACE(who);
    std::vector<uint8_t> c0c1 = fixture(std::string(who) + "_c0c1.bin");
    std::vector<uint8_t> s0s1s2 = fixture(std::string(who) + "_s0s1s2.bin");
    ASSERT_EQ(s0s1s2.size(), kS0S1S2Size);
    std::optional<Schema> client = find_client_digest(c1_of(c0c1));
    ASSERT_TRUE(client.has_value());
    std::optional<Schema> server = find_server_digest(s1_of(s0s1s2));
    ASSERT_TRUE(server.has_value());
    EXPECT_TRUE(verify_answer(s2_of(s0s1s2), digest_in(c1_of(c0c1), *client), true));
  }
}

// rtmpdump (a verifying client) answered nginx's S1 with a digest-signed C2.
TEST(RtmpHandshake, RtmpdumpC2AnswersNginxS1) {
  std::vector<uint8_t> s0s1s2 = fixture("rtmpdump_complex_s0s1s2.bin");
  std::vector<uint8_t> c2 = fixture("rtmpdump_complex_c2.bin");
  std::optional<Schema> server = find_server_digest(s1_of(s0s1s2));
  ASSERT_TRUE(server.has_value());
  EXPECT_TRUE(verify_answer(c2, digest_in(s1_of(s0s1s2), *server), false));
  // A C2 is not an S2: the server key must not verify it.
  EXPECT_FALSE(verify_answer(c2, digest_in(s1_of(s0s1s2), *server), true));
}

TEST(RtmpHandshake, ServerAnswersFfmpegComplex) {
  std::vector<uint8_t> c0c1 = fixture("ffmpeg_publish_c0c1.bin");
  Result<ServerReply> reply = server_reply(c0c1);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->kind, Kind::complex);
  expect_client_would_accept(c0c1, *reply);
}

TEST(RtmpHandshake, ServerAnswersRtmpdumpComplex) {
  std::vector<uint8_t> c0c1 = fixture("rtmpdump_complex_c0c1.bin");
  Result<ServerReply> reply = server_reply(c0c1);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->kind, Kind::complex);
  expect_client_would_accept(c0c1, *reply);
}

TEST(RtmpHandshake, ServerAnswersSimpleClientWithEcho) {
  std::vector<uint8_t> c0c1 = fixture("rtmpdump_simple_c0c1.bin");
  Result<ServerReply> reply = server_reply(c0c1);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->kind, Kind::simple);
  std::span<const uint8_t> s2 = s2_of(reply->s0s1s2);
  EXPECT_TRUE(std::equal(s2.begin(), s2.end(), c1_of(c0c1).begin()));
  // S1 version bytes are zero so the client stays simple.
  std::span<const uint8_t> s1 = s1_of(reply->s0s1s2);
  EXPECT_EQ(s1[4] | s1[5] | s1[6] | s1[7], 0);
}

TEST(RtmpHandshake, CapturedSimpleC2EchoesS1) {
  // Check c2_matches against what rtmpdump really sent nginx.
  ServerReply nginx;
  nginx.kind = Kind::simple;
  nginx.s0s1s2 = fixture("rtmpdump_simple_s0s1s2.bin");
  std::vector<uint8_t> c2 = fixture("rtmpdump_simple_c2.bin");
  EXPECT_TRUE(server_check_c2(c2).ok());
  EXPECT_TRUE(c2_matches(c2, nginx));
}

TEST(RtmpHandshake, FfmpegPublisherEchoesComplexS1) {
  // ffmpeg only signs C2 when playing; when publishing it echoes S1.
  ServerReply nginx;
  nginx.kind = Kind::complex;
  nginx.s0s1s2 = fixture("ffmpeg_publish_s0s1s2.bin");
  nginx.schema = *find_server_digest(s1_of(nginx.s0s1s2));
  EXPECT_TRUE(c2_matches(fixture("ffmpeg_publish_c2.bin"), nginx));
}

TEST(RtmpHandshake, C2CheckIsLoose) {
  std::vector<uint8_t> garbage(kPacketSize, 0xab);
  EXPECT_TRUE(server_check_c2(garbage).ok());
  Result<ServerReply> reply = server_reply(fixture("ffmpeg_publish_c0c1.bin"));
  ASSERT_TRUE(reply.ok());
  EXPECT_FALSE(c2_matches(garbage, *reply));
  EXPECT_FALSE(server_check_c2(std::vector<uint8_t>(kPacketSize - 1)).ok());
  EXPECT_FALSE(server_check_c2({}).ok());
}

TEST(RtmpHandshake, RejectsBadVersionAndSize) {
  std::vector<uint8_t> c0c1 = fixture("ffmpeg_publish_c0c1.bin");
  c0c1[0] = 6;
  Result<ServerReply> rtmpe = server_reply(c0c1);
  ASSERT_FALSE(rtmpe.ok());
  EXPECT_NE(rtmpe.error().find("version 6"), std::string::npos) << rtmpe.error();

  std::string http = "GET / HTTP/1.1\r\n";
  std::vector<uint8_t> not_rtmp(kC0C1Size, ' ');
  std::copy(http.begin(), http.end(), not_rtmp.begin());
  EXPECT_FALSE(server_reply(not_rtmp).ok());

  EXPECT_FALSE(server_reply(std::vector<uint8_t>(kC0C1Size - 1, 3)).ok());
  EXPECT_FALSE(server_reply({}).ok());
}

TEST(RtmpHandshake, ClientHelloShapes) {
  ClientHello simple = client_hello(Kind::simple);
  ASSERT_EQ(simple.c0c1.size(), kC0C1Size);
  EXPECT_EQ(simple.c0c1[0], 3);
  EXPECT_FALSE(find_client_digest(c1_of(simple.c0c1)).has_value());

  ClientHello complex = client_hello(Kind::complex);
  ASSERT_EQ(complex.c0c1.size(), kC0C1Size);
  std::optional<Schema> s = find_client_digest(c1_of(complex.c0c1));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, Schema::digest_first);
}

TEST(RtmpHandshake, ClientAgainstCapturedNginxReply) {
  // nginx's S1 verifies, so a complex client signs C2 over its digest.
  std::vector<uint8_t> s0s1s2 = fixture("rtmpdump_complex_s0s1s2.bin");
  ClientHello hello = client_hello(Kind::complex);
  Result<std::vector<uint8_t>> c2 = client_c2(s0s1s2, hello);
  ASSERT_TRUE(c2.ok()) << c2.error();
  Schema server = *find_server_digest(s1_of(s0s1s2));
  EXPECT_TRUE(verify_answer(*c2, digest_in(s1_of(s0s1s2), server), false));

  // A simple client echoes S1.
  Result<std::vector<uint8_t>> echo = client_c2(s0s1s2, client_hello(Kind::simple));
  ASSERT_TRUE(echo.ok());
  EXPECT_TRUE(std::equal(echo->begin(), echo->end(), s1_of(s0s1s2).begin()));
}

TEST(RtmpHandshake, ClientAndServerAgree) {
  for (Kind kind : {Kind::simple, Kind::complex}) {
    ClientHello hello = client_hello(kind);
    Result<ServerReply> reply = server_reply(hello.c0c1);
    ASSERT_TRUE(reply.ok()) << reply.error();
    EXPECT_EQ(reply->kind, kind);
    Result<std::vector<uint8_t>> c2 = client_c2(reply->s0s1s2, hello);
    ASSERT_TRUE(c2.ok()) << c2.error();
    EXPECT_TRUE(server_check_c2(*c2).ok());
    EXPECT_TRUE(c2_matches(*c2, *reply));
  }
}

TEST(RtmpHandshake, ClientRejectsBadServerVersionAndSize) {
  ClientHello hello = client_hello();
  std::vector<uint8_t> s0s1s2 = fixture("rtmpdump_simple_s0s1s2.bin");
  s0s1s2[0] = 4;
  EXPECT_FALSE(client_c2(s0s1s2, hello).ok());
  EXPECT_FALSE(client_c2(std::vector<uint8_t>(100, 3), hello).ok());
}

// A schema 0 C1 (key block first, as older Flash Players send), signed here
// with OpenSSL directly rather than through the code under test.
TEST(RtmpHandshake, Schema0ClientGetsSchema0Reply) {
  std::vector<uint8_t> c0c1(kC0C1Size);
  for (size_t i = 0; i < c0c1.size(); ++i) c0c1[i] = uint8_t(i * 31 + 7);
  c0c1[0] = 3;
  std::span<uint8_t> c1(c0c1.data() + 1, kPacketSize);
  c1[4] = 10;  // version 10.0.32.18, non-zero
  // Digest block at 772: its first 4 bytes sum, mod 728, to the offset after them.
  size_t off = 772 + 4 + (size_t(c1[772]) + c1[773] + c1[774] + c1[775]) % 728;
  ASSERT_EQ(off, digest_offset(c1, Schema::key_first));
  std::vector<uint8_t> rest(c1.begin(), c1.begin() + off);
  rest.insert(rest.end(), c1.begin() + off + 32, c1.end());
  const std::string key = "Genuine Adobe Flash Player 001";
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), rest.data(), rest.size(), c1.data() + off, &len);
  ASSERT_EQ(len, 32u);

  std::optional<Schema> found = find_client_digest(c1);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, Schema::key_first);
  Result<ServerReply> reply = server_reply(c0c1);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->schema, Schema::key_first);
  expect_client_would_accept(c0c1, *reply);
}

TEST(RtmpHandshake, TamperedDigestIsNotFound) {
  std::vector<uint8_t> c0c1 = fixture("ffmpeg_publish_c0c1.bin");
  std::span<const uint8_t> c1 = c1_of(c0c1);
  size_t off = digest_offset(c1, Schema::digest_first);
  c0c1[1 + off] ^= 0x01;
  EXPECT_FALSE(find_client_digest(c1_of(c0c1)).has_value());
  // The server then falls back to a simple reply instead of failing.
  Result<ServerReply> reply = server_reply(c0c1);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->kind, Kind::simple);
}

}  // namespace
}  // namespace sp::rtmp::handshake
