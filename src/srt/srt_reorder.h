// Puts back into sequence order the messages of an SRT hop the proxy
// receives with TSBPD off (see srt_relay.h, "Latency").
//
// libsrt delivers a live-mode message whose sender did not ask for in-order
// delivery (srt_sendmsg2's default, what ffmpeg and srt-live-transmit send)
// as soon as it arrives when TSBPD is off: a retransmitted message comes
// after the ones sent behind it. With TSBPD on, the play-out time put them
// in order; here the proxy does it, by the packet sequence number libsrt
// reports (SRT_MSGCTRL::pktseq; one live message is one packet), so the next
// hop gets them in their original order.
//
// Their times too: a sender whose receiver has TSBPD off stamps a
// retransmitted packet with the time it is sent again, not its original
// one. A message that comes out of order with a later time than the message
// after it (held behind the gap) gets a time between its neighbours',
// interpolated by sequence number, so the end receiver plays it in its
// place rather than late.
//
// Bounded: a gap is given up (the messages after it go on) once the first
// message held behind it has waited `max_wait_us` (it would be too late for
// the end receiver) or `max_held` messages are held.
//
// Pure (no libsrt): unit-tested in srt_reorder_test.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace sp {

class SrtReorder {
 public:
  struct Message {
    std::vector<char> data;
    int64_t srctime = 0;  // passed through
    int64_t arrived_us = 0;
  };

  SrtReorder(size_t max_held, int64_t max_wait_us) : max_held_(max_held), max_wait_us_(max_wait_us) {}

  // One received message. A message behind what was already passed on (a
  // duplicate, or one whose gap was given up) is dropped and counted.
  void push(int32_t seq, const char* data, size_t len, int64_t srctime, int64_t now_us);

  // The next message in order, if it is there; gives up a gap first if it
  // is due (see above).
  bool pop(Message* out, int64_t now_us);

  size_t held() const { return held_.size(); }
  uint64_t skipped() const { return skipped_; }  // messages never received
  uint64_t dropped() const { return dropped_; }  // received too late or twice

 private:
  size_t max_held_;
  int64_t max_wait_us_;
  bool popped_ = false;    // last_ and last_srctime_ are set
  int64_t last_ = 0;       // unwrapped sequence number of the last popped
  int64_t last_srctime_ = 0;
  bool started_ = false;
  int32_t next_seq_ = 0;   // libsrt's 31-bit sequence number expected next
  int64_t next_ = 0;       // the same, unwrapped
  std::map<int64_t, Message> held_;  // by unwrapped sequence number
  uint64_t skipped_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace sp
