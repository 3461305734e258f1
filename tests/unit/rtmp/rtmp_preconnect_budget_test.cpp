// The worker-wide budget of unidentified RTMP clients (rtmp/preconnect_budget.h):
// the free share per session, charges, the room left, giving charges back.
#include <gtest/gtest.h>

#include "rtmp/preconnect_budget.h"

namespace sp::rtmp {
namespace {

constexpr size_t kFree = PreconnectBudget::kFreeBytes;

TEST(RtmpPreconnectBudget, FreeShareIsNotCharged) {
  PreconnectBudget b(10000);
  size_t charged = 0;
  b.update(&charged, kFree);
  EXPECT_EQ(charged, 0u);
  EXPECT_EQ(b.used(), 0u);
  b.update(&charged, kFree + 100);
  EXPECT_EQ(charged, 100u);
  EXPECT_EQ(b.used(), 100u);
}

TEST(RtmpPreconnectBudget, RoomShrinksAsOthersHoldMore) {
  PreconnectBudget b(10000);
  size_t a = 0, c = 0;
  EXPECT_EQ(b.max_buffered(a), kFree + 10000);
  b.update(&a, kFree + 6000);
  // The session itself may keep what it holds plus what is left.
  EXPECT_EQ(b.max_buffered(a), kFree + 10000);
  EXPECT_EQ(b.max_buffered(c), kFree + 4000);
  b.update(&c, kFree + 4000);
  EXPECT_EQ(b.used(), 10000u);
  // Full: a newcomer still has its free share, so a real connect gets in.
  size_t d = 0;
  EXPECT_EQ(b.max_buffered(d), kFree);
  // Shrinking gives the difference back.
  b.update(&a, kFree + 1000);
  EXPECT_EQ(b.used(), 5000u);
  EXPECT_EQ(b.max_buffered(d), kFree + 5000);
}

TEST(RtmpPreconnectBudget, ReleaseGivesEverythingBackOnce) {
  PreconnectBudget b(8192);
  size_t a = 0, c = 0;
  b.update(&a, kFree + 3000);
  b.update(&c, kFree + 2000);
  b.release(&a);
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b.used(), 2000u);
  b.release(&a);  // twice (identified, then ended) is harmless
  EXPECT_EQ(b.used(), 2000u);
  b.release(&c);
  EXPECT_EQ(b.used(), 0u);
}

TEST(RtmpPreconnectBudget, ZeroBudgetLeavesOnlyTheFreeShare) {
  PreconnectBudget b(0);
  size_t a = 0;
  EXPECT_EQ(b.max_buffered(a), kFree);
  b.update(&a, kFree);
  EXPECT_EQ(b.used(), 0u);
}

}  // namespace
}  // namespace sp::rtmp
