// RAII owners for libsrt handles (sockets and epoll ids) plus small helpers
// to set socket options and read libsrt's last error, so no code path of the
// SRT service forgets an srt_close() or an srt_epoll_release().
//
// SRT handles are plain ints, so std::unique_ptr does not fit; these are the
// equivalent move-only wrappers.
#pragma once

#include <srt/srt.h>

#include <string>
#include <utility>

#include "core/result.h"

namespace sp {

class SrtSocket {
 public:
  SrtSocket() = default;
  explicit SrtSocket(SRTSOCKET s) : s_(s) {}
  ~SrtSocket() { reset(); }
  SrtSocket(SrtSocket&& o) noexcept : s_(std::exchange(o.s_, SRT_INVALID_SOCK)) {}
  SrtSocket& operator=(SrtSocket&& o) noexcept {
    if (this != &o) reset(std::exchange(o.s_, SRT_INVALID_SOCK));
    return *this;
  }
  SrtSocket(const SrtSocket&) = delete;
  SrtSocket& operator=(const SrtSocket&) = delete;

  SRTSOCKET get() const { return s_; }
  explicit operator bool() const { return s_ != SRT_INVALID_SOCK; }
  // srt_close() also removes the socket from every epoll it was in.
  void reset(SRTSOCKET s = SRT_INVALID_SOCK) {
    if (s_ != SRT_INVALID_SOCK) srt_close(s_);
    s_ = s;
  }

 private:
  SRTSOCKET s_ = SRT_INVALID_SOCK;
};

class SrtEpoll {
 public:
  SrtEpoll() = default;
  explicit SrtEpoll(int eid) : eid_(eid) {}
  ~SrtEpoll() { reset(); }
  SrtEpoll(SrtEpoll&& o) noexcept : eid_(std::exchange(o.eid_, -1)) {}
  SrtEpoll& operator=(SrtEpoll&& o) noexcept {
    if (this != &o) reset(std::exchange(o.eid_, -1));
    return *this;
  }
  SrtEpoll(const SrtEpoll&) = delete;
  SrtEpoll& operator=(const SrtEpoll&) = delete;

  int get() const { return eid_; }
  explicit operator bool() const { return eid_ >= 0; }
  void reset(int eid = -1) {
    if (eid_ >= 0) srt_epoll_release(eid_);
    eid_ = eid;
  }

 private:
  int eid_ = -1;
};

// libsrt's last error of this thread as text.
inline std::string srt_error_text() { return srt_getlasterror_str(); }

// Sets an option; the error names the option and libsrt's reason.
template <class T>
Status srt_set_option(SRTSOCKET s, SRT_SOCKOPT opt, const T& value, const char* name) {
  if (srt_setsockflag(s, opt, &value, sizeof(value)) == SRT_ERROR) {
    return Status::Error(std::string("setting ") + name + ": " + srt_error_text());
  }
  return Status::Ok();
}

inline Status srt_set_string_option(SRTSOCKET s, SRT_SOCKOPT opt, const std::string& value,
                                    const char* name) {
  if (srt_setsockflag(s, opt, value.data(), int(value.size())) == SRT_ERROR) {
    return Status::Error(std::string("setting ") + name + ": " + srt_error_text());
  }
  return Status::Ok();
}

}  // namespace sp
