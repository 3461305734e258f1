// Worker event loop, its signals and graceful stop: see worker.h.
#include "process/worker.h"

#include <signal.h>
#include <unistd.h>

#include "core/access_log.h"
#include "core/clock.h"
#include "core/event_ptr.h"
#include "core/log.h"
#include "core/metrics.h"
#include "process/startup.h"

namespace sp {

namespace {

constexpr int64_t kExpireIntervalMs = 1000;
constexpr int64_t kDrainCheckMs = 100;

class Worker {
 public:
  Worker(Cycle& cycle, Registry& registry, int roles, int slot, const std::vector<MasterHook*>& hooks)
      : conf_(cycle.conf), registry_(registry), listeners_(cycle.listeners), roles_(roles), slot_(slot), hooks_(hooks) {}

  int run() {
    base_.reset(event_base_new());
    if (!base_) {
      SP_PERROR("event_base_new() failed");
      return 1;
    }
    // A service that cannot start is a configuration problem: the master
    // stops instead of respawning this worker every second (startup.h).
    auto client = make_registry_client(conf_, registry_, base_.get());
    if (!client.ok()) {
      SP_PERROR("registry: %s", client.error().c_str());
      report_startup_failure(client.error());
      return kExitStartupFailed;
    }
    registry_client_ = std::move(*client);
    if (!start_services()) return kExitStartupFailed;
    report_started();
    watch_signals();
    if (roles_ & kRoleApi) start_api_jobs();
    event_base_dispatch(base_.get());
    services_.clear();  // sessions and their sockets close here
    registry_client_.reset();
    SP_PINFO("exiting");
    return 0;
  }

 private:
  // Every module the role asks for, in the list's order.
  bool start_services() {
    std::span<const Module* const> list = modules();
    for (size_t i = 0; i < list.size(); i++) {
      const Module* m = list[i];
      if (!m->make_service || !(m->roles & roles_)) continue;
      MasterHook* hook = i < hooks_.size() ? hooks_[i] : nullptr;
      WorkerContext ctx{base_.get(), conf_, registry_, *registry_client_, listeners_, slot_, limiter_, hook};
      auto svc = m->make_service(ctx);
      if (!svc.ok()) {
        SP_PERROR("%s", svc.error().c_str());
        report_startup_failure(svc.error());
        return false;
      }
      services_.push_back(std::move(*svc));
    }
    return true;
  }

  void watch_signals() {
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);   // only the master reloads
    signal(SIGUSR2, SIG_IGN);  // only the master reads the modules' notes (MasterHook)
    add_signal(SIGQUIT, &Worker::on_quit);
    add_signal(SIGTERM, &Worker::on_terminate);
    add_signal(SIGINT, &Worker::on_terminate);
    add_signal(SIGUSR1, &Worker::on_reopen);
    // Forked with the master's signals blocked (process/master.cpp); only
    // now that every one has a handler (or is ignored) may they arrive. A
    // signal sent in between was held pending and is delivered here.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
  }

  void add_signal(int signo, void (Worker::*handler)()) {
    struct Thunk {
      static void cb(evutil_socket_t, short, void* arg) {
        auto* p = static_cast<std::pair<Worker*, void (Worker::*)()>*>(arg);
        (p->first->*(p->second))();
      }
    };
    thunks_.push_back(std::make_unique<std::pair<Worker*, void (Worker::*)()>>(this, handler));
    EventPtr ev(evsignal_new(base_.get(), signo, Thunk::cb, thunks_.back().get()));
    evsignal_add(ev.get(), nullptr);
    events_.push_back(std::move(ev));
  }

  EventPtr add_timer(int64_t ms, bool persist, void (*cb)(evutil_socket_t, short, void*)) {
    EventPtr ev(event_new(base_.get(), -1, persist ? EV_PERSIST : 0, cb, this));
    timeval tv = ms_to_timeval(ms);
    event_add(ev.get(), &tv);
    return ev;
  }

  void on_quit() {
    if (quitting_) return;
    quitting_ = true;
    SP_PNOTICE("gracefully shutting down");
    for (auto& s : services_) s->stop_accepting();
    listeners_.close_all();
    api_jobs_.clear();
    events_.push_back(add_timer(kDrainCheckMs, true, [](evutil_socket_t, short, void* arg) {
      auto* w = static_cast<Worker*>(arg);
      if (w->active_sessions() == 0) event_base_loopexit(w->base_.get(), nullptr);
    }));
    events_.push_back(add_timer(conf_.shutdown_timeout_ms, false, [](evutil_socket_t, short, void* arg) {
      auto* w = static_cast<Worker*>(arg);
      SP_PWARN("shutdown_timeout reached, closing %zu sessions", w->active_sessions());
      event_base_loopexit(w->base_.get(), nullptr);
    }));
    if (active_sessions() == 0) event_base_loopexit(base_.get(), nullptr);
  }

  void on_terminate() {
    SP_PNOTICE("exiting now, %zu sessions closed", active_sessions());
    event_base_loopbreak(base_.get());
  }

  void on_reopen() {
    if (Status al = access_log::reopen(); !al.ok()) SP_PERROR("reopening access log: %s", al.message().c_str());
    Status st = log::reopen();
    if (!st.ok()) SP_PERROR("reopening log: %s", st.message().c_str());
    else SP_PNOTICE("log reopened");
  }

  size_t active_sessions() const {
    size_t n = 0;
    for (const auto& s : services_) n += s->active_sessions();
    return n;
  }

  // The registry's housekeeping (expiry; with Redis this proxy's heartbeat)
  // and the per-origin byte rates of the pick load (every ~2 s, from the
  // metrics) run in one process: the API worker.
  void start_api_jobs() {
    api_jobs_.push_back(add_timer(kExpireIntervalMs, true, [](evutil_socket_t, short, void* arg) {
      Worker* w = static_cast<Worker*>(arg);
      int64_t now = monotonic_ms();
      w->registry_client_->tick(now);
      w->rate_meter_.tick(*w->registry_client_, now);
    }));
  }

  const Config& conf_;
  Registry& registry_;
  std::unique_ptr<RegistryClient> registry_client_;
  ListenerSet& listeners_;
  int roles_;
  int slot_;
  const std::vector<MasterHook*>& hooks_;
  ConnectionLimiter limiter_{conf_.worker_connections};
  bool quitting_ = false;
  EventBasePtr base_;
  std::vector<std::unique_ptr<Service>> services_;
  std::vector<std::unique_ptr<std::pair<Worker*, void (Worker::*)()>>> thunks_;
  std::vector<EventPtr> api_jobs_;
  OriginRateMeter rate_meter_{
      [](int slot, std::string_view server) { return metrics::origin_bytes(metrics::area(), slot, server); }};
  std::vector<EventPtr> events_;  // declared last: freed before base_ and thunks_
};

}  // namespace

int run_worker(Cycle& cycle, Registry& registry, int roles, int slot, const std::vector<MasterHook*>& hooks) {
  Worker w(cycle, registry, roles, slot, hooks);
  return w.run();
}

}  // namespace sp
