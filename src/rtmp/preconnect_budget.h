// What a worker lets its unidentified RTMP clients make it buffer, all
// together: the `preconnect_worker_buffer` budget (rtmp_conf.cpp).
//
// A client is unidentified until the origin accepted its publish or play.
// Until then each session keeps its chunk reader on small limits
// (`preconnect_buffer`), and charges what its partial messages and the
// decoded commands it keeps for the origin hold to the worker's budget.
// The first kFreeBytes of every session are not charged: a real client's
// connect or publish needs less, so strangers that filled the budget cannot
// lock real clients out; what the free shares add up to is bounded by
// worker_connections, like the sockets' own kernel buffers.
//
// Pure bookkeeping, no I/O: the session asks how far it may grow
// (max_buffered), feeds, then reports what it holds (update), and gives its
// charge back when it is identified or ends (release).
#pragma once

#include <cstddef>

namespace sp::rtmp {

class PreconnectBudget {
 public:
  static constexpr size_t kFreeBytes = 4096;

  explicit PreconnectBudget(size_t limit) : limit_(limit) {}

  // The most a session now charged `charged` may make its reader hold.
  size_t max_buffered(size_t charged) const { return kFreeBytes + charged + (used_ < limit_ ? limit_ - used_ : 0); }

  // Records that the session's reader now holds `buffered` bytes.
  void update(size_t* charged, size_t buffered) {
    size_t now = buffered > kFreeBytes ? buffered - kFreeBytes : 0;
    used_ = used_ - *charged + now;
    *charged = now;
  }
  void release(size_t* charged) { update(charged, 0); }

  size_t used() const { return used_; }
  size_t limit() const { return limit_; }

 private:
  size_t limit_;
  size_t used_ = 0;
};

}  // namespace sp::rtmp
