// Tests for src/core/proxy_loop: the proxy's identity, the HTTP Via marker
// (RFC 9110 section 7.6.3 lines as real proxies write them, and garbled ones)
// and the id chain RTMP and SRT carry.
#include "core/proxy_loop.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

constexpr uint64_t kId = 0x0123456789abcdefULL;
constexpr uint64_t kOther = 0xfedcba9876543210ULL;

TEST(ProxyLoopTest, IdIsMadeOnceAndNeverZero) {
  EXPECT_NE(proxy_id(), 0u);
  EXPECT_EQ(proxy_id(), proxy_id());
}

TEST(ProxyLoopTest, HexIsSixteenLowerCaseDigits) {
  EXPECT_EQ(proxy_id_hex(kId), "0123456789abcdef");
  EXPECT_EQ(proxy_id_hex(1), "0000000000000001");
  EXPECT_EQ(proxy_via_name(kId), "srs-proxy-0123456789abcdef");
}

TEST(ProxyLoopTest, ViaAppendStartsOrExtendsTheList) {
  EXPECT_EQ(via_append("", kId), "1.1 srs-proxy-0123456789abcdef");
  EXPECT_EQ(via_append("1.0 fred, 1.1 p.example.net", kId),
            "1.0 fred, 1.1 p.example.net, 1.1 srs-proxy-0123456789abcdef");
  // Stray separators at the end are not doubled.
  EXPECT_EQ(via_append(" 1.1 a ,  ", kId), "1.1 a, 1.1 srs-proxy-0123456789abcdef");
}

TEST(ProxyLoopTest, ViaAppendClosesAnOpenComment) {
  // A client's garbled Via must not hide the marker from the next check,
  // or it could switch loop detection off.
  for (std::string_view prior : {"1.1 x (open", "1.1 x ((a) b", "1.1 x (esc\\", "1.1 x (a,", "(", "((((\\"}) {
    std::string v = via_append(prior, kId);
    EXPECT_TRUE(via_lists_proxy(v, kId)) << prior << " -> " << v;
    EXPECT_TRUE(via_lists_proxy(via_append(v, kOther), kId)) << prior;
  }
  EXPECT_EQ(via_append("1.1 x (open", kId), "1.1 x (open), 1.1 srs-proxy-0123456789abcdef");
}

TEST(ProxyLoopTest, ViaRecognisesOursAnywhere) {
  EXPECT_TRUE(via_lists_proxy("1.1 srs-proxy-0123456789abcdef", kId));
  EXPECT_TRUE(via_lists_proxy(via_append(via_append("", kOther), kId), kId));
  EXPECT_TRUE(via_lists_proxy(via_append(via_append("", kId), kOther), kId));
  // Case-insensitive pseudonym, protocol name, tabs, a comment with commas.
  EXPECT_TRUE(via_lists_proxy("1.0 fred,HTTP/1.1\tSRS-PROXY-0123456789ABCDEF (srs, proxy)", kId));
  EXPECT_TRUE(via_lists_proxy("1.1 x (a, (nested, \\) b)), 1.1 srs-proxy-0123456789abcdef", kId));
  EXPECT_TRUE(via_lists_proxy("1.1 srs-proxy-0123456789abcdef(comment)", kId));
}

TEST(ProxyLoopTest, ViaIgnoresOthersAndGarbage) {
  EXPECT_FALSE(via_lists_proxy("", kId));
  EXPECT_FALSE(via_lists_proxy("1.1 srs-proxy-fedcba9876543210", kId));
  EXPECT_FALSE(via_lists_proxy("1.1 srs-proxy-0123456789abcde", kId));    // one digit short
  EXPECT_FALSE(via_lists_proxy("1.1 srs-proxy-0123456789abcdef0", kId));  // one too many
  EXPECT_FALSE(via_lists_proxy("srs-proxy-0123456789abcdef", kId));       // no protocol: not a received-by
  EXPECT_FALSE(via_lists_proxy("1.1 fred (srs-proxy-0123456789abcdef)", kId));  // only in a comment
  EXPECT_FALSE(via_lists_proxy("1.1 x (unbalanced, 1.1 srs-proxy-0123456789abcdef", kId));
  EXPECT_FALSE(via_lists_proxy(",,, ,\t,", kId));
}

TEST(ProxyLoopTest, ChainAppendAndLookup) {
  std::string c = proxy_chain_append("", kOther);
  EXPECT_EQ(c, "fedcba9876543210");
  EXPECT_FALSE(proxy_chain_lists(c, kId));
  c = proxy_chain_append(c, kId);
  EXPECT_EQ(c, "fedcba9876543210.0123456789abcdef");
  EXPECT_TRUE(proxy_chain_lists(c, kId));
  EXPECT_TRUE(proxy_chain_lists(c, kOther));
  EXPECT_TRUE(proxy_chain_lists("0123456789ABCDEF", kId));
  EXPECT_EQ(proxy_chain_append("a.", kId), "a.0123456789abcdef");
}

TEST(ProxyLoopTest, ChainIgnoresGarbage) {
  EXPECT_FALSE(proxy_chain_lists("", kId));
  EXPECT_FALSE(proxy_chain_lists("...", kId));
  EXPECT_FALSE(proxy_chain_lists("0123456789abcdef0", kId));
  EXPECT_FALSE(proxy_chain_lists("123456789abcdef", kId));
  EXPECT_FALSE(proxy_chain_lists("x0123456789abcdef", kId));
  EXPECT_TRUE(proxy_chain_lists("junk..0123456789abcdef.", kId));
}

}  // namespace
}  // namespace sp
