// Sequence-order delivery of a TSBPD-off SRT receiver's messages: see
// srt_reorder.h.
#include "srt/srt_reorder.h"

namespace sp {

namespace {

constexpr int32_t kSeqMax = 0x7FFFFFFF;  // SRT sequence numbers are 31 bits

// Signed distance from a to b on the 31-bit circle.
int64_t seq_distance(int32_t a, int32_t b) {
  int64_t d = (int64_t(b) - int64_t(a)) & kSeqMax;
  return d > (int64_t(kSeqMax) >> 1) ? d - (int64_t(kSeqMax) + 1) : d;
}

}  // namespace

void SrtReorder::push(int32_t seq, const char* data, size_t len, int64_t srctime, int64_t now_us) {
  seq &= kSeqMax;
  if (!started_) {
    started_ = true;
    next_seq_ = seq;
    next_ = 0;
  }
  const int64_t u = next_ + seq_distance(next_seq_, seq);
  if (u < next_ || held_.count(u)) {
    ++dropped_;
    return;
  }
  Message& m = held_[u];
  m.data.assign(data, data + len);
  m.srctime = srctime;
  m.arrived_us = now_us;
}

bool SrtReorder::pop(Message* out, int64_t now_us) {
  if (held_.empty()) return false;
  auto first = held_.begin();
  if (first->first != next_) {
    const bool due = held_.size() > max_held_ || now_us - first->second.arrived_us >= max_wait_us_;
    if (!due) return false;
    skipped_ += uint64_t(first->first - next_);
  }
  *out = std::move(first->second);
  if (held_.size() > 1 && popped_) {
    const auto& after = *std::next(first);
    if (out->srctime > after.second.srctime && after.first > last_) {
      // Stamped when resent: placed between its neighbours.
      out->srctime = last_srctime_ + (after.second.srctime - last_srctime_) * (first->first - last_) /
                                         (after.first - last_);
    }
  }
  popped_ = true;
  last_ = first->first;
  last_srctime_ = out->srctime;
  const int64_t step = first->first + 1 - next_;
  next_ += step;
  next_seq_ = int32_t((int64_t(next_seq_) + step) & kSeqMax);
  held_.erase(first);
  return true;
}

}  // namespace sp
