// RTMP service: listeners, the connection limit and the sessions' lifetimes.
//
// The listening sockets belong to the worker's ListenerSet (the master opened
// them), so the evconnlisteners are created without LEV_OPT_CLOSE_ON_FREE:
// stop_accepting() frees them and the ListenerSet closes the sockets.
//
// An accept() that fails (out of descriptors) pauses the listener briefly
// instead of being retried at once: core/accept_backoff.h.
//
// A session tells the service it has ended from inside one of its own
// callbacks, so it cannot be destroyed there; it is handed to the graveyard
// (core/deferred_free.h), which destroys it on the next loop iteration.
#include "rtmp/rtmp_service.h"

#include <unistd.h>

#include <unordered_map>
#include <vector>

#include "core/accept_backoff.h"
#include "core/access_log.h"
#include "core/deferred_free.h"
#include "core/event_ptr.h"
#include "core/log.h"
#include "rtmp/handshake.h"
#include "rtmp/rtmp_conf.h"
#include "rtmp/rtmp_session.h"

namespace sp {
namespace {

class RtmpService final : public Service {
 public:
  explicit RtmpService(WorkerContext& ctx)
      : base_(ctx.base),
        limiter_(ctx.limiter),
        preconnect_(size_t(ctx.conf.module<RtmpConf>().preconnect_worker_buffer)),
        env_{ctx.base, ctx.conf.module<RtmpConf>(), ctx.registry_client, preconnect_} {}

  ~RtmpService() override {
    stop_accepting();
    // Ending sessions log their end; destroying them closes their sockets.
    for (auto& [ptr, session] : sessions_) session->abort("worker exiting");
    for (size_t i = 0; i < sessions_.size(); ++i) limiter_.release();
    sessions_.clear();
    graveyard_.flush();
  }

  Status start(WorkerContext& ctx) {
    rtmp::handshake::warm_up();
    if (Status st = access_log::use(metrics::Protocol::rtmp, ctx.conf.module<RtmpConf>().access_log, ctx.conf.access_log);
        !st.ok()) {
      return Status::Error("rtmp: " + st.message());
    }
    for (int fd : ctx.listeners.fds("rtmp")) {
      // backlog 0: the master already called listen(); the socket is not ours to close.
      ListenerPtr l(evconnlistener_new(base_, &RtmpService::on_accept, this, LEV_OPT_CLOSE_ON_EXEC, 0, fd));
      if (!l) return Status::Error("rtmp: evconnlistener_new failed on socket " + std::to_string(fd));
      backoffs_.push_back(std::make_unique<AcceptBackoff>(base_, l.get(), "rtmp"));
      listeners_.push_back(std::move(l));
    }
    return Status::Ok();
  }

  const char* name() const override { return "rtmp"; }
  void stop_accepting() override {
    backoffs_.clear();  // before the listeners they guard
    listeners_.clear();
  }
  size_t active_sessions() const override { return sessions_.size(); }

 private:
  static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int len, void* arg) {
    auto* self = static_cast<RtmpService*>(arg);
    if (!self->limiter_.try_acquire("rtmp")) {
      ::close(fd);
      return;
    }
    SockAddr peer = SockAddr::from(sa, socklen_t(len));
    auto session = std::make_unique<rtmp::Session>(self->env_, fd, peer,
                                                   [self](rtmp::Session* s) { self->ended(s); });
    rtmp::Session* raw = session.get();
    self->sessions_.emplace(raw, std::move(session));
    raw->start();
  }

  void ended(rtmp::Session* s) {
    auto it = sessions_.find(s);
    if (it == sessions_.end()) return;
    graveyard_.later(std::move(it->second));
    sessions_.erase(it);
    limiter_.release();
  }

  event_base* base_;
  ConnectionLimiter& limiter_;
  rtmp::PreconnectBudget preconnect_;  // before the sessions, which give their charges back to it
  rtmp::SessionEnv env_;
  std::vector<ListenerPtr> listeners_;
  std::vector<std::unique_ptr<AcceptBackoff>> backoffs_;  // one per listener
  std::unordered_map<rtmp::Session*, std::unique_ptr<rtmp::Session>> sessions_;
  DeferredFree graveyard_{base_};
};

}  // namespace

extern const ConfModule kRtmpConfModule;
extern const Module kRtmpModule = {&kRtmpConfModule, kRoleProtocol, make_service<RtmpService>};

}  // namespace sp
