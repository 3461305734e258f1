// SrtReorder: a TSBPD-off SRT receiver's messages back in sequence order.
#include "srt/srt_reorder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sp {
namespace {

void push(SrtReorder& r, int32_t seq, int64_t now_us = 0) {
  std::string body = std::to_string(seq);
  r.push(seq, body.data(), body.size(), int64_t(seq) * 10, now_us);
}

std::vector<std::string> pop_all(SrtReorder& r, int64_t now_us = 0) {
  std::vector<std::string> out;
  SrtReorder::Message m;
  while (r.pop(&m, now_us)) out.emplace_back(m.data.begin(), m.data.end());
  return out;
}

using Strings = std::vector<std::string>;

TEST(SrtReorder, InOrderMessagesPassAtOnce) {
  SrtReorder r(100, 1000);
  push(r, 5);
  push(r, 6);
  EXPECT_EQ(pop_all(r), (Strings{"5", "6"}));
}

TEST(SrtReorder, ARetransmittedMessageGoesBeforeTheOnesSentAfterIt) {
  SrtReorder r(100, 1000);
  push(r, 1);
  EXPECT_EQ(pop_all(r), (Strings{"1"}));
  push(r, 3);
  push(r, 4);
  EXPECT_TRUE(pop_all(r).empty());  // 2 is missing
  EXPECT_EQ(r.held(), 2u);
  push(r, 2);
  EXPECT_EQ(pop_all(r), (Strings{"2", "3", "4"}));
  EXPECT_EQ(r.skipped(), 0u);
}

TEST(SrtReorder, KeepsTheSourceTime) {
  SrtReorder r(100, 1000);
  push(r, 7);
  SrtReorder::Message m;
  ASSERT_TRUE(r.pop(&m, 0));
  EXPECT_EQ(m.srctime, 70);
}

TEST(SrtReorder, ARetransmissionStampedWhenResentGetsItsPlaceInTime) {
  SrtReorder r(100, 1000);
  auto push_at = [&](int32_t seq, int64_t srctime) { r.push(seq, "x", 1, srctime, 0); };
  SrtReorder::Message m;
  push_at(10, 1000);
  ASSERT_TRUE(r.pop(&m, 0));
  push_at(13, 1300);
  push_at(14, 1400);
  push_at(11, 1450);  // resent after 14 went: stamped then
  ASSERT_TRUE(r.pop(&m, 0));
  EXPECT_EQ(m.srctime, 1100);
  push_at(12, 1460);
  ASSERT_TRUE(r.pop(&m, 0));
  EXPECT_EQ(m.srctime, 1200);
  ASSERT_TRUE(r.pop(&m, 0));
  EXPECT_EQ(m.srctime, 1300);  // in order: its own
}

TEST(SrtReorder, GivesUpAGapAfterTheWait) {
  SrtReorder r(100, 1000);
  push(r, 1);
  pop_all(r);
  push(r, 3, 10);
  EXPECT_TRUE(pop_all(r, 1009).empty());
  EXPECT_EQ(pop_all(r, 1010), (Strings{"3"}));
  EXPECT_EQ(r.skipped(), 1u);
  push(r, 2, 1011);  // too late now: dropped, not passed on out of order
  EXPECT_TRUE(pop_all(r, 1011).empty());
  EXPECT_EQ(r.dropped(), 1u);
}

TEST(SrtReorder, GivesUpAGapWhenTooManyAreHeld) {
  SrtReorder r(3, 1'000'000);
  push(r, 1);
  pop_all(r);
  for (int s = 3; s <= 5; ++s) push(r, s);
  EXPECT_TRUE(pop_all(r).empty());
  push(r, 6);
  EXPECT_EQ(pop_all(r), (Strings{"3", "4", "5", "6"}));
}

TEST(SrtReorder, DropsDuplicates) {
  SrtReorder r(100, 1000);
  push(r, 1);
  push(r, 1);
  EXPECT_EQ(pop_all(r), (Strings{"1"}));
  push(r, 1);
  EXPECT_TRUE(pop_all(r).empty());
  EXPECT_EQ(r.dropped(), 2u);
}

TEST(SrtReorder, FollowsTheSequenceNumberAcrossItsWrap) {
  SrtReorder r(100, 1000);
  push(r, 0x7FFFFFFE);
  push(r, 0);  // after 0x7FFFFFFF, which is missing
  EXPECT_EQ(pop_all(r), (Strings{std::to_string(0x7FFFFFFE)}));
  push(r, 0x7FFFFFFF);
  push(r, 1);
  EXPECT_EQ(pop_all(r), (Strings{std::to_string(0x7FFFFFFF), "0", "1"}));
}

}  // namespace
}  // namespace sp
