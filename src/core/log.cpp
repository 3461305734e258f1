// Error log implementation: see log.h for the line format and guarantees.
#include "core/log.h"

#include "core/conf_checks.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

namespace sp {

namespace {
const char* kLevelNames[] = {"debug", "info", "notice", "warn", "error", "crit"};

struct LogState {
  int fd = STDERR_FILENO;
  std::string path = "stderr";
  LogLevel level = LogLevel::info;
  std::string process_ctx = "main";
  std::vector<std::string> redact_words;
};
LogState& state() {
  static LogState s;
  return s;
}

Status open_fd(const std::string& path, int* out) {
  if (path == "stderr") {
    *out = STDERR_FILENO;
    return Status::Ok();
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return Status::Error("open() \"" + path + "\" failed: " + strerror(errno));
  *out = fd;
  return Status::Ok();
}
}  // namespace

bool parse_log_level(std::string_view word, LogLevel* out) {
  for (int i = 0; i < 6; i++) {
    if (word == kLevelNames[i]) {
      *out = LogLevel(i);
      return true;
    }
  }
  return false;
}

std::string new_context_id() {
  // Seeded per process (pid + time), so forked workers do not repeat ids.
  static thread_local std::mt19937_64 rng(std::random_device{}() ^ (uint64_t(getpid()) << 32) ^
                                          uint64_t(time(nullptr)));
  static const char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id(8, '0');
  uint64_t r = rng();
  for (char& c : id) {
    c = kAlphabet[r % 36];
    r /= 36;
  }
  return id;
}

namespace log {

// Points the log at the newly opened `fd`. When a file is already open its
// descriptor number is kept: dup3 swaps the open file under it in one step,
// so a thread writing a line at that moment (libsrt's log callback) writes
// to the old file or the new one, never to a closed or reused descriptor.
void install_fd(LogState& s, int fd) {
  if (fd == s.fd) return;
  if (s.fd != STDERR_FILENO && fd != STDERR_FILENO) {
    if (dup3(fd, s.fd, O_CLOEXEC) >= 0) {
      ::close(fd);
      return;
    }
    // dup3 failing leaves s.fd as it was; fall back to switching numbers.
  }
  int old = s.fd;
  s.fd = fd;
  if (old != STDERR_FILENO) ::close(old);
}

Status open(const std::string& path, LogLevel lvl) {
  int fd = -1;
  Status st = open_fd(path, &fd);
  if (!st.ok()) return st;
  LogState& s = state();
  install_fd(s, fd);
  s.path = path;
  s.level = lvl;
  return Status::Ok();
}

Status reopen() {
  LogState& s = state();
  if (s.path == "stderr") return Status::Ok();
  int fd = -1;
  Status st = open_fd(s.path, &fd);
  if (!st.ok()) return st;
  install_fd(s, fd);
  return Status::Ok();
}

int fd() { return state().fd; }
const std::string& path() { return state().path; }
LogLevel level() { return state().level; }
void set_redact_words(const std::vector<std::string>& words) { state().redact_words = words; }
void set_process_context(std::string_view ctx) { state().process_ctx = std::string(ctx); }
const std::string& process_context() { return state().process_ctx; }

void write(LogLevel lvl, std::string_view ctx, const char* fmt, ...) {
  char line[4096];
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  int n = snprintf(line, sizeof(line), "[%04d-%02d-%02d %02d:%02d:%02d.%03d][%s][%d][%.*s] ",
                   t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                   int(tv.tv_usec / 1000), kLevelNames[int(lvl)], int(getpid()), int(ctx.size()),
                   ctx.data());
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
  va_end(ap);
  size_t len = n + (m < 0 ? 0 : std::min<size_t>(m, sizeof(line) - n - 2));
  line[len++] = '\n';
  const std::vector<std::string>& words = state().redact_words;
  if (!words.empty() && memchr(line + n, '=', len - n)) {
    std::string redacted = redact_query_values(std::string_view(line, len), words);
    ssize_t ignored = ::write(state().fd, redacted.data(), redacted.size());
    (void)ignored;
    return;
  }
  ssize_t ignored = ::write(state().fd, line, len);
  (void)ignored;
}

}  // namespace log
}  // namespace sp
