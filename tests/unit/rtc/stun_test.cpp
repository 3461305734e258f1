// Tests for src/rtc/stun: a real binding request captured from aiortc, the
// RFC 5769 sample request, and every way a datagram can be cut or forged.
#include "rtc/stun.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace sp {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes read_fixture(const std::string& name) {
  std::ifstream in(std::string(SP_SOURCE_DIR "/tests/fixtures/rtc/") + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put_u16(Bytes* b, uint16_t v) {
  b->push_back(uint8_t(v >> 8));
  b->push_back(uint8_t(v));
}

// A header with the given type and body, length set from the body.
Bytes make_message(uint16_t type, const Bytes& body) {
  Bytes b;
  put_u16(&b, type);
  put_u16(&b, uint16_t(body.size()));
  for (uint8_t c : {0x21, 0x12, 0xA4, 0x42}) b.push_back(c);
  for (int i = 0; i < 12; ++i) b.push_back(uint8_t(i + 1));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

// One attribute with its value zero-padded to 4 bytes.
Bytes attribute(uint16_t type, std::string_view value) {
  Bytes b;
  put_u16(&b, type);
  put_u16(&b, uint16_t(value.size()));
  b.insert(b.end(), value.begin(), value.end());
  while (b.size() % 4) b.push_back(0);
  return b;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string parse_error(const Bytes& b) {
  Result<StunMessage> r = parse_stun(b);
  EXPECT_FALSE(r.ok());
  return r.error();
}

TEST(StunTest, ParsesRealAiortcBindingRequest) {
  Bytes d = read_fixture("aiortc_stun_binding_request.bin");
  ASSERT_EQ(d.size(), 96u);
  EXPECT_TRUE(looks_like_stun(d));
  Result<StunMessage> m = parse_stun(d);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_TRUE(m->is_binding_request());
  EXPECT_EQ(m->length, 76);
  EXPECT_EQ(m->transaction_id[0], 0xde);
  EXPECT_EQ(m->transaction_id[11], 0xaa);
  EXPECT_TRUE(m->has_username);
  EXPECT_EQ(m->username, "proxyufr:Vtpc");
  EXPECT_TRUE(m->has_message_integrity);
  EXPECT_TRUE(m->has_fingerprint);
  // The views point into the datagram, not into a copy.
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(m->username.data()), d.data() + 24);

  Result<StunUsername> u = split_stun_username(m->username);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->local_ufrag, "proxyufr");  // the answer's ufrag
  EXPECT_EQ(u->remote_ufrag, "Vtpc");     // the offer's ufrag
}

TEST(StunTest, ParsesRfc5769SampleRequest) {
  Bytes d = read_fixture("rfc5769_binding_request.bin");
  Result<StunMessage> m = parse_stun(d);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_TRUE(m->is_binding_request());
  EXPECT_EQ(m->username, "evtj:h6vY");  // 9 bytes, padded with spaces in the sample
  EXPECT_TRUE(m->has_message_integrity);
  EXPECT_TRUE(m->has_fingerprint);
}

TEST(StunTest, MinimalMessageWithoutAttributes) {
  Bytes d = make_message(kStunBindingSuccess, {});
  Result<StunMessage> m = parse_stun(d);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_FALSE(m->is_binding_request());
  EXPECT_FALSE(m->has_username);
  EXPECT_EQ(m->username, "");
}

TEST(StunTest, IndicationIsNotABindingRequest) {
  Result<StunMessage> m = parse_stun(make_message(kStunBindingIndication, {}));
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->is_binding_request());
}

TEST(StunTest, UsernameWithPaddingAndUnknownAttributes) {
  Bytes body = concat({attribute(0x8022, "agent"), attribute(kStunAttrUsername, "abcd:efg"),
                       attribute(0xC057, "xy")});
  Bytes d = make_message(kStunBindingRequest, body);
  Result<StunMessage> m = parse_stun(d);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->username, "abcd:efg");
  EXPECT_FALSE(m->has_message_integrity);
  EXPECT_FALSE(m->has_fingerprint);
}

TEST(StunTest, OnlyFirstUsernameCountsAndNothingAfterIntegrity) {
  Bytes mi = attribute(kStunAttrMessageIntegrity, std::string(20, 'm'));
  Bytes twice = concat({attribute(kStunAttrUsername, "a:b"), attribute(kStunAttrUsername, "c:d")});
  Bytes first = make_message(kStunBindingRequest, twice);  // outlives the views
  EXPECT_EQ(parse_stun(first)->username, "a:b");
  Bytes after = make_message(kStunBindingRequest, concat({mi, attribute(kStunAttrUsername, "late:one")}));
  Result<StunMessage> m = parse_stun(after);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_username);
}

TEST(StunTest, LooksLikeStunFollowsRfc7983) {
  EXPECT_TRUE(looks_like_stun(Bytes{0x00, 0x01}));
  EXPECT_TRUE(looks_like_stun(Bytes{0x03}));
  EXPECT_FALSE(looks_like_stun(Bytes{}));
  EXPECT_FALSE(looks_like_stun(Bytes{0x04}));
  EXPECT_FALSE(looks_like_stun(Bytes{22, 0xfe, 0xfd}));  // DTLS handshake
  EXPECT_FALSE(looks_like_stun(Bytes{0x80, 0x60}));      // RTP
}

TEST(StunTest, RejectsTruncatedHeader) {
  Bytes d = read_fixture("aiortc_stun_binding_request.bin");
  for (size_t n : {0, 1, 19}) {
    EXPECT_NE(parse_error(Bytes(d.begin(), d.begin() + n)).find("shorter than its header"),
              std::string::npos);
  }
}

TEST(StunTest, RejectsTruncatedBodyAtEveryLength) {
  Bytes d = read_fixture("aiortc_stun_binding_request.bin");
  for (size_t n = kStunHeaderBytes; n < d.size(); ++n) {
    EXPECT_NE(parse_error(Bytes(d.begin(), d.begin() + n)).find("truncated"), std::string::npos) << n;
  }
}

TEST(StunTest, RejectsTrailingBytes) {
  Bytes d = read_fixture("aiortc_stun_binding_request.bin");
  d.insert(d.end(), {0, 0, 0, 0});
  EXPECT_NE(parse_error(d).find("does not match the datagram"), std::string::npos);
}

TEST(StunTest, RejectsBadCookie) {
  Bytes d = read_fixture("aiortc_stun_binding_request.bin");
  d[4] ^= 0x01;
  EXPECT_NE(parse_error(d).find("magic cookie"), std::string::npos);
}

TEST(StunTest, RejectsLengthNotMultipleOfFour) {
  Bytes d = make_message(kStunBindingRequest, Bytes(6, 0));
  EXPECT_NE(parse_error(d).find("multiple of 4"), std::string::npos);
}

TEST(StunTest, RejectsTopBitsSet) {
  Bytes d = make_message(kStunBindingRequest, {});
  d[0] = 0x80;
  EXPECT_NE(parse_error(d).find("top two bits"), std::string::npos);
}

TEST(StunTest, RejectsAttributeOverrun) {
  // USERNAME claims 40 bytes but the body holds 8 after its header.
  Bytes body = attribute(kStunAttrUsername, "abcd:efg");
  body[3] = 40;
  EXPECT_NE(parse_error(make_message(kStunBindingRequest, body)).find("runs past"), std::string::npos);
  // Value fits but its padding does not.
  Bytes body2 = attribute(kStunAttrUsername, "abcd:efg");
  body2[3] = 9;
  EXPECT_NE(parse_error(make_message(kStunBindingRequest, body2)).find("runs past"), std::string::npos);
}

TEST(StunTest, RejectsLengthLyingAboutAttributes) {
  // Header length 4 with a 4-byte attribute header whose value is missing.
  Bytes body = {0x00, 0x06, 0x00, 0x04};
  EXPECT_NE(parse_error(make_message(kStunBindingRequest, body)).find("runs past"), std::string::npos);
}

TEST(StunTest, RejectsOversizedUsername) {
  Bytes body = attribute(kStunAttrUsername, std::string(600, 'u'));
  EXPECT_NE(parse_error(make_message(kStunBindingRequest, body)).find("too long"), std::string::npos);
}

TEST(StunTest, RejectsCorruptedFingerprint) {
  Bytes d = read_fixture("aiortc_stun_binding_request.bin");
  d.back() ^= 0xFF;
  EXPECT_NE(parse_error(d).find("FINGERPRINT does not match"), std::string::npos);
  Bytes r = read_fixture("rfc5769_binding_request.bin");
  r[30] ^= 0x01;  // a byte of SOFTWARE, covered by the CRC
  EXPECT_NE(parse_error(r).find("FINGERPRINT does not match"), std::string::npos);
}

TEST(StunTest, RejectsFingerprintNotLast) {
  Bytes body = concat({attribute(kStunAttrFingerprint, "abcd"), attribute(kStunAttrUsername, "a:b")});
  EXPECT_NE(parse_error(make_message(kStunBindingRequest, body)).find("not the last"),
            std::string::npos);
}

TEST(StunTest, GarbageNeverCrashes) {
  // Every prefix and single-byte corruption of the real request either parses
  // or fails cleanly (run under ASan/UBSan in CI to catch overreads).
  Bytes d = read_fixture("aiortc_stun_binding_request.bin");
  for (size_t i = 0; i < d.size(); ++i) {
    for (uint8_t x : {0x01, 0x80, 0xFF}) {
      Bytes c = d;
      c[i] ^= x;
      (void)parse_stun(c);
    }
  }
  SUCCEED();
}

TEST(StunTest, IntegrityOfRealAiortcRequest) {
  // The capture script gave aiortc an answer with this a=ice-pwd.
  Bytes d = read_fixture("aiortc_stun_binding_request.bin");
  Result<StunMessage> m = parse_stun(d);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->message_integrity_offset, 64u);  // 96 - FINGERPRINT (8) - MESSAGE-INTEGRITY (24)
  EXPECT_TRUE(stun_integrity_matches(d, *m, "proxypasswordproxypassword1"));
  EXPECT_FALSE(stun_integrity_matches(d, *m, "proxypasswordproxypassword2"));
  EXPECT_FALSE(stun_integrity_matches(d, *m, ""));
}

TEST(StunTest, IntegrityOfRfc5769Request) {
  Bytes d = read_fixture("rfc5769_binding_request.bin");
  Result<StunMessage> m = parse_stun(d);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(stun_integrity_matches(d, *m, "VOkJxbRl1RmTxUk/WvJxBt"));
  // A changed covered byte (PRIORITY) breaks it.
  Bytes changed = d;
  changed[47] ^= 0x01;
  EXPECT_FALSE(stun_integrity_matches(changed, *m, "VOkJxbRl1RmTxUk/WvJxBt"));
  // A key longer than the HMAC block is hashed first, and still just wrong.
  EXPECT_FALSE(stun_integrity_matches(d, *m, std::string(100, 'k')));
}

TEST(StunTest, NoIntegrityNeverMatches) {
  Bytes d = make_message(kStunBindingRequest, attribute(kStunAttrUsername, "a:b"));
  Result<StunMessage> m = parse_stun(d);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(stun_integrity_matches(d, *m, "anything"));
}

TEST(StunTest, RejectsIntegrityWithBadLength) {
  Bytes body = attribute(kStunAttrMessageIntegrity, "short");
  EXPECT_NE(parse_error(make_message(kStunBindingRequest, body)).find("MESSAGE-INTEGRITY has a bad length"),
            std::string::npos);
}

TEST(StunTest, SplitUsername) {
  Result<StunUsername> u = split_stun_username("abcd:efgh");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->local_ufrag, "abcd");
  EXPECT_EQ(u->remote_ufrag, "efgh");
  EXPECT_NE(split_stun_username("abcd").error().find("no ':'"), std::string::npos);
  EXPECT_NE(split_stun_username(":efgh").error().find("empty ufrag"), std::string::npos);
  EXPECT_NE(split_stun_username("abcd:").error().find("empty ufrag"), std::string::npos);
  EXPECT_NE(split_stun_username("").error().find("no ':'"), std::string::npos);
}

}  // namespace
}  // namespace sp
