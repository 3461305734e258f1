// Source time of relayed SRT packets, for a hop the proxy receives with
// timestamp-based delivery off (see srt_relay.h: "Latency").
//
// With SRTO_TSBPDMODE off, libsrt hands a packet over as soon as it is in
// order and reports as its srctime the sender's own packet timestamp: the
// microseconds since the sender's socket started, 32 bits that wrap every
// ~71.6 minutes, on the sender's clock. SrtSourceClock turns that into a time
// on the local steady clock (srt_time_now()), which srt_sendmsg2() takes as
// the source time of the packet sent on to the next hop, so the next
// receiver's TSBPD plays each packet at its original time plus its latency,
// as if there were no proxy in between, whatever a retransmission on the
// first hop delayed.
//
// The mapping is local = timestamp + offset, where offset is the smallest
// (arrival time - timestamp) seen: the packets that were not delayed by a
// retransmission or queueing. The minimum is taken over windows (1 s by
// default), so a drift between the sender's clock and ours is followed, and
// any packet arriving faster than the current offset allows lowers it at
// once (a packet is never made to look sent after it arrived). A message
// that arrives after later ones (a retransmission) keeps its own earlier
// time; the relay sends in sequence order (SrtReorder) and keeps the next
// hop's times from going backwards.
//
// Pure (no libsrt): unit-tested in srt_source_clock_test.cpp.
#pragma once

#include <cstdint>

namespace sp {

class SrtSourceClock {
 public:
  SrtSourceClock() = default;
  explicit SrtSourceClock(int64_t window_us) : window_us_(window_us) {}

  // `srctime`: SRT_MSGCTRL::srctime of a message received with TSBPD off;
  // `now_us`: the local steady clock at its arrival. Returns its source time
  // on the local clock, at most `now_us`.
  int64_t local_time(int64_t srctime, int64_t now_us);

  // The current offset (local - unwrapped sender timestamp); for tests.
  int64_t offset_us() const { return offset_; }

 private:
  int64_t window_us_ = 1'000'000;
  bool started_ = false;
  uint32_t last_raw_ = 0;     // newest 32-bit timestamp seen
  int64_t last_ts_ = 0;       // the same, unwrapped
  int64_t offset_ = 0;        // in use
  int64_t window_min_ = 0;    // smallest (now - ts) of the current window
  int64_t window_start_ = 0;  // local time the current window began
};

}  // namespace sp
