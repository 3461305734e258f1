// SrtSourceClock: the source time the proxy carries to the next SRT hop.
#include "srt/srt_source_clock.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

constexpr int64_t kSec = 1'000'000;

TEST(SrtSourceClock, KeepsTheSpacingOfPacketsDelayedOnTheFirstHop) {
  SrtSourceClock c;
  const int64_t base = 50 * kSec;  // the sender started 50 s before our clock's zero point
  // Packets sent every 10 ms, 1 ms transit; the third waited 30 ms for a
  // retransmission and the fourth, behind it, came with it.
  EXPECT_EQ(c.local_time(0, base + 1000), base + 1000);
  EXPECT_EQ(c.local_time(10000, base + 11000), base + 11000);
  EXPECT_EQ(c.local_time(20000, base + 51000), base + 21000);
  EXPECT_EQ(c.local_time(30000, base + 51000), base + 31000);
  EXPECT_EQ(c.local_time(40000, base + 41000), base + 41000);
}

TEST(SrtSourceClock, AFasterPacketLowersTheOffsetAtOnce) {
  SrtSourceClock c;
  EXPECT_EQ(c.local_time(0, 5000), 5000);           // first packet was queued 4 ms
  EXPECT_EQ(c.local_time(10000, 11000), 11000);     // this one was not
  EXPECT_EQ(c.offset_us(), 1000);
  EXPECT_EQ(c.local_time(20000, 21500), 21000);
}

TEST(SrtSourceClock, FollowsADriftWindowByWindow) {
  SrtSourceClock c(kSec);
  // Our clock runs 100 ppm faster than the sender's: the transit seen grows.
  for (int64_t i = 0; i <= 300; ++i) {
    int64_t ts = i * 10000;             // 10 ms apart, 3 s in all
    int64_t now = ts + ts / 10000 + 1000;  // + 1 us per 10 ms of drift, 1 ms transit
    int64_t local = c.local_time(ts, now);
    EXPECT_LE(local, now);
    // Never further behind its arrival than two windows' drift (100 us each).
    EXPECT_LE(now - local, 2 * 100 + 2);
  }
}

TEST(SrtSourceClock, UnwrapsThe32BitTimestamp) {
  SrtSourceClock c;
  const int64_t wrap = int64_t(1) << 32;
  int64_t first = c.local_time(wrap - 20000, 1'000'000);
  EXPECT_EQ(first, 1'000'000);
  // libsrt reports the raw 32-bit value: it restarts near zero.
  EXPECT_EQ(c.local_time(5000, 1'025'000), 1'025'000);
  EXPECT_EQ(c.local_time(15000, 1'035'000), 1'035'000);
}

TEST(SrtSourceClock, AnOlderMessageDeliveredLateKeepsItsOwnTime) {
  SrtSourceClock c;
  EXPECT_EQ(c.local_time(100000, 200000), 200000);
  EXPECT_EQ(c.local_time(110000, 210000), 210000);
  // Sent before the last one, retransmitted, delivered after it.
  EXPECT_EQ(c.local_time(90000, 215000), 190000);
  EXPECT_EQ(c.local_time(120000, 220000), 220000);
}

}  // namespace
}  // namespace sp
