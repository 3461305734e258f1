// Request deadlines for evhttp servers: see evhttp_deadline.h.
#include "core/evhttp_deadline.h"

#include <event2/buffer.h>

#include "core/clock.h"
#include "core/log.h"

namespace sp {

EvhttpDeadlines::Conn::~Conn() {
  if (ref_held) bufferevent_decref(bev);
}

EvhttpDeadlines::EvhttpDeadlines(event_base* base, int64_t timeout_ms, std::string what,
                                 ConnectionLimiter* limiter)
    : base_(base),
      timeout_ms_(timeout_ms),
      what_(std::move(what)),
      limiter_(limiter),
      reaper_(event_new(base, -1, 0, &EvhttpDeadlines::on_reap, this)) {}

// Connections still open belong to evhttps being freed after us only if the
// owner broke the declared order; either way no evhttp object is touched.
EvhttpDeadlines::~EvhttpDeadlines() = default;

void EvhttpDeadlines::attach(evhttp* http, BevMaker make, void* make_arg) {
  makers_.push_back(std::make_unique<Maker>(Maker{this, make, make_arg}));
  evhttp_set_bevcb(http, &EvhttpDeadlines::on_new_bev, makers_.back().get());
}

bufferevent* EvhttpDeadlines::on_new_bev(event_base* base, void* arg) {
  auto* m = static_cast<Maker*>(arg);
  bufferevent* bev = m->make ? m->make(base, m->arg) : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) return nullptr;
  EvhttpDeadlines* self = m->owner;
  auto c = std::make_unique<Conn>();
  c->owner = self;
  c->bev = bev;
  c->since_ms = monotonic_ms();
  c->timer.reset(event_new(base, -1, 0, &EvhttpDeadlines::on_timer, c.get()));
  if (!c->timer) return bev;  // unwatched, as before; evhttp's own timeout still applies
  // evhttp sets the bufferevent's callbacks (and so names its connection)
  // after we return: adopt it from the loop, holding it alive meanwhile.
  bufferevent_incref(bev);
  c->ref_held = true;
  event_active(c->timer.get(), EV_TIMEOUT, 0);
  self->by_bev_[bev] = std::move(c);
  return bev;
}

void EvhttpDeadlines::on_timer(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  if (!c->evcon) return c->owner->adopt(c, true);
  c->owner->expire(c);
}

void EvhttpDeadlines::adopt(Conn* c, bool may_refuse) {
  if (c->evcon) return;
  bufferevent_event_cb eventcb = nullptr;
  void* cbarg = nullptr;
  bufferevent_getcb(c->bev, nullptr, nullptr, &eventcb, &cbarg);
  if (!eventcb || !cbarg) return drop(c);  // evhttp already freed it (our reference kept it)
  c->evcon = static_cast<evhttp_connection*>(cbarg);
  by_evcon_[c->evcon] = c;
  evhttp_connection_set_closecb(c->evcon, &EvhttpDeadlines::on_close, this);
  bufferevent_decref(c->bev);  // evhttp's own from now on; on_close tells us when it goes
  c->ref_held = false;
  if (limiter_) {
    c->counted = limiter_->try_acquire(what_.c_str());
    if (!c->counted && may_refuse) {
      evhttp_connection_free(c->evcon);  // the close callback drops our record
      return;
    }
  }
  arm(c);
}

void EvhttpDeadlines::arm(Conn* c) {
  int64_t left = c->since_ms + timeout_ms_ - monotonic_ms();
  timeval tv = ms_to_timeval(left > 0 ? left : 0);
  evtimer_add(c->timer.get(), &tv);
}

void EvhttpDeadlines::expire(Conn* c) {
  if (c->busy) return;
  char* host = nullptr;
  uint16_t port = 0;
  evhttp_connection_get_peer(c->evcon, &host, &port);
  std::string peer = std::string(host ? host : "?") + ":" + std::to_string(port);
  // Bytes of an unfinished line still wait in the input: a trickled request.
  bool partial = evbuffer_get_length(bufferevent_get_input(c->bev)) > 0;
  SP_LOG(partial ? LogLevel::warn : LogLevel::info, log::process_context(),
         "%s: no complete request from %s within %lld ms, closed", what_.c_str(), peer.c_str(),
         static_cast<long long>(timeout_ms_));
  // Freed directly rather than through evhttp's timeout path, which
  // detaches the unfinished request from the connection and never frees it.
  // No request is in our hands (not busy); the close callback drops our record.
  evhttp_connection_free(c->evcon);
}

void EvhttpDeadlines::on_request(evhttp_request* req) {
  evhttp_connection* evcon = evhttp_request_get_connection(req);
  if (!evcon) return;
  auto it = by_evcon_.find(evcon);
  if (it == by_evcon_.end()) {
    auto b = by_bev_.find(evhttp_connection_get_bufferevent(evcon));
    if (b == by_bev_.end()) return;
    adopt(b->second.get(), false);
    it = by_evcon_.find(evcon);
    if (it == by_evcon_.end()) return;
  }
  Conn* c = it->second;
  c->busy = true;
  evtimer_del(c->timer.get());
  evhttp_request_set_on_complete_cb(req, &EvhttpDeadlines::on_complete, this);
}

void EvhttpDeadlines::on_complete(evhttp_request* req, void* arg) {
  auto* self = static_cast<EvhttpDeadlines*>(arg);
  auto it = self->by_evcon_.find(evhttp_request_get_connection(req));
  if (it == self->by_evcon_.end()) return;
  Conn* c = it->second;
  c->busy = false;
  c->since_ms = monotonic_ms();
  self->arm(c);
}

void EvhttpDeadlines::set_close_hook(evhttp_connection* evcon, CloseHook hook, void* arg) {
  auto it = by_evcon_.find(evcon);
  if (it == by_evcon_.end()) {
    auto b = by_bev_.find(evhttp_connection_get_bufferevent(evcon));
    if (b != by_bev_.end()) adopt(b->second.get(), false);
    it = by_evcon_.find(evcon);
  }
  if (it == by_evcon_.end()) {  // not ours (attach() not used): plain close callback
    evhttp_connection_set_closecb(evcon, hook, arg);
    return;
  }
  it->second->hook = hook;
  it->second->hook_arg = arg;
}

void EvhttpDeadlines::on_close(evhttp_connection* evcon, void* arg) {
  auto* self = static_cast<EvhttpDeadlines*>(arg);
  auto it = self->by_evcon_.find(evcon);
  if (it == self->by_evcon_.end()) return;
  Conn* c = it->second;
  if (c->hook) c->hook(evcon, c->hook_arg);
  self->drop(c);
}

void EvhttpDeadlines::drop(Conn* c) {
  if (c->evcon) by_evcon_.erase(c->evcon);
  if (c->counted) limiter_->release();
  c->counted = false;
  auto it = by_bev_.find(c->bev);
  if (it == by_bev_.end()) return;
  if (c->timer) event_del(c->timer.get());
  // We may be inside this connection's own timer callback: free it later.
  graveyard_.push_back(std::move(it->second));
  by_bev_.erase(it);
  event_active(reaper_.get(), EV_TIMEOUT, 0);
}

void EvhttpDeadlines::on_reap(evutil_socket_t, short, void* arg) {
  static_cast<EvhttpDeadlines*>(arg)->graveyard_.clear();
}

}  // namespace sp
