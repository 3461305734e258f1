// Accept errors on a listening socket, handled without a busy loop.
//
// When accept() fails for lack of resources (EMFILE, ENFILE, ENOBUFS,
// ENOMEM) the pending connection stays in the kernel's queue, so the socket
// stays readable and libevent's evconnlistener, which keeps polling it, calls
// accept() again at once, forever: one core at 100% and, without an error
// callback, a libevent warning on stderr per try (a worker whose stderr is a
// pipe nobody reads then blocks in write(2) and serves no one).
//
// AcceptBackoff is the listener's error callback: it logs the error (at
// most once a second, with how many were not logged), stops accepting for
// kPauseMs and resumes from a timer, so accepting is retried ten times a
// second until descriptors are free again.
#pragma once

#include <event2/listener.h>

#include <cstdint>
#include <string>

#include "core/event_ptr.h"

namespace sp {

class AcceptBackoff {
 public:
  static constexpr int64_t kPauseMs = 100;

  // Becomes l's error callback. `what` names the listener in the log line
  // ("rtmp", "http_stream", ...). Must be destroyed before l is freed.
  AcceptBackoff(event_base* base, evconnlistener* l, std::string what);
  ~AcceptBackoff();
  AcceptBackoff(const AcceptBackoff&) = delete;
  AcceptBackoff& operator=(const AcceptBackoff&) = delete;

  uint64_t errors() const { return errors_; }

 private:
  static void on_error(evconnlistener* l, void* arg);
  static void on_resume(evutil_socket_t, short, void* arg);

  evconnlistener* listener_;
  std::string what_;
  EventPtr resume_;
  int64_t last_log_ms_ = -1000000;
  uint64_t errors_ = 0;
  uint64_t unlogged_ = 0;
};

}  // namespace sp
