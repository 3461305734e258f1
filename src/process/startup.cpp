// Run-time checks of a configuration and the workers' start-up reports:
// see startup.h.
#include "process/startup.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/conf_checks.h"

namespace sp {

namespace {

int g_report_fd = -1;

std::string errno_text(int err) { return strerror(err); }

// A file the master creates or appends to (error log, pid file).
Status check_writable_file(const char* what, const std::string& path) {
  if (path.empty() || path == "stderr") return Status::Ok();
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Error(std::string(what) + " \"" + path + "\" is a directory");
    if (access(path.c_str(), W_OK) != 0) {
      return Status::Error(std::string(what) + " \"" + path + "\" is not writable: " + errno_text(errno));
    }
    return Status::Ok();
  }
  std::string dir = conf_dir_of(path);
  if (stat(dir.c_str(), &st) != 0) {
    return Status::Error(std::string(what) + " \"" + path + "\" cannot be created: directory \"" + dir +
                         "\": " + errno_text(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::Error(std::string(what) + " \"" + path + "\" cannot be created: \"" + dir +
                         "\" is not a directory");
  }
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status::Error(std::string(what) + " \"" + path + "\" cannot be created: directory \"" + dir +
                         "\" is not writable: " + errno_text(errno));
  }
  return Status::Ok();
}

using ReadCheck = ConfRead;

// Files the workers read after switching user, as each module lists them.
std::vector<ReadCheck> worker_reads(const Config& c) {
  std::vector<ReadCheck> out;
  for (const ConfModule* m : conf_modules()) {
    if (m->reads) m->reads(c, &out);
  }
  return out;
}

// "" when the file can be read (a directory: listed and searched).
std::string try_read(const ReadCheck& r) {
  struct stat st;
  if (stat(r.path.c_str(), &st) != 0) return errno_text(errno);
  if (r.directory) {
    if (!S_ISDIR(st.st_mode)) return "not a directory";
    if (access(r.path.c_str(), R_OK | X_OK) != 0) return errno_text(errno);
    return "";
  }
  int fd = open(r.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_text(errno);
  close(fd);
  return "";
}

// Runs the read checks in a child switched to `pw`, so they see exactly
// what a worker will: returns the first failure, "" if none.
std::string probe_as_user(const passwd& pw, const std::vector<ReadCheck>& reads) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return "";  // cannot probe; the workers will report
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return "";
  }
  if (pid == 0) {
    close(p[0]);
    std::string msg;
    if (setgid(pw.pw_gid) != 0 || initgroups(pw.pw_name, pw.pw_gid) != 0 || setuid(pw.pw_uid) != 0) {
      msg = std::string("switching to user \"") + pw.pw_name + "\" failed: " + errno_text(errno);
    } else {
      for (const ReadCheck& r : reads) {
        std::string why = try_read(r);
        if (!why.empty()) {
          msg = r.what + " \"" + r.path + "\" cannot be read by user \"" + pw.pw_name + "\": " + why;
          break;
        }
      }
    }
    ssize_t ignored = write(p[1], msg.data(), msg.size());
    (void)ignored;
    _exit(0);
  }
  close(p[1]);
  std::string msg;
  char buf[512];
  for (;;) {
    ssize_t n = read(p[0], buf, sizeof buf);
    if (n > 0) msg.append(buf, size_t(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  close(p[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return msg;
}

}  // namespace

Status check_runtime(const Config& c) {
  const passwd* pw = nullptr;
  passwd pw_copy{};
  std::string name_copy;
  if (!c.user.empty()) {
    pw = getpwnam(c.user.c_str());
    if (!pw) return Status::Error("user \"" + c.user + "\" not found");
    if (!getgrgid(pw->pw_gid)) {
      return Status::Error("group " + std::to_string(pw->pw_gid) + " of user \"" + c.user + "\" not found");
    }
    pw_copy = *pw;
    name_copy = pw->pw_name;
    pw_copy.pw_name = name_copy.data();
  }
  Status st = check_writable_file("error_log", c.error_log);
  if (!st.ok()) return st;
  st = check_writable_file("pid", c.pid_path);
  if (!st.ok()) return st;
  std::vector<ReadCheck> reads = worker_reads(c);
  if (pw && geteuid() == 0 && pw_copy.pw_uid != 0) {
    std::string why = probe_as_user(pw_copy, reads);
    if (!why.empty()) return Status::Error(why);
    return Status::Ok();
  }
  for (const ReadCheck& r : reads) {
    std::string why = try_read(r);
    if (!why.empty()) return Status::Error(r.what + " \"" + r.path + "\" cannot be read: " + why);
  }
  return Status::Ok();
}

void set_startup_report_fd(int fd) { g_report_fd = fd; }
int startup_report_fd() { return g_report_fd; }

namespace {
void report(std::string_view text) {
  if (g_report_fd < 0) return;
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(g_report_fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += size_t(n);
  }
  close(g_report_fd);
  g_report_fd = -1;
}
}  // namespace

void report_started() { report("R"); }

void report_startup_failure(std::string_view reason) {
  std::string text = "F" + std::string(reason);
  if (text.size() > 1024) text.resize(1024);  // one pipe write, never blocks
  report(text);
}

bool read_startup_report(int fd, StartupReport* r) {
  char buf[1100];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    if (n == 0) return true;
    std::string_view s(buf, size_t(n));
    if (r->state == StartupReport::none && !s.empty()) {
      r->state = s[0] == 'R' ? StartupReport::started : StartupReport::failed;
      s.remove_prefix(1);
    }
    if (r->state == StartupReport::failed) r->reason.append(s);
  }
}

}  // namespace sp
