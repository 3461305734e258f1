// SRT service: libsrt listener, listen callback, one I/O thread, relays.
//
// Design
// ------
// Threads. libsrt runs its own threads (a receive and a send thread per UDP
// multiplexer, a GC thread) and offers its own epoll, which a libevent loop
// cannot watch. The service therefore owns ONE thread (per worker) that does
// all SRT I/O: it waits in srt_epoll_uwait() on the listener(s) and on both
// sockets of every relay, accepts, connects to origins and moves messages.
// A relay is SRT<->SRT, so it never needs the libevent loop. The wait has a
// 100 ms timeout, which is when idle/connect deadlines and the stop flags are
// looked at: a tick, not a busy loop.
//   The loop thread and the SRT thread meet in two places only:
//   - stop_accepting()/destruction set atomic flags the SRT thread reads on
//     its next tick (<= 100 ms later), and the destructor joins the thread;
//   - worker_connections: the ConnectionLimiter belongs to the loop thread,
//     so the SRT thread posts "acquire"/"release" notes to it through a
//     mutex-guarded queue and an eventfd the loop watches. A caller the
//     limiter refuses is handed back and closed on the next tick. (Accepted
//     first, counted a moment later: the limit is exact, the refusal is not
//     instantaneous.)
//   - the registry: the RegistryClient belongs to the loop thread too; the
//     SRT threads reach it through SrtRegistry (srt_registry.h), directly
//     with the memory backend, through a queue and the same eventfd with
//     Redis (picks answered back to the SRT thread). See "Waiting for the
//     registry" in srt_service.h.
//   The listen callback runs on libsrt's receive thread; it parses the
//   streamid and, with the memory backend only, asks the registry at once
//   (process-shared and locked, so any thread may).
//
// libsrt start-up. srt_startup() runs after fork, in the one worker that
// serves SRT, when the service starts; srt_cleanup() when it is destroyed.
// The master never loads libsrt state.
//
// Workers and the UDP socket. The master opens the `srt { listen }` UDP
// socket (the "srt" listener) and every worker inherits it, but libsrt's
// multiplexer must be the only reader of its UDP socket: a datagram read by
// another process would be lost to the session it belongs to (libsrt routes
// by the SRT socket id inside the packet, which the kernel cannot). So only
// worker slot 0 serves SRT; it gives libsrt a dup of the inherited socket
// with srt_bind_acquire() (libsrt closes its copy when the multiplexer goes),
// and the other workers leave their copies alone. One worker bounds SRT to
// one core for the client-facing side; the origin-facing sockets are ordinary
// libsrt callers with multiplexers of their own.
//
// Reload. Each generation's slot 0 reads a UDP socket of its own; the
// sockets of one address form a SO_REUSEPORT group whose BPF program the
// master keeps pointing each datagram at the right generation by its SRT
// destination socket id (srt/srt_steering.h, srt/srt_groups.h). At a
// graceful stop (QUIT or reload) this service closes its listener(s), so no
// new caller is accepted, and publishes the ids of the client sockets it
// keeps on the master's drain board; from then on the master sends new
// callers to the new generation and these sessions' packets here. They run
// on until they end or shutdown_timeout passes, as RTMP and HTTP sessions
// do. (A handshake caught mid-way by the switch gets no answer from the old
// worker; the caller's retry reaches the new one.)
//
// Rejections (in the listen callback, before libsrt accepts), the code from
// the error's kind (srt_reject_for, srt/srt_route.h): a malformed streamid
// -> SRT_REJX_BAD_REQUEST (1400); no alive origin with an `srt` endpoint, or
// a full registry -> 1503 (SRT_REJX_DOWN, "service unavailable"; libsrt 1.5.1
// has no separate UNAVAILABLE constant) with the memory backend (with Redis
// the pick is answered after the caller was accepted, which is then closed
// with the reason logged: srt_service.h, "Waiting for the registry"); a streamid whose srsproxy= chain already
// lists this proxy (a proxy loop, core/proxy_loop.h) -> 1508; a streamid that
// cannot carry the loop marker onward (srt_streamid_for_origin) -> 1400; each
// logged once with the peer address. A
// wrong or missing passphrase is rejected by libsrt itself (BADSECRET /
// UNSECURE). An origin that refuses or does not answer within
// connect_timeout ends the session with a logged reason, unless a connect
// failure (not the origin application's refusal) came early enough to retry
// on the origin the stream moved to (retry_or_end). A silent origin (nothing
// on its UDP port) fails only when SRTO_CONNTIMEO = connect_timeout ends, so
// its callers have no time left to retry; its next callers go elsewhere.
#include "srt/srt_service.h"

#include <srt/access_control.h>
#include <srt/logging_api.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syslog.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/access_log.h"
#include "core/clock.h"
#include "core/event_ptr.h"
#include "core/unique_fd.h"
#include "core/log.h"
#include "core/proxy_loop.h"
#include "srt/srt_conf.h"
#include "srt/srt_groups.h"
#include "srt/srt_handle.h"
#include "srt/srt_registry.h"
#include "srt/srt_relay.h"
#include "srt/srt_route.h"

namespace sp {

namespace {

constexpr int64_t kTickMs = 100;
constexpr int64_t kPollMs = 10;  // reads of the as-received sides: see run()
constexpr int kListenBacklog = 1024;
constexpr int kMaxEvents = 256;

static_assert(kSrtRejectBadRequest == SRT_REJX_BAD_REQUEST);
static_assert(kSrtRejectUnavailable == SRT_REJX_DOWN);
static_assert(kSrtRejectOverload == SRT_REJX_OVERLOAD);

std::string peer_text(const sockaddr* sa) {
  if (!sa) return "?";
  socklen_t len = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  return SockAddr::from(sa, len).to_string();
}

// libsrt's own log lines go to our log, tagged "srt".
void srt_log_handler(void*, int level, const char*, int, const char* area, const char* message) {
  LogLevel l = level <= LOG_ERR ? LogLevel::warn : level == LOG_WARNING ? LogLevel::info : LogLevel::debug;
  SP_LOG(l, "libsrt", "%s: %s", area ? area : "", message);
}

// Notes from the SRT thread to the loop thread (worker_connections).
struct Note {
  bool acquire;  // false: release
  uint64_t relay_id;
};

class SrtService final : public Service {
 public:
  explicit SrtService(WorkerContext& ctx)
      : base_(ctx.base),
        conf_(ctx.conf.module<SrtConf>()),
        registry_(ctx.registry_client, SrtRegistry::answers_inline(ctx.registry_client), [this] { wake_loop(); }),
        limiter_(ctx.limiter),
        board_(ctx.hook ? static_cast<SrtMasterHook*>(ctx.hook)->board() : nullptr) {}

  ~SrtService() override {
    quit_.store(true);
    if (thread_.joinable()) thread_.join();
    registry_.run_queued();  // the ended sessions' last writes (client counts)
    relays_.clear();
    listeners_.clear();
    epoll_.reset();
    if (started_) srt_cleanup();
  }

  Status start(WorkerContext& ctx) {
    if (Status al = access_log::use(metrics::Protocol::srt, ctx.conf.module<SrtConf>().access_log, ctx.conf.access_log);
        !al.ok()) {
      return Status::Error("srt: " + al.message());
    }
    Status st = start(ctx.listeners.fds("srt"));
    return st.ok() ? st : Status::Error("srt: " + st.message());
  }
  Status start(const std::vector<int>& udp_fds);

  const char* name() const override { return "srt"; }
  void stop_accepting() override { stop_accepting_.store(true); }
  size_t active_sessions() const override { return live_.load(); }

 private:
  // --- SRT thread ---
  static int on_listen(void* opaque, SRTSOCKET ns, int hsversion, const sockaddr* peer, const char* streamid);
  Status open_listener(int inherited_fd);
  void run();
  void dispatch(SRTSOCKET s, int events, int64_t now_ms);
  void accept_one(SRTSOCKET listener, int64_t now_ms);
  void start_relay(SrtSocket client, const std::string& peer, int64_t now_ms);
  // Asks the registry for relay `id`'s origin (retry: after `why` failed
  // it); the answer goes to picked() through take_answers(), which the
  // caller runs at once when the registry is direct (memory).
  void ask_registry(uint64_t id, const std::string& key, bool retry, std::string why, int64_t now_ms);
  void take_answers(int64_t now_ms);
  void picked(uint64_t id, Result<Pick> pick, int64_t now_ms);
  // report_origin: a failed origin connect is reported to the registry
  // (false: retry_or_end did already).
  void end_relay(uint64_t id, const std::string& reason, int64_t now_ms, bool report_origin = true);
  void report_origin_failure(const SrtRelay& r, const std::string& reason, int64_t now_ms);
  // A caller whose origin connect failed (not refused by the origin's
  // application, whose answer is final): reconnected to the origin the
  // stream moved to (the failed one is down), while connect_timeout from the
  // caller's start has time left, up to 3 origins, never one already tried;
  // else its session ends.
  void retry_or_end(uint64_t id, SrtRelay& r, int64_t now_ms);
  void end_all(const std::string& reason);
  void publish_kept_sessions();
  void check_timers(int64_t now_ms);
  // Reads the relays' as-received sides; true if there is any.
  bool poll_received(int64_t now_ms);
  void close_refused(int64_t now_ms);
  void post(Note note);
  void wake_loop();

  // --- loop thread ---
  static void on_notes(evutil_socket_t, short, void* arg);

  event_base* base_;
  const SrtConf& conf_;
  SrtRegistry registry_;
  ConnectionLimiter& limiter_;
  SrtDrainBoard* board_;  // nullptr without a master
  pid_t master_ = getppid();
  bool started_ = false;  // srt_startup() called
  bool publish_pending_ = false;  // SRT thread

  std::atomic<bool> quit_{false};
  std::atomic<bool> stop_accepting_{false};
  std::atomic<size_t> live_{0};
  std::thread thread_;

  // Owned by the SRT thread once it runs.
  SrtEpoll epoll_;
  std::vector<SrtSocket> listeners_;
  std::unordered_map<uint64_t, std::unique_ptr<SrtRelay>> relays_;
  std::unordered_map<SRTSOCKET, uint64_t> owner_;  // socket -> relay id
  // Relays waiting for the registry's answer (first pick or re-pick).
  struct Wait {
    uint64_t ticket;
    int64_t deadline_ms;  // the caller's start + connect_timeout
    bool retry;           // re-pick after the origin connect failed
    std::string why;      // retry: that failure, the end reason if nothing else is found
  };
  std::unordered_map<uint64_t, Wait> waits_;       // relay id -> its wait
  std::unordered_map<uint64_t, uint64_t> tickets_; // registry ticket -> relay id
  uint64_t next_id_ = 1;
  int64_t last_timers_ms_ = 0;

  // SRT thread <-> loop thread.
  std::mutex mu_;
  std::vector<Note> notes_;         // to the loop
  std::vector<uint64_t> refused_;   // to the SRT thread
  UniqueFd wake_;                   // eventfd the loop watches
  EventPtr wake_event_;
  std::unordered_set<uint64_t> acquired_;  // loop thread only
};

Status SrtService::start(const std::vector<int>& udp_fds) {
  if (srt_startup() < 0) return Status::Error("srt_startup: " + srt_error_text());
  started_ = true;
  srt_setloghandler(nullptr, srt_log_handler);
  srt_setlogflags(SRT_LOGF_DISABLE_TIME | SRT_LOGF_DISABLE_THREADNAME | SRT_LOGF_DISABLE_SEVERITY |
                  SRT_LOGF_DISABLE_EOL);
  srt_setloglevel(log::enabled(LogLevel::debug) ? LOG_WARNING : LOG_ERR);

  epoll_.reset(srt_epoll_create());
  if (!epoll_) return Status::Error("srt_epoll_create: " + srt_error_text());
  srt_epoll_set(epoll_.get(), SRT_EPOLL_ENABLE_EMPTY);
  for (int fd : udp_fds) {
    Status st = open_listener(fd);
    if (!st.ok()) return st;
  }

  wake_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (wake_.get() < 0) return Status::Error(std::string("eventfd: ") + strerror(errno));
  wake_event_.reset(event_new(base_, wake_.get(), EV_READ | EV_PERSIST, on_notes, this));
  event_add(wake_event_.get(), nullptr);

  thread_ = std::thread([this] { run(); });
  return Status::Ok();
}

Status SrtService::open_listener(int inherited_fd) {
  SrtSocket lsn(srt_create_socket());
  if (!lsn) return Status::Error("srt_create_socket: " + srt_error_text());
  Status st = apply_srt_hop_options(lsn.get(), conf_);
  if (!st.ok()) return Status::Error("srt listener: " + st.message());
  if (srt_listen_callback(lsn.get(), on_listen, this) == SRT_ERROR) {
    return Status::Error("srt_listen_callback: " + srt_error_text());
  }
  // libsrt closes the UDP socket it acquired when its multiplexer goes, and
  // the worker closes its inherited copy on graceful stop: give libsrt a dup.
  int fd = fcntl(inherited_fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return Status::Error(std::string("dup(srt listener): ") + strerror(errno));
  // The master opens UDP listeners non-blocking, but on Linux libsrt's
  // receiver thread waits in recvmsg() with SO_RCVTIMEO on a blocking socket:
  // left non-blocking, that thread spins at 100% CPU. O_NONBLOCK belongs to
  // the open file description shared with the master and the other workers;
  // none of them reads this socket, so clearing it is safe.
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
    ::close(fd);
    return Status::Error(std::string("fcntl(srt listener): ") + strerror(errno));
  }
  if (srt_bind_acquire(lsn.get(), fd) == SRT_ERROR) {
    ::close(fd);
    return Status::Error("srt_bind_acquire: " + srt_error_text());
  }
  if (srt_listen(lsn.get(), kListenBacklog) == SRT_ERROR) return Status::Error("srt_listen: " + srt_error_text());
  int flags = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  srt_epoll_add_usock(epoll_.get(), lsn.get(), &flags);
  sockaddr_storage ss{};
  int len = sizeof(ss);
  srt_getsockname(lsn.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  SP_PINFO("srt listening on %s (udp fd %d acquired by libsrt)",
           SockAddr::from(reinterpret_cast<sockaddr*>(&ss), socklen_t(len)).to_string().c_str(), fd);
  listeners_.push_back(std::move(lsn));
  return Status::Ok();
}

// libsrt's receive thread, before the caller is accepted: route or reject.
int SrtService::on_listen(void* opaque, SRTSOCKET ns, int, const sockaddr* peer, const char* streamid) {
  auto* self = static_cast<SrtService*>(opaque);
  std::string who = peer_text(peer);
  std::string sid = streamid ? streamid : "";
  if (self->stop_accepting_.load()) {
    srt_setrejectreason(ns, kSrtRejectOverload);
    return -1;
  }
  Result<SrtRoute> route = route_srt_streamid(sid);
  if (!route.ok()) {
    int code = srt_reject_for(route.kind());
    SP_WARN(new_context_id(), "srt caller %s rejected with %s: %s", who.c_str(), srt_reject_text(code).c_str(),
            route.error().c_str());
    srt_setrejectreason(ns, code);
    return -1;
  }
  if (proxy_chain_lists(srt_streamid_proxy_chain(route->id), proxy_id())) {
    SP_WARN(new_context_id(), "srt caller %s (streamid \"%s\") rejected with %s: proxy loop: the streamid "
            "already passed through this proxy (%s)", who.c_str(), sid.c_str(),
            srt_reject_text(kSrtRejectLoop).c_str(), proxy_id_hex(proxy_id()).c_str());
    srt_setrejectreason(ns, kSrtRejectLoop);
    return -1;
  }
  // A streamid that cannot carry the marker onward (too long, or a plain
  // form with a ',') is refused now rather than accepted and then closed.
  if (Result<std::string> onward = srt_streamid_for_origin(sid, route->id, proxy_id()); !onward.ok()) {
    int code = srt_reject_for(onward.kind());
    SP_WARN(new_context_id(), "srt caller %s rejected with %s: %s", who.c_str(), srt_reject_text(code).c_str(),
            onward.error().c_str());
    srt_setrejectreason(ns, code);
    return -1;
  }
  // Memory backend: refused now, with the code of the look-up's error.
  // Redis: accepted; the SRT thread asks and closes it if there is no origin.
  std::optional<Result<Pick>> pick = self->registry_.pick_now(route->key, monotonic_ms());
  if (pick && !pick->ok()) {
    int code = srt_reject_for(pick->kind());
    SP_WARN(new_context_id(), "srt caller %s (streamid \"%s\") rejected with %s: %s", who.c_str(), sid.c_str(),
            srt_reject_text(code).c_str(), pick->error().c_str());
    srt_setrejectreason(ns, code);
    return -1;
  }
  // A publisher's stream is received on this socket: with TSBPD off, before
  // libsrt answers the handshake (srt_relay.h, "Latency"). Should libsrt
  // refuse, the session still works, holding each packet one latency here.
  if (route->id.mode == SrtMode::kPublish) {
    if (Status st = srt_deliver_as_received(ns); !st.ok()) {
      SP_WARN(new_context_id(), "srt caller %s: %s; its stream waits one latency in the proxy", who.c_str(),
              st.message().c_str());
    }
  }
  return 0;
}

// Relays with a side that delivers as received are also read every kPollMs
// (poll_received): libsrt marks such a socket readable in its epoll only when
// it sends an ACK, every 10 ms. That wait is not added to the stream's delay
// (the packets keep their source time, and the end receiver plays them at it
// plus its latency) but it is taken from the end receiver's latency budget,
// which matters at small latencies. While there is such a relay, the loop
// does not block in srt_epoll_uwait() (whose timeout is only as fine as
// libsrt's 10 ms internal wait) but polls it and sleeps kPollMs when there
// was nothing to do. 10 ms, libsrt's ACK period: at 1 ms the wake-ups cost
// more CPU per GB than the TSBPD relay did (bench/srt/run: 27 against 25 CPU
// s/GB at 20 Mbit/s); at 5 ms this thread woke ~270 times a second and cost
// 5.9-6.1 CPU s/GB, at 10 ms ~155 times and 4.5-4.8 (bench/srt/README.md).
// Blocking in srt_epoll_uwait() instead saves nothing: libsrt wakes it more
// often (~340 a second) than the 5 ms poll did.
void SrtService::run() {
  SRT_EPOLL_EVENT events[kMaxEvents];
  bool polling = false;  // some relay delivers as received
  while (!quit_.load()) {
    if (stop_accepting_.load() && !listeners_.empty()) {
      listeners_.clear();  // srt_close(): no new callers; accepted ones go on
      publish_pending_ = board_ != nullptr;
    }
    if (publish_pending_) publish_kept_sessions();
    int64_t now = monotonic_ms();
    close_refused(now);
    int n = srt_epoll_uwait(epoll_.get(), events, kMaxEvents, polling ? 0 : kTickMs);
    now = monotonic_ms();
    if (n < 0 && srt_getlasterror(nullptr) != SRT_ETIMEOUT) {
      SP_PERROR("srt_epoll_uwait: %s", srt_error_text().c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));  // never spin on a broken epoll
    }
    for (int i = 0; i < std::min(n, kMaxEvents); ++i) dispatch(events[i].fd, events[i].events, now);
    take_answers(now);
    polling = poll_received(now);
    // Registry answers come through a queue, not the epoll: look often.
    if (!waits_.empty() && !registry_.direct()) polling = true;
    if (polling && n <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
    if (now - last_timers_ms_ >= kTickMs) check_timers(now);
  }
  end_all("worker exiting");
}

void SrtService::dispatch(SRTSOCKET s, int events, int64_t now_ms) {
  for (const SrtSocket& l : listeners_) {
    if (l.get() != s) continue;
    if (events & SRT_EPOLL_ERR) SP_PERROR("srt listener error: %s", srt_error_text().c_str());
    accept_one(s, now_ms);
    return;
  }
  auto it = owner_.find(s);
  if (it == owner_.end()) return;  // a relay that ended earlier in this batch
  uint64_t id = it->second;
  if (waits_.count(id) > 0) {  // only the caller is watched, for errors
    end_relay(id, "caller closed while the registry was asked", now_ms, false);
    return;
  }
  SrtRelay& relay = *relays_.at(id);
  bool was_relaying = relay.relaying();
  bool alive = relay.on_event(s, events, now_ms);
  if (!was_relaying && relay.relaying()) {
    // The origin accepted the caller: it is healthy and the stream's pin lasts.
    registry_.report_success(relay.origin_server(), now_ms);
    registry_.confirm(relay.ctx(), relay.key(), relay.origin_server(), now_ms);
  }
  if (!alive && !relay.relaying() && relay.origin_failed()) return retry_or_end(id, relay, now_ms);
  if (!alive) end_relay(id, relay.reason(), now_ms);
}

void SrtService::retry_or_end(uint64_t id, SrtRelay& r, int64_t now_ms) {
  constexpr size_t kMaxOrigins = 3;  // origins one caller may try
  std::string why = r.reason();
  report_origin_failure(r, why, now_ms);
  std::vector<std::string>& tried = r.origins_tried();
  tried.push_back(r.origin_server());
  int64_t left = conf_.connect_timeout_ms - (now_ms - r.start_ms());
  if (left <= 0 || tried.size() >= kMaxOrigins) return end_relay(id, why, now_ms, false);
  // The failed origin's socket goes now (a failed socket stays readable in
  // a level-triggered epoll); the caller waits, watched for errors.
  owner_.erase(r.origin_sock());
  r.close_origin();
  // The caller is counted from its start: its own count must not keep the
  // stream on the failed origin (the three calls reach the registry in order).
  registry_.add_client(r.key(), -1, now_ms);
  ask_registry(id, r.key(), true, why, now_ms);
  registry_.add_client(r.key(), +1, now_ms);
  if (registry_.direct()) take_answers(now_ms);  // answered already
}

void SrtService::ask_registry(uint64_t id, const std::string& key, bool retry, std::string why, int64_t now_ms) {
  SrtRelay& r = *relays_.at(id);
  uint64_t ticket = registry_.pick(key, now_ms);
  waits_[id] = Wait{ticket, r.start_ms() + conf_.connect_timeout_ms, retry, std::move(why)};
  tickets_[ticket] = id;
}

void SrtService::take_answers(int64_t now_ms) {
  for (SrtRegistry::Answer& a : registry_.take_answers()) {
    auto t = tickets_.find(a.ticket);
    if (t == tickets_.end()) continue;  // its caller is gone
    uint64_t id = t->second;
    tickets_.erase(t);
    picked(id, std::move(a.pick), now_ms);
  }
}

void SrtService::picked(uint64_t id, Result<Pick> pick, int64_t now_ms) {
  auto w = waits_.find(id);
  auto it = relays_.find(id);
  if (w == waits_.end() || it == relays_.end()) return;
  Wait wait = std::move(w->second);
  waits_.erase(w);
  SrtRelay& r = *it->second;
  if (!wait.retry) {
    if (!pick.ok()) {
      // Accepted already (the backend could not answer in the listen
      // callback): closed, with the look-up's reason on its end line.
      return end_relay(id, std::string("no origin (registry: ") + error_kind_name(pick.kind()) + "): " +
                               pick.error(), now_ms, false);
    }
    registry_.add_client(r.key(), +1, now_ms);
    Status st = r.start(std::move(*pick));
    if (r.origin_sock() != SRT_INVALID_SOCK) owner_[r.origin_sock()] = id;
    if (!st.ok()) end_relay(id, st.message(), now_ms);
    return;
  }
  const std::vector<std::string>& tried = r.origins_tried();
  if (!pick.ok() || std::find(tried.begin(), tried.end(), pick->origin.server) != tried.end()) {
    return end_relay(id, wait.why, now_ms, false);
  }
  SP_WARN(r.ctx(), "srt origin %s %s:%u failed (%s); caller %s key=%s retried on origin %s (%s:%u) with %lld ms left",
          r.origin_server().c_str(), r.pick().host.c_str(), unsigned(r.pick().port), wait.why.c_str(),
          r.peer().c_str(), r.key().c_str(), pick->origin.server.c_str(), pick->host.c_str(), unsigned(pick->port),
          (long long)(wait.deadline_ms - now_ms));
  Status st = r.reconnect(std::move(*pick), now_ms);
  if (r.origin_sock() != SRT_INVALID_SOCK) owner_[r.origin_sock()] = id;
  if (!st.ok()) end_relay(id, st.message(), now_ms);
}

void SrtService::report_origin_failure(const SrtRelay& r, const std::string& reason, int64_t now_ms) {
  registry_.report_failure(r.pick().origin.server, "srt to " + r.pick().host + ":" + std::to_string(r.pick().port) +
                           ": " + reason, now_ms);
}

// One caller per readiness event: the epoll is level-triggered, so more
// pending callers are reported again at once, and libsrt logs an error for
// every srt_accept() that finds none.
void SrtService::accept_one(SRTSOCKET listener, int64_t now_ms) {
  sockaddr_storage ss{};
  int len = sizeof(ss);
  SRTSOCKET s = srt_accept(listener, reinterpret_cast<sockaddr*>(&ss), &len);
  if (s == SRT_INVALID_SOCK) return;
  start_relay(SrtSocket(s), peer_text(reinterpret_cast<sockaddr*>(&ss)), now_ms);
}

void SrtService::start_relay(SrtSocket client, const std::string& peer, int64_t now_ms) {
  std::string ctx = new_context_id();
  char sid[kSrtMaxStreamIdBytes + 1] = {};
  int sid_len = sizeof(sid) - 1;
  if (srt_getsockflag(client.get(), SRTO_STREAMID, sid, &sid_len) == SRT_ERROR) sid_len = 0;
  std::string streamid(sid, size_t(sid_len));
  // The listen callback checked it already.
  Result<SrtRoute> route = route_srt_streamid(streamid);
  if (!route.ok()) {
    SP_WARN(ctx, "srt caller %s closed: %s", peer.c_str(), route.error().c_str());
    return;
  }
  // The origin hears the caller's streamid plus this proxy in its
  // srsproxy= chain, so a request that comes back here is refused.
  Result<std::string> origin_sid = srt_streamid_for_origin(streamid, route->id, proxy_id());
  if (!origin_sid.ok()) {
    SP_WARN(ctx, "srt caller %s closed: %s", peer.c_str(), origin_sid.error().c_str());
    return;
  }
  std::string key = route->key;
  uint64_t id = next_id_++;
  auto relay = std::make_unique<SrtRelay>(ctx, std::move(client), peer, std::move(*route), std::move(streamid),
                                          std::move(*origin_sid), conf_, now_ms);
  SrtRelay* r = relay.get();
  relays_.emplace(id, std::move(relay));
  owner_[r->client_sock()] = id;
  live_.fetch_add(1);
  post(Note{true, id});
  r->watch(epoll_.get());
  // The origin: picked now (memory) or when the registry answers (Redis).
  ask_registry(id, key, false, {}, now_ms);
  if (registry_.direct()) take_answers(now_ms);  // answered already
}

void SrtService::end_relay(uint64_t id, const std::string& reason, int64_t now_ms, bool report_origin) {
  auto it = relays_.find(id);
  if (it == relays_.end()) return;
  SrtRelay& r = *it->second;
  if (auto w = waits_.find(id); w != waits_.end()) {
    registry_.cancel(w->second.ticket);
    tickets_.erase(w->second.ticket);
    waits_.erase(w);
    report_origin = false;  // a failed origin was reported before the re-pick
  }
  owner_.erase(r.client_sock());
  owner_.erase(r.origin_sock());
  if (report_origin && r.origin_failed()) report_origin_failure(r, reason, now_ms);
  r.finish(reason.empty() ? "closed" : reason, now_ms);
  if (r.started()) registry_.add_client(r.key(), -1, now_ms);
  relays_.erase(it);
  live_.fetch_sub(1);
  post(Note{false, id});
}

void SrtService::end_all(const std::string& reason) {
  std::vector<uint64_t> ids;
  for (const auto& [id, r] : relays_) ids.push_back(id);
  int64_t now = monotonic_ms();
  for (uint64_t id : ids) end_relay(id, reason, now);
}

// Tells the master which destination ids stay here; retried on the next tick
// while the board is full.
void SrtService::publish_kept_sessions() {
  std::vector<uint32_t> ids;
  for (const auto& [id, r] : relays_) ids.push_back(uint32_t(r->client_sock()));
  if (!board_->publish(getpid(), srt_id_ranges(std::move(ids), SrtDrainNote::kMaxRanges))) return;
  publish_pending_ = false;
  // Never signal whoever adopted us if the master is gone (init, say).
  if (getppid() == master_ && kill(master_, SIGUSR2) != 0) {
    SP_PERROR("telling the master about kept SRT sessions: %s", strerror(errno));
  }
  SP_PINFO("srt: stopped accepting, keeping %zu sessions", relays_.size());
}

void SrtService::check_timers(int64_t now_ms) {
  last_timers_ms_ = now_ms;
  std::vector<std::pair<uint64_t, std::string>> done;
  for (const auto& [id, r] : relays_) {
    if (auto w = waits_.find(id); w != waits_.end()) {
      if (now_ms < w->second.deadline_ms) continue;
      // A retry ends with its origin's failure; a first pick with the wait.
      done.emplace_back(id, w->second.retry ? w->second.why
                                            : "no origin: the registry did not answer within connect_timeout (" +
                                                  std::to_string(conf_.connect_timeout_ms) + " ms)");
      continue;
    }
    if (!r->check_timers(now_ms)) done.emplace_back(id, r->reason());
  }
  for (const auto& [id, reason] : done) end_relay(id, reason, now_ms);
}

bool SrtService::poll_received(int64_t now_ms) {
  bool any = false;
  std::vector<uint64_t> done;
  for (const auto& [id, r] : relays_) {
    if (!r->delivers_early()) continue;
    any = true;
    if (!r->poll_received(now_ms)) done.push_back(id);
  }
  for (uint64_t id : done) end_relay(id, relays_.at(id)->reason(), now_ms);
  return any;
}

void SrtService::close_refused(int64_t now_ms) {
  std::vector<uint64_t> refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    refused.swap(refused_);
  }
  for (uint64_t id : refused) end_relay(id, "refused: worker_connections reached", now_ms);
}

void SrtService::post(Note note) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    notes_.push_back(note);
  }
  wake_loop();
}

void SrtService::wake_loop() {
  uint64_t one = 1;
  ssize_t ignored = ::write(wake_.get(), &one, sizeof(one));  // full counter: the loop is awake anyway
  (void)ignored;
}

// Loop thread: apply worker_connections to what the SRT thread accepted.
void SrtService::on_notes(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<SrtService*>(arg);
  uint64_t count;
  ssize_t ignored = ::read(fd, &count, sizeof(count));
  (void)ignored;
  self->registry_.run_queued();  // the SRT thread's registry calls, in order
  std::vector<Note> notes;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    notes.swap(self->notes_);
  }
  std::vector<uint64_t> refused;
  for (const Note& n : notes) {
    if (n.acquire) {
      if (self->limiter_.try_acquire("srt")) self->acquired_.insert(n.relay_id);
      else refused.push_back(n.relay_id);
    } else if (self->acquired_.erase(n.relay_id) > 0) {
      self->limiter_.release();
    }
  }
  if (refused.empty()) return;
  std::lock_guard<std::mutex> lock(self->mu_);
  self->refused_.insert(self->refused_.end(), refused.begin(), refused.end());
}

// A worker that does not serve SRT (not slot 0, or no srt listener).
class IdleSrtService final : public Service {
 public:
  explicit IdleSrtService(WorkerContext&) {}
  Status start(WorkerContext&) { return Status::Ok(); }
  const char* name() const override { return "srt"; }
  void stop_accepting() override {}
  size_t active_sessions() const override { return 0; }
};

Result<std::unique_ptr<Service>> make_srt_service(WorkerContext& ctx) {
  // Only slot 0 serves SRT: see "Workers and the UDP socket" above.
  if (ctx.listeners.fds("srt").empty() || ctx.slot != 0) return make_service<IdleSrtService>(ctx);
  return make_service<SrtService>(ctx);
}

}  // namespace

extern const ConfModule kSrtConfModule;
extern const Module kSrtModule = {&kSrtConfModule, kRoleProtocol, make_srt_service, make_srt_master_hook};

}  // namespace sp
