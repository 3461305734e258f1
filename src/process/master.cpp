// Master loop: spawn, respawn, reload, stop. See master.h.
//
// Children are tracked by generation. A reload starts a new generation with
// the new configuration, then sends QUIT to every child of older generations;
// they stop accepting, finish their sessions and exit (or are killed once
// shutdown_timeout has passed). Only children of the current generation that
// die without being asked are respawned. Every reaped child's client counts
// are dropped from the registry first (Registry::drop_process).
#include "process/master.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/proxy_loop.h"
#include "module/module.h"
#include "process/metrics_master.h"
#include "process/proctitle.h"
#include "process/startup.h"
#include "process/worker.h"
#include "registry/registry_conf.h"

// ASan builds (./configure --with-sanitizers): workers leave through _exit,
// which skips LeakSanitizer's at-exit check, so run it by hand there.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SP_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SP_ASAN 1
#endif
#ifdef SP_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace sp {

namespace {

volatile sig_atomic_t g_reap, g_terminate, g_quit, g_reconfigure, g_reopen, g_alarm, g_note;

void on_signal(int signo) {
  switch (signo) {
    case SIGCHLD: g_reap = 1; break;
    case SIGTERM:
    case SIGINT: g_terminate = 1; break;
    case SIGQUIT: g_quit = 1; break;
    case SIGHUP: g_reconfigure = 1; break;
    case SIGUSR1: g_reopen = 1; break;
    case SIGALRM: g_alarm = 1; break;
    case SIGUSR2: g_note = 1; break;  // a worker left a note for a module's master hook (SRT)
  }
}

const int kMasterSignals[] = {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGALRM, SIGUSR2};

void install_handlers(sigset_t* blocked) {
  sigemptyset(blocked);
  for (int s : kMasterSignals) {
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(s, &sa, nullptr);
    sigaddset(blocked, s);
  }
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_BLOCK, blocked, nullptr);
}

// In a child: back to default dispositions, but the master's signals stay
// blocked (fork keeps the mask) until the worker's event loop has installed
// its own handlers (run_worker unblocks them). Unblocked here, a `-s reopen`
// (USR1, default action: terminate) arriving before that would kill the
// fresh worker; blocked, it stays pending and reaches the worker's handler.
void reset_signals_in_child() {
  for (int s : kMasterSignals) signal(s, SIG_DFL);
}

Status switch_user(const std::string& user) {
  if (user.empty() || geteuid() != 0) return Status::Ok();
  passwd* pw = getpwnam(user.c_str());
  if (!pw) return Status::Error("user \"" + user + "\" not found");
  if (setgid(pw->pw_gid) != 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
    return Status::Error("switching to user \"" + user + "\" failed: " + strerror(errno));
  }
  return Status::Ok();
}

struct Child {
  pid_t pid = -1;
  int roles = 0;
  int slot = 0;
  int generation = 0;
  bool exiting = false;      // told to stop; do not respawn
  int64_t kill_at_ms = 0;    // SIGKILL if still alive then (0 = never)
  int64_t started_ms = 0;
  int report_fd = -1;        // read end of its start-up report pipe, until it reported
  StartupReport report;
  int metrics_slot = 0;      // its slot in the metrics area (core/metrics.h)
};

// A respawn held back so a worker that crashes at start cannot fork-loop.
struct PendingSpawn {
  int roles;
  int slot;
  int64_t due_ms;
};

// A child that lived at least this long is respawned at once; one that died
// sooner is respawned this long after its start (at most one fork a second).
constexpr int64_t kRespawnIntervalMs = 1000;

class Master {
 public:
  Master(std::unique_ptr<Cycle> cycle, std::unique_ptr<Registry> registry, const MasterOptions& opts)
      : cycle_(std::move(cycle)), registry_(std::move(registry)), opts_(opts) {
    for (const Module* m : modules()) {
      hooks_.push_back(m->make_master_hook ? m->make_master_hook() : nullptr);
      hook_ptrs_.push_back(hooks_.back().get());
    }
  }
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  int run() {
    install_handlers(&blocked_);
    set_startup_report_fd(opts_.report_fd);  // the daemonising process waits on it
    chown_log();
    if (2 * cycle_->conf.worker_processes + 1 > kStreamHolders) {
      SP_PNOTICE("worker_processes %d: a stream with clients on more than %d (worker, protocol) pairs at once "
                 "counts the rest unattributed, and a crash of their worker will not drop those counts",
                 cycle_->conf.worker_processes, kStreamHolders);
    }
    spawn_generation();
    sigset_t empty;
    sigemptyset(&empty);
    for (;;) {
      arm_timer();
      if (!pending()) sigsuspend(&empty);
      if (g_note) collect_notes();  // before reaping: a note names its writer by pid
      if (g_reap) reap();
      collect_reports();
      if (g_alarm) {
        g_alarm = 0;
        enforce_deadlines();
        spawn_due();
      }
      if (g_terminate) begin_stop(SIGTERM, 5000);
      if (g_quit) begin_stop(SIGQUIT, cycle_->conf.shutdown_timeout_ms + 1000);
      if (g_reconfigure) reload();
      if (g_reopen) reopen();
      if (stopping_ && children_.empty()) break;
    }
    SP_PNOTICE("exit");
    return exit_code_;
  }

 private:
  static bool pending() {
    return g_reap || g_terminate || g_quit || g_reconfigure || g_reopen || g_alarm || g_note;
  }

  void spawn_generation() {
    generation_ = cycle_->generation;
    metrics::note_generation(metrics::area(), generation_, cycle_->listeners);
    for (MasterHook* h : hook_ptrs_) {
      if (h) h->add_generation(generation_, cycle_->listeners);
    }
    for (int i = 0; i < cycle_->conf.worker_processes; i++) spawn(kRoleProtocol, i);
    spawn(kRoleApi, -1);
  }

  void spawn(int roles, int slot) {
    int report[2];
    if (pipe2(report, O_CLOEXEC | O_NONBLOCK) != 0) report[0] = report[1] = -1;
    int mslot = metrics::area() ? metrics::area()->claim() : 0;
    pid_t pid = fork();
    if (pid < 0) {
      SP_PERROR("fork() failed: %s", strerror(errno));
      if (metrics::area()) metrics::area()->set_owner(mslot, 0);
      if (report[0] >= 0) close(report[0]), close(report[1]);
      return;
    }
    if (pid == 0) {
      // The master's own report and its siblings' pipes are not the worker's.
      if (startup_report_fd() >= 0) close(startup_report_fd());
      for (const Child& c : children_) {
        if (c.report_fd >= 0) close(c.report_fd);
      }
      if (report[0] >= 0) close(report[0]);
      set_startup_report_fd(report[1]);
      metrics::set_local_slot(mslot);
      int status = child_main(roles, slot);
#ifdef SP_ASAN
      // The worker's own state is gone by now; what the master's objects
      // (copied by fork) still hold is reachable and not reported.
      if (__lsan_do_recoverable_leak_check() != 0 && status == 0) status = 23;
#endif
      _exit(status);
    }
    if (report[1] >= 0) close(report[1]);
    if (metrics::area()) metrics::area()->set_owner(mslot, pid);
    children_.push_back(Child{pid, roles, slot, generation_, false, 0, monotonic_ms(), report[0], {}, mslot});
    SP_PNOTICE("started %s %d", roles == kRoleApi ? "api worker" : "worker process", int(pid));
  }

  int child_main(int roles, int slot) {
    reset_signals_in_child();
    for (MasterHook* h : hook_ptrs_) {
      if (h) h->close_in_child();
    }
    // A worker must not outlive a master killed with SIGKILL.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    bool api = roles == kRoleApi;
    log::set_process_context(api ? "api" : "worker" + std::to_string(slot));
    set_proctitle(api ? "srs-proxy: api worker" : "srs-proxy: worker process");
    Status st = switch_user(cycle_->conf.user);
    if (!st.ok()) {
      SP_PERROR("%s", st.message().c_str());
      report_startup_failure(st.message());
      return kExitStartupFailed;
    }
    return run_worker(*cycle_, *registry_, roles, slot, hook_ptrs_);
  }

  void reap() {
    g_reap = 0;
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      for (size_t i = 0; i < children_.size(); i++) {
        if (children_[i].pid != pid) continue;
        Child c = children_[i];
        children_.erase(children_.begin() + long(i));
        read_report(c);
        if (c.report_fd >= 0) close(c.report_fd);
        bool failed = failed_at_startup(c, status);
        if (failed) c.exiting = true;  // for log_exit: not respawned
        log_exit(c, status);
        drop_counts(c);  // before any respawn: the dead child's clients are gone
        metrics::child_reaped(metrics::area(), c.metrics_slot, *registry_, status,
                              !failed && !c.exiting && !stopping_ && c.generation == generation_);
        if (failed) {
          fail_startup(c);
        } else if (!c.exiting && !stopping_ && c.generation == generation_) {
          respawn(c);
        }
        if (c.generation < generation_) {
          for (MasterHook* h : hook_ptrs_) {
            if (h) h->old_child_exited(c.generation, c.roles, c.slot);
          }
        }
        break;
      }
    }
    for (MasterHook* h : hook_ptrs_) {
      if (!h) continue;
      for (int g : h->generations()) {
        if (g == generation_) continue;
        bool alive = std::any_of(children_.begin(), children_.end(), [g](const Child& c) { return c.generation == g; });
        if (!alive) h->retire(g);
      }
    }
  }

  // ---- start-up reports (process/startup.h)

  // Reads what the child reported so far; closes the pipe once it is done.
  static void read_report(Child& c) {
    if (c.report_fd < 0) return;
    if (read_startup_report(c.report_fd, &c.report) || c.report.state == StartupReport::started) {
      close(c.report_fd);
      c.report_fd = -1;
    }
  }

  // A worker that exited with the start-up failure code before saying it
  // started: a configuration problem, which a respawn would only repeat.
  static bool failed_at_startup(const Child& c, int status) {
    return c.report.state != StartupReport::started && WIFEXITED(status) &&
           WEXITSTATUS(status) == kExitStartupFailed;
  }

  void fail_startup(const Child& c) {
    std::string reason = c.report.reason.empty() ? "see the lines above" : c.report.reason;
    std::string msg = std::string(c.roles == kRoleApi ? "api worker" : "worker process") + " " +
                      std::to_string(c.pid) + " failed at start-up: " + reason;
    SP_CRIT(log::process_context(), "%s; stopping instead of respawning it", msg.c_str());
    if (exit_code_ != 0) return;  // already stopping for the first one
    if (startup_report_fd() >= 0) {
      report_startup_failure(msg);
    } else if (!cycle_->conf.daemon && log::path() != "stderr") {
      fprintf(stderr, "srs-proxy: [emerg] %s\n", msg.c_str());
    }
    exit_code_ = 1;
    if (!stopping_) g_terminate = 1;  // the loop stops the others as on TERM
  }

  // Polls the children's pipes; once every child started, tells the process
  // waiting for the start (if any) that the proxy is up.
  void collect_reports() {
    bool all_started = true;
    for (Child& c : children_) {
      read_report(c);
      if (c.report.state != StartupReport::started) all_started = false;
    }
    if (all_started && !stopping_ && startup_report_fd() >= 0) report_started();
  }

  bool awaiting_reports() const {
    return std::any_of(children_.begin(), children_.end(), [](const Child& c) { return c.report_fd >= 0; });
  }

  // A child's client counts die with it (a crash or kill -9 skips the
  // decrements its sessions would have made); a clean exit leaves none.
  void drop_counts(const Child& c) {
    Registry::Dropped d = registry_->drop_process(c.pid, monotonic_ms());
    if (d.streams == 0) return;
    SP_LOG(c.exiting ? LogLevel::info : LogLevel::warn, log::process_context(),
           "%s %d left %llu client%s on %u stream%s; dropped from the registry's counts (%u stream%s now idle)",
           c.roles == kRoleApi ? "api worker" : "worker process", int(c.pid), (unsigned long long)d.clients,
           d.clients == 1 ? "" : "s", d.streams, d.streams == 1 ? "" : "s", d.now_idle, d.now_idle == 1 ? "" : "s");
  }

  void collect_notes() {
    g_note = 0;
    auto generation_of = [this](pid_t pid) {
      for (const Child& c : children_) {
        if (c.pid == pid) return c.generation;
      }
      return -1;
    };
    for (MasterHook* h : hook_ptrs_) {
      if (h) h->collect_notes(generation_of);
    }
  }

  void respawn(const Child& c) {
    int64_t due = c.started_ms + kRespawnIntervalMs;
    if (monotonic_ms() >= due) {
      spawn(c.roles, c.slot);
    } else {
      pending_.push_back(PendingSpawn{c.roles, c.slot, due});
    }
  }

  void spawn_due() {
    int64_t now = monotonic_ms();
    std::vector<PendingSpawn> later;
    for (const PendingSpawn& p : pending_) {
      if (stopping_) continue;
      if (now >= p.due_ms) spawn(p.roles, p.slot);
      else later.push_back(p);
    }
    pending_ = std::move(later);
  }

  void log_exit(const Child& c, int status) {
    const char* what = c.roles == kRoleApi ? "api worker" : "worker process";
    if (WIFSIGNALED(status)) {
      SP_LOG(c.exiting ? LogLevel::notice : LogLevel::error, log::process_context(), "%s %d exited on signal %d%s",
             what, int(c.pid), WTERMSIG(status), c.exiting ? "" : ", respawning");
    } else {
      int code = WEXITSTATUS(status);
      SP_LOG(c.exiting && code == 0 ? LogLevel::notice : LogLevel::error, log::process_context(),
             "%s %d exited with code %d%s", what, int(c.pid), code, c.exiting ? "" : ", respawning");
    }
  }

  void signal_children(int signo, int64_t kill_after_ms, bool only_old) {
    int64_t now = monotonic_ms();
    for (Child& c : children_) {
      if (only_old && c.generation == generation_) continue;
      if (c.exiting && signo == SIGQUIT) continue;
      c.exiting = true;
      int64_t deadline = now + kill_after_ms;
      if (c.kill_at_ms == 0 || deadline < c.kill_at_ms) c.kill_at_ms = deadline;
      if (kill(c.pid, signo) != 0 && errno != ESRCH) SP_PERROR("kill(%d) failed: %s", int(c.pid), strerror(errno));
    }
  }

  void begin_stop(int signo, int64_t kill_after_ms) {
    if (signo == SIGTERM) g_terminate = 0;
    else g_quit = 0;
    SP_PNOTICE("%s", signo == SIGTERM ? "fast shutdown" : "graceful shutdown");
    stopping_ = true;
    signal_children(signo, kill_after_ms, false);
    cycle_->listeners.close_all();
  }

  void enforce_deadlines() {
    int64_t now = monotonic_ms();
    for (Child& c : children_) {
      if (c.kill_at_ms && now >= c.kill_at_ms) {
        SP_PWARN("child %d did not exit in time, killing it", int(c.pid));
        kill(c.pid, SIGKILL);
        c.kill_at_ms = 0;
      }
    }
  }

  // Wakes sigsuspend() for the earliest kill deadline or held-back respawn.
  void arm_timer() {
    int64_t next = 0;
    for (const Child& c : children_) {
      if (c.kill_at_ms && (next == 0 || c.kill_at_ms < next)) next = c.kill_at_ms;
    }
    for (const PendingSpawn& p : pending_) {
      if (next == 0 || p.due_ms < next) next = p.due_ms;
    }
    // Until every child reported its start, look at the pipes every 20ms.
    if (awaiting_reports()) {
      int64_t soon = monotonic_ms() + 20;
      if (next == 0 || soon < next) next = soon;
    }
    itimerval it{};
    if (next) {
      int64_t ms = std::max<int64_t>(1, next - monotonic_ms());
      it.it_value.tv_sec = ms / 1000;
      it.it_value.tv_usec = (ms % 1000) * 1000;
    }
    setitimer(ITIMER_REAL, &it, nullptr);
  }

  // Builds the next cycle next to the running one; only when it is complete
  // (configuration valid, every socket open) does anything process-wide
  // change: the log, the registry's timings, the swap, the new children.
  void reload() {
    g_reconfigure = 0;
    if (stopping_) return;
    SP_PNOTICE("reconfiguring from %s", opts_.conf_path.c_str());
    auto conf = load_config(opts_.conf_path, opts_.load);
    if (!conf.ok()) {
      SP_PERROR("reload failed, configuration unchanged: %s", conf.error().c_str());
      return;
    }
    if (Status rt = check_runtime(*conf); !rt.ok()) {
      SP_PERROR("reload failed, configuration unchanged: %s", rt.message().c_str());
      return;
    }
    auto next = Cycle::create(std::move(*conf), cycle_.get());
    if (!next.ok()) {
      SP_PERROR("reload failed, configuration unchanged: %s", next.error().c_str());
      return;
    }
    const RegistryConf& now = cycle_->conf.module<RegistryConf>();
    const RegistryConf& then = (*next)->conf.module<RegistryConf>();
    if (then.size != now.size) {
      SP_PWARN("registry size change from %llu to %llu takes effect only after a restart",
               (unsigned long long)now.size, (unsigned long long)then.size);
    }
    // The new generation's workers connect with the new settings; the old
    // ones keep theirs until they exit.
    if (then.backend != now.backend || then.redis != now.redis || then.redis_db != now.redis_db ||
        then.redis_key_prefix != now.redis_key_prefix || then.redis_password != now.redis_password) {
      SP_PNOTICE("registry: the new workers use backend %s%s", then.backend == RegistryBackend::redis ? "redis" : "memory",
                 then.backend == RegistryBackend::redis
                     ? (" at " + then.redis + " (db " + std::to_string(then.redis_db) + ", key prefix \"" +
                        then.redis_key_prefix + "\")")
                           .c_str()
                     : "");
    }
    Status st = log::open((*next)->conf.error_log, (*next)->conf.error_log_level);
    if (!st.ok()) SP_PERROR("reload: %s; keeping the old log", st.message().c_str());
    registry_->set_ttls(registry_ttls(then));
    log::set_redact_words((*next)->conf.log_redact);
    cycle_ = std::move(*next);  // the old generation's sockets that are not shared close here
    chown_log();
    pending_.clear();  // the new generation replaces any held-back respawn
    spawn_generation();
    signal_children(SIGQUIT, cycle_->conf.shutdown_timeout_ms + 1000, true);
    if (metrics::area()) metrics::add(metrics::area()->master.reloads, 1);
    SP_PNOTICE("reconfigured: generation %d", generation_);
    for (const std::string& e : cycle_->conf.env_overrides) SP_PNOTICE("environment: %s", e.c_str());
    for (const std::string& w : config_warnings(cycle_->conf)) SP_PWARN("%s", w.c_str());
  }

  void reopen() {
    g_reopen = 0;
    Status st = log::reopen();
    chown_log();
    if (!st.ok()) SP_PERROR("reopening log: %s", st.message().c_str());
    else SP_PNOTICE("log reopened");
    for (const Child& c : children_) kill(c.pid, SIGUSR1);
  }

  // Workers that switch user must still be able to reopen the log. The file
  // is 0640: the user writes it, group adm (Debian's log readers) reads it,
  // or the user's own group where there is no adm.
  void chown_log() {
    if (cycle_->conf.user.empty() || geteuid() != 0 || log::path() == "stderr") return;
    if (passwd* pw = getpwnam(cycle_->conf.user.c_str())) {
      group* adm = getgrnam("adm");
      gid_t gid = adm ? adm->gr_gid : pw->pw_gid;
      if (chown(log::path().c_str(), pw->pw_uid, gid) != 0) {
        SP_PWARN("chown(%s) failed: %s", log::path().c_str(), strerror(errno));
      }
    }
  }

  std::unique_ptr<Cycle> cycle_;
  std::unique_ptr<Registry> registry_;
  MasterOptions opts_;
  std::vector<std::unique_ptr<MasterHook>> hooks_;  // by module index; nullptr: none
  std::vector<MasterHook*> hook_ptrs_;              // the same, as the workers get them
  std::vector<Child> children_;
  std::vector<PendingSpawn> pending_;
  sigset_t blocked_;
  int generation_ = 0;
  bool stopping_ = false;
  int exit_code_ = 0;  // 1 once a worker failed at start-up
};

}  // namespace

int run_master(std::unique_ptr<Cycle> cycle, std::unique_ptr<Registry> registry, const MasterOptions& opts) {
  log::set_process_context("master");
  set_proctitle("srs-proxy: " + opts.title);
  // The id every origin request carries as the proxy-loop marker.
  SP_PNOTICE("proxy id %s (loop marker Via: 1.1 %s)", proxy_id_hex(proxy_id()).c_str(),
             proxy_via_name(proxy_id()).c_str());
  Master m(std::move(cycle), std::move(registry), opts);
  return m.run();
}

int run_single(std::unique_ptr<Cycle> cycle, std::unique_ptr<Registry> registry) {
  log::set_process_context("single");
  SP_PNOTICE("master_process off: serving in one process; reload is not available");
  SP_PNOTICE("proxy id %s (loop marker Via: 1.1 %s)", proxy_id_hex(proxy_id()).c_str(),
             proxy_via_name(proxy_id()).c_str());
  return run_worker(*cycle, *registry, kRoleProtocol | kRoleApi, 0, {});
}

}  // namespace sp
