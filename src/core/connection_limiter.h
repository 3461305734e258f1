// worker_connections: one budget shared by every service of a worker. A
// service asks before it takes a client and gives the slot back when the
// session ends; a refusal is logged at most once a second.
#pragma once

#include <cstdint>

namespace sp {

class ConnectionLimiter {
 public:
  explicit ConnectionLimiter(int limit) : limit_(limit) {}
  // `service` names the listener kind in the refusal's log line.
  bool try_acquire(const char* service);
  void release() {
    if (used_ > 0) used_--;
  }
  int used() const { return used_; }

 private:
  int limit_;
  int used_ = 0;
  int64_t last_warn_ms_ = 0;
};

}  // namespace sp
