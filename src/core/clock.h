// Time sources. The registry stores CLOCK_MONOTONIC milliseconds: the same clock
// in every process of the machine, and immune to wall-clock jumps.
#pragma once

#include <cstdint>
#include <ctime>

namespace sp {

inline int64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace sp
