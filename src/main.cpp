// srs-proxy entry point: the command line (nginx's flags and exit statuses),
// then either a one-shot action (-t, -T, -s, -v, -V, -h) or the server:
// load the configuration, open the log and every listener, create the
// shared-memory registry, daemonise, write the pid file and hand over to the
// master loop (or run in one process with `master_process off`).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include <event2/event.h>
#include <openssl/opensslv.h>
#include <srt/srt.h>

#include "build_info.h"
#include "core/config.h"
#include "core/log.h"
#include "module/cycle.h"
#include "process/master.h"
#include "process/proctitle.h"
#include "process/startup.h"
#include "process/metrics_master.h"
#include "registry/registry.h"
#include "registry/registry_conf.h"

namespace {

struct Cli {
  std::string conf_path = SP_CONF_PATH;
  std::string prefix;
  std::string global_directives;
  std::string signal_word;
  bool test = false;
  bool dump = false;
  bool quiet = false;
  bool version = false;
  bool version_full = false;
  bool help = false;
};

void usage(FILE* out) {
  fprintf(out,
          "Usage: srs-proxy [-?hvVtTq] [-s signal] [-p prefix] [-c filename] [-g directives]\n\n"
          "Options:\n"
          "  -?,-h         : this help\n"
          "  -v            : show version and exit\n"
          "  -V            : show version and configure options then exit\n"
          "  -t            : test configuration and exit\n"
          "  -T            : test configuration, dump it and exit\n"
          "  -q            : suppress non-error messages during configuration testing\n"
          "  -s signal     : send signal to a master process: stop, quit, reopen, reload\n"
          "  -p prefix     : set prefix path (default: %s)\n"
          "  -c filename   : set configuration file (default: %s)\n"
          "  -g directives : set global directives out of configuration file\n",
          SP_PREFIX, SP_CONF_PATH);
}

void emerg(const std::string& msg) { fprintf(stderr, "srs-proxy: [emerg] %s\n", msg.c_str()); }

// Returns -1 to go on, else the exit status.
int parse_cli(int argc, char** argv, Cli* cli) {
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    if (a[0] != '-' || !a[1]) {
      fprintf(stderr, "srs-proxy: invalid option: \"%s\"\n", a);
      return 1;
    }
    for (const char* p = a + 1; *p; p++) {
      auto value = [&](std::string* out, const char* what) -> bool {
        if (p[1]) {
          *out = p + 1;
        } else if (i + 1 < argc) {
          *out = argv[++i];
        } else {
          fprintf(stderr, "srs-proxy: option \"-%c\" requires %s\n", *p, what);
          return false;
        }
        return true;
      };
      switch (*p) {
        case '?':
        case 'h': cli->help = true; break;
        case 'v': cli->version = true; break;
        case 'V': cli->version_full = true; break;
        case 't': cli->test = true; break;
        case 'T': cli->test = cli->dump = true; break;
        case 'q': cli->quiet = true; break;
        case 'c':
          if (!value(&cli->conf_path, "file name")) return 1;
          goto next_arg;
        case 'p':
          if (!value(&cli->prefix, "directory name")) return 1;
          goto next_arg;
        case 'g':
          if (!value(&cli->global_directives, "parameter")) return 1;
          goto next_arg;
        case 's':
          if (!value(&cli->signal_word, "parameter")) return 1;
          if (cli->signal_word != "stop" && cli->signal_word != "quit" && cli->signal_word != "reopen" &&
              cli->signal_word != "reload") {
            fprintf(stderr, "srs-proxy: invalid option: \"-s %s\"\n", cli->signal_word.c_str());
            return 1;
          }
          goto next_arg;
        default:
          fprintf(stderr, "srs-proxy: invalid option: \"%c\"\n", *p);
          return 1;
      }
    }
  next_arg:;
  }
  return -1;
}

// Whether `pid` is a live srs-proxy master (or a `master_process off`
// process), so -s never signals whatever process reused a stale pid. The
// master's title is "srs-proxy: master process ..."; a single process keeps
// its command line, so its executable's name is checked. Without /proc
// nothing can be checked and the pid is trusted.
bool is_srs_proxy_master(pid_t pid) {
  if (access("/proc/self/cmdline", R_OK) != 0) return true;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  if (!in) return true;  // no such process: kill() says so
  std::string cmdline;
  std::getline(in, cmdline, '\0');
  if (cmdline.rfind("srs-proxy: master process", 0) == 0) return true;
  if (cmdline.rfind("srs-proxy:", 0) == 0) return false;  // a worker
  char exe[4096];
  ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), exe, sizeof exe - 1);
  if (n <= 0) return false;
  std::string path(exe, size_t(n));
  std::string base = path.substr(path.rfind('/') + 1);
  return base == "srs-proxy" || base == "srs-proxy (deleted)";
}

int send_signal(const sp::Config& conf, const std::string& word) {
  std::ifstream in(conf.pid_path);
  long pid = 0;
  if (!in) {
    fprintf(stderr, "srs-proxy: [error] open() \"%s\" failed (%d: %s); is srs-proxy running?\n",
            conf.pid_path.c_str(), errno, strerror(errno));
    return 1;
  }
  if (!(in >> pid) || pid <= 0) {
    fprintf(stderr, "srs-proxy: [error] invalid PID number in \"%s\"\n", conf.pid_path.c_str());
    return 1;
  }
  if (!is_srs_proxy_master(pid_t(pid))) {
    fprintf(stderr,
            "srs-proxy: [error] process %ld named in \"%s\" is not an srs-proxy master (a stale pid file?); "
            "no signal sent\n",
            pid, conf.pid_path.c_str());
    return 1;
  }
  int signo = word == "stop" ? SIGTERM : word == "quit" ? SIGQUIT : word == "reopen" ? SIGUSR1 : SIGHUP;
  if (kill(pid_t(pid), signo) != 0) {
    fprintf(stderr, "srs-proxy: [error] kill(%ld, %d) failed (%d: %s); no srs-proxy master is running\n", pid,
            signo, errno, strerror(errno));
    return 1;
  }
  return 0;
}

// In the process that ran `srs-proxy`, after the fork: waits for the
// master's start-up report (process/startup.h) and exits with it, so a
// service manager (systemd Type=forking) and a shell see a start whose
// workers failed as a failed start.
[[noreturn]] void wait_for_master(int fd) {
  sp::StartupReport r;
  while (r.state != sp::StartupReport::started && !sp::read_startup_report(fd, &r)) {
  }
  if (r.state == sp::StartupReport::started) _exit(0);
  if (r.state == sp::StartupReport::failed) {
    emerg(r.reason);
  } else {
    emerg("the master process exited during start-up; see the error log " + sp::log::path());
  }
  _exit(1);
}

// Returns the descriptor the master reports its start-up on, or -1 on error.
int daemonize() {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    emerg(std::string("pipe() failed: ") + strerror(errno));
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    emerg(std::string("fork() failed: ") + strerror(errno));
    return -1;
  }
  if (pid > 0) {
    close(report[1]);
    wait_for_master(report[0]);
  }
  close(report[0]);
  if (setsid() < 0) {
    emerg(std::string("setsid() failed: ") + strerror(errno));
    return -1;
  }
  umask(022);
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (sp::log::path() != "stderr") dup2(sp::log::fd(), STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
  return report[1];
}

bool write_pid_file(const std::string& path) {
  std::string text = std::to_string(getpid()) + "\n";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, text.data(), text.size()) != ssize_t(text.size())) {
    SP_PERROR("writing pid file \"%s\" failed: %s", path.c_str(), strerror(errno));
    if (fd >= 0) close(fd);
    return false;
  }
  close(fd);
  return true;
}

// Removes the pid file on exit, but only if it is still ours.
struct PidFile {
  std::string path;
  pid_t owner = getpid();
  ~PidFile() {
    if (!path.empty() && getpid() == owner) unlink(path.c_str());
  }
};

}  // namespace

int main(int argc, char** argv) {
  sp::proctitle_init(argc, argv);
  Cli cli;
  int rc = parse_cli(argc, argv, &cli);
  if (rc >= 0) return rc;
  if (cli.help) {
    printf("srs-proxy version: srs-proxy/%s\n", SP_VERSION);
    usage(stdout);
    return 0;
  }
  if (cli.version || cli.version_full) {
    fprintf(stderr, "srs-proxy version: srs-proxy/%s\n", SP_VERSION);
    if (cli.version_full) {
      uint32_t srt = srt_getversion();
      fprintf(stderr, "built with libevent %s, %s, libsrt %u.%u.%u (running with libsrt %u.%u.%u)\n",
              event_get_version(), OPENSSL_VERSION_TEXT, unsigned(SRT_VERSION_MAJOR), unsigned(SRT_VERSION_MINOR),
              unsigned(SRT_VERSION_PATCH), srt >> 16, (srt >> 8) & 0xff, srt & 0xff);
      fprintf(stderr, "configure arguments:%s%s\n", *SP_CONFIGURE_ARGS ? " " : "", SP_CONFIGURE_ARGS);
    }
    return 0;
  }

  sp::LoadOptions lo;
  lo.prefix = cli.prefix;
  lo.global_directives = cli.global_directives;
  auto conf = sp::load_config(cli.conf_path, lo);
  if (cli.test) {
    std::string file = conf.ok() ? conf->conf_file : cli.conf_path;
    if (!conf.ok()) {
      emerg(conf.error());
      fprintf(stderr, "srs-proxy: configuration file %s test failed\n", file.c_str());
      return 1;
    }
    // What the processes need at run time: user, log and pid paths,
    // certificates and root as the workers' user.
    sp::Status runtime = sp::check_runtime(*conf);
    if (!runtime.ok()) {
      emerg(runtime.message());
      fprintf(stderr, "srs-proxy: configuration file %s test failed\n", file.c_str());
      return 1;
    }
    if (!cli.quiet) {
      fprintf(stderr, "srs-proxy: the configuration file %s syntax is ok\n", file.c_str());
      fprintf(stderr, "srs-proxy: configuration file %s test is successful\n", file.c_str());
      // What the settings reach outside this host (the registry's Redis).
      for (const std::string& p : sp::config_probes(*conf)) fprintf(stderr, "srs-proxy: %s\n", p.c_str());
      // Where each setting came from: the PROXY_* lines, then the files.
      for (const std::string& e : conf->env_overrides) fprintf(stderr, "srs-proxy: %s\n", e.c_str());
      if (!conf->env_overrides.empty()) {
        fprintf(stderr, "srs-proxy: every other setting comes from %s%s\n", file.c_str(),
                conf->sources.size() > 1 ? " and the files it includes" : "");
      }
    }
    if (cli.dump) fputs(sp::dump_config(*conf).c_str(), stdout);
    return 0;
  }
  if (!conf.ok()) {
    emerg(conf.error());
    return 1;
  }
  if (!cli.signal_word.empty()) return send_signal(*conf, cli.signal_word);
  if (sp::Status runtime = sp::check_runtime(*conf); !runtime.ok()) {
    emerg(runtime.message());
    return 1;
  }

  sp::Status st = sp::log::open(conf->error_log, conf->error_log_level);
  if (!st.ok()) {
    emerg(st.message());
    return 1;
  }
  sp::log::set_redact_words(conf->log_redact);
  sp::log::set_process_context("master");
  for (const std::string& e : conf->env_overrides) SP_PNOTICE("environment: %s", e.c_str());
  // The first configuration generation: the configuration and its sockets.
  auto cycle = sp::Cycle::create(std::move(*conf), nullptr);
  if (!cycle.ok()) {
    emerg(cycle.error());
    SP_CRIT("master", "%s", cycle.error().c_str());
    return 1;
  }
  const sp::Config& c = (*cycle)->conf;
  const sp::RegistryConf& registry_conf = c.module<sp::RegistryConf>();
  auto registry = sp::Registry::create(registry_conf.size, sp::registry_ttls(registry_conf));
  if (!registry.ok()) {
    emerg(registry.error());
    SP_CRIT("master", "%s", registry.error().c_str());
    return 1;
  }
  // The metrics area (core/metrics.h): mapped before any fork, like the registry.
  auto metrics_area = sp::metrics::Area::create(sp::metrics::Area::slots_for(c.worker_processes));
  if (!metrics_area.ok()) {
    emerg(metrics_area.error());
    SP_CRIT("master", "%s", metrics_area.error().c_str());
    return 1;
  }
  sp::metrics::set_area(*metrics_area);
  sp::metrics::note_generation(*metrics_area, (*cycle)->generation, (*cycle)->listeners);
  int report_fd = -1;
  if (c.daemon && (report_fd = daemonize()) < 0) return 1;
  // Origins are told this pid (the registration reply): the master's, after the fork.
  (*registry)->set_creator_pid(getpid());
  PidFile pid_file;
  if (!write_pid_file(c.pid_path)) {
    std::string msg = "cannot write pid file " + c.pid_path + ": " + strerror(errno);
    emerg(msg);
    sp::set_startup_report_fd(report_fd);
    sp::report_startup_failure(msg);
    return 1;
  }
  pid_file.path = c.pid_path;
  SP_PNOTICE("srs-proxy/%s started with %s, %d worker processes", SP_VERSION, c.conf_file.c_str(),
             c.worker_processes);
  for (const auto& l : (*cycle)->listeners.items()) {
    SP_PINFO("listening on %s %s (%s)", l.udp ? "udp" : "tcp", l.conf.addr.to_string().c_str(), l.kind.c_str());
  }
  for (const std::string& w : sp::config_warnings(c)) SP_PWARN("%s", w.c_str());
  if (!c.master_process) {
    sp::set_startup_report_fd(report_fd);  // the single process reports like a worker
    bool foreground = !c.daemon;
    std::string log_path = c.error_log;
    int single = sp::run_single(std::move(*cycle), std::move(*registry));
    if (single != sp::kExitStartupFailed) return single;
    if (foreground) emerg("a service failed at start-up; the reason is in the error log " + log_path);
    return 1;
  }
  sp::MasterOptions mo;
  mo.report_fd = report_fd;
  mo.conf_path = cli.conf_path;
  mo.load = lo;
  mo.title = "master process " + std::string(argv[0]) + " -c " + c.conf_file;
  return sp::run_master(std::move(*cycle), std::move(*registry), mo);
}
