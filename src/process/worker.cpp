// Worker event loop, its signals and graceful stop: see worker.h.
#include "process/worker.h"

#include <signal.h>
#include <unistd.h>

#include "api/system_api.h"
#include "core/clock.h"
#include "core/event_ptr.h"
#include "core/log.h"
#include "http/http_stream.h"
#include "process/startup.h"
#include "rtc/rtc_service.h"
#include "rtmp/rtmp_service.h"
#include "srt/srt_service.h"

namespace sp {

namespace {

constexpr int64_t kDefaultBackendRefreshMs = 30 * 1000;
constexpr int64_t kExpireIntervalMs = 1000;
constexpr int64_t kDrainCheckMs = 100;

// The system API as a service of the API worker.
class SystemApiService : public Service {
 public:
  explicit SystemApiService(WorkerContext& ctx) : api_(ctx.base, ctx.conf, ctx.registry) {}
  Status start(const std::vector<int>& fds) { return api_.start(fds); }
  const char* name() const override { return "system_api"; }
  void stop_accepting() override { api_.stop_accepting(); }
  size_t active_sessions() const override { return 0; }

 private:
  SystemApi api_;
};

Result<std::unique_ptr<Service>> make_system_api(WorkerContext& ctx) {
  auto svc = std::make_unique<SystemApiService>(ctx);
  Status st = svc->start(ctx.listeners.fds(ListenerKind::system_api));
  if (!st.ok()) return st;
  return std::unique_ptr<Service>(std::move(svc));
}

// Protocol services of a protocol worker, each declared in its own folder;
// each serves the listeners of its kind in the configuration (maybe none).
const ServiceFactory kProtocolFactories[] = {
    make_rtmp_service,
    make_http_stream_service,
    make_webrtc_service,
    make_srt_service,
};

class Worker {
 public:
  Worker(const Config& conf, Registry& registry, ListenerSet& listeners, int roles, int slot, SrtDrainBoard* board)
      : conf_(conf), registry_(registry), listeners_(listeners), roles_(roles), slot_(slot), srt_board_(board) {}

  int run() {
    base_.reset(event_base_new());
    if (!base_) {
      SP_PERROR("event_base_new() failed");
      return 1;
    }
    WorkerContext ctx{base_.get(), conf_, registry_, listeners_, slot_, limiter_, srt_board_};
    // A service that cannot start is a configuration problem: the master
    // stops instead of respawning this worker every second (startup.h).
    if (!start_services(ctx)) return kExitStartupFailed;
    report_started();
    watch_signals();
    if (roles_ & kRoleApi) start_api_jobs();
    event_base_dispatch(base_.get());
    services_.clear();  // sessions and their sockets close here
    SP_PINFO("exiting");
    return 0;
  }

 private:
  bool start_services(WorkerContext& ctx) {
    if (roles_ & kRoleApi) {
      auto svc = make_system_api(ctx);
      if (!svc.ok()) {
        SP_PERROR("system api: %s", svc.error().c_str());
        report_startup_failure("system api: " + svc.error());
        return false;
      }
      services_.push_back(std::move(*svc));
    }
    if (roles_ & kRoleProtocol) {
      for (ServiceFactory make : kProtocolFactories) {
        auto svc = make(ctx);
        if (!svc.ok()) {
          SP_PERROR("%s", svc.error().c_str());
          report_startup_failure(svc.error());
          return false;
        }
        services_.push_back(std::move(*svc));
      }
    }
    return true;
  }

  void watch_signals() {
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);   // only the master reloads
    signal(SIGUSR2, SIG_IGN);  // only the master reads the SRT drain board
    add_signal(SIGQUIT, &Worker::on_quit);
    add_signal(SIGTERM, &Worker::on_terminate);
    add_signal(SIGINT, &Worker::on_terminate);
    add_signal(SIGUSR1, &Worker::on_reopen);
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
    Status st = log::reopen();
    if (!st.ok()) SP_PERROR("reopening log: %s", st.message().c_str());
    else SP_PNOTICE("log reopened");
  }

  size_t active_sessions() const {
    size_t n = 0;
    for (const auto& s : services_) n += s->active_sessions();
    return n;
  }

  void start_api_jobs() {
    api_jobs_.push_back(add_timer(kExpireIntervalMs, true, [](evutil_socket_t, short, void* arg) {
      static_cast<Worker*>(arg)->registry_.expire(monotonic_ms());
    }));
    if (!conf_.default_backend.enabled) return;
    refresh_default_backend(-1, 0, this);
    api_jobs_.push_back(add_timer(kDefaultBackendRefreshMs, true, refresh_default_backend));
  }

  static void refresh_default_backend(evutil_socket_t, short, void* arg) {
    auto* w = static_cast<Worker*>(arg);
    Status st = w->registry_.register_origin(default_backend_spec(w->conf_.default_backend), monotonic_ms());
    if (!st.ok()) SP_PERROR("default backend registration failed: %s", st.message().c_str());
  }

  const Config& conf_;
  Registry& registry_;
  ListenerSet& listeners_;
  int roles_;
  int slot_;
  SrtDrainBoard* srt_board_;
  ConnectionLimiter limiter_{conf_.worker_connections};
  bool quitting_ = false;
  EventBasePtr base_;
  std::vector<std::unique_ptr<Service>> services_;
  std::vector<std::unique_ptr<std::pair<Worker*, void (Worker::*)()>>> thunks_;
  std::vector<EventPtr> api_jobs_;
  std::vector<EventPtr> events_;  // declared last: freed before base_ and thunks_
};

}  // namespace

OriginSpec default_backend_spec(const DefaultBackendConf& conf) {
  OriginSpec spec;
  spec.server = "default-backend";
  spec.service = "default-backend";
  spec.pid = "0";
  spec.device_id = "default_backend";
  spec.ip = conf.ip;
  const std::pair<Proto, const std::string*> eps[] = {{Proto::rtmp, &conf.rtmp}, {Proto::http, &conf.http},
                                                      {Proto::api, &conf.api},   {Proto::srt, &conf.srt},
                                                      {Proto::rtc, &conf.rtc}};
  for (const auto& [proto, text] : eps) {
    if (text->empty()) continue;
    auto ep = parse_endpoint(*text);  // validated with the configuration
    if (ep.ok()) spec.endpoints[int(proto)].push_back(*ep);
  }
  return spec;
}

int run_worker(const Config& conf, Registry& registry, ListenerSet& listeners, int roles, int slot,
               SrtDrainBoard* srt_board) {
  Worker w(conf, registry, listeners, roles, slot, srt_board);
  return w.run();
}

}  // namespace sp
