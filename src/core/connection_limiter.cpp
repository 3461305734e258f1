// worker_connections accounting: see connection_limiter.h.
#include "core/connection_limiter.h"

#include "core/clock.h"
#include "core/log.h"

namespace sp {

bool ConnectionLimiter::try_acquire(const char* service) {
  if (used_ < limit_) {
    used_++;
    return true;
  }
  int64_t now = monotonic_ms();
  if (now - last_warn_ms_ >= 1000) {
    last_warn_ms_ = now;
    SP_PWARN("worker_connections (%d) reached, %s client refused", limit_, service);
  }
  return false;
}

}  // namespace sp
