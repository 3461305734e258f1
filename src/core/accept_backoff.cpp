// Accept errors without a busy loop: see accept_backoff.h.
#include "core/accept_backoff.h"

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "core/clock.h"
#include "core/log.h"

namespace sp {
namespace {

// libevent hands the error callback the listener's own user data (the
// accept callback's: the service's), not ours, so each
// listener's backoff is found by its pointer. Workers are single-threaded.
std::unordered_map<evconnlistener*, AcceptBackoff*>& backoffs() {
  static std::unordered_map<evconnlistener*, AcceptBackoff*> map;
  return map;
}

}  // namespace

AcceptBackoff::AcceptBackoff(event_base* base, evconnlistener* l, std::string what)
    : listener_(l), what_(std::move(what)), resume_(evtimer_new(base, &AcceptBackoff::on_resume, this)) {
  backoffs()[listener_] = this;
  evconnlistener_set_error_cb(listener_, &AcceptBackoff::on_error);
}

// The listener is not touched here: it may already be freed. Its error
// callback finds no entry and does nothing, and the resume timer goes with us.
AcceptBackoff::~AcceptBackoff() { backoffs().erase(listener_); }

void AcceptBackoff::on_error(evconnlistener* l, void*) {
  int err = EVUTIL_SOCKET_ERROR();  // accept()'s errno, untouched since
  auto it = backoffs().find(l);
  if (it == backoffs().end()) return;
  AcceptBackoff* self = it->second;
  self->errors_++;
  int64_t now = monotonic_ms();
  if (now - self->last_log_ms_ >= 1000) {
    std::string more = self->unlogged_ ? " (" + std::to_string(self->unlogged_) + " more since the last line)" : "";
    SP_PWARN("%s: accept() failed: %s; accepting again in %lld ms%s", self->what_.c_str(), strerror(err),
             static_cast<long long>(kPauseMs), more.c_str());
    self->last_log_ms_ = now;
    self->unlogged_ = 0;
  } else {
    self->unlogged_++;
  }
  evconnlistener_disable(l);
  timeval tv = ms_to_timeval(kPauseMs);
  if (self->resume_) evtimer_add(self->resume_.get(), &tv);
}

void AcceptBackoff::on_resume(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<AcceptBackoff*>(arg);
  evconnlistener_enable(self->listener_);
}

}  // namespace sp
