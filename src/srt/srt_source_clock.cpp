// Maps a TSBPD-off receiver's packet timestamps to the local clock: see
// srt_source_clock.h.
#include "srt/srt_source_clock.h"

#include <algorithm>

namespace sp {

int64_t SrtSourceClock::local_time(int64_t srctime, int64_t now_us) {
  const uint32_t raw = uint32_t(uint64_t(srctime));
  // Unwrapped through the signed distance from the newest timestamp: a wrap
  // moves forward, an older message (behind the newest) moves back.
  const int32_t step = started_ ? int32_t(raw - last_raw_) : 0;
  const int64_t ts = started_ ? last_ts_ + step : int64_t(raw);
  if (!started_ || step >= 0) {
    last_raw_ = raw;
    last_ts_ = ts;
  }
  const int64_t transit = now_us - ts;  // the true transit plus the clocks' offset
  if (!started_) {
    started_ = true;
    offset_ = window_min_ = transit;
    window_start_ = now_us;
  } else {
    window_min_ = std::min(window_min_, transit);
    if (transit < offset_) offset_ = transit;  // never later than its arrival
    if (now_us - window_start_ >= window_us_) {
      offset_ = window_min_;  // follows a drift either way
      window_min_ = transit;
      window_start_ = now_us;
    }
  }
  return std::min(ts + offset_, now_us);
}

}  // namespace sp
