// A real redis-server for the unit tests (a child on a free loopback port,
// without persistence, ready once it answers PING) and an event loop the
// test drives until a condition holds. Shared by redis_store_test.cpp and
// redis_registry_client_test.cpp.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/event_ptr.h"
#include "core/result.h"
#include "registry/redis_store.h"

namespace sp {
namespace {

uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

std::string find_redis_server() {
  for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

// A redis-server child on a loopback port, without persistence.
class RedisServer {
 public:
  explicit RedisServer(uint16_t port, std::string password = "", std::string unix_path = "")
      : port_(port), password_(std::move(password)), unix_path_(std::move(unix_path)) {}
  ~RedisServer() { stop(); }
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Starts it and waits for PING (up to 5 s). Error text when it cannot.
  std::string start() {
    std::string bin = find_redis_server();
    if (bin.empty()) return "redis-server not found (install the Debian package redis-server)";
    pid_ = fork();
    if (pid_ == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      std::string port = std::to_string(port_);
      std::vector<const char*> argv{bin.c_str(), "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no"};
      if (!unix_path_.empty()) {
        argv.push_back("--unixsocket");
        argv.push_back(unix_path_.c_str());
      }
      if (!password_.empty()) {
        argv.push_back("--requirepass");
        argv.push_back(password_.c_str());
      }
      argv.push_back(nullptr);
      execv(bin.c_str(), const_cast<char**>(argv.data()));
      _exit(127);
    }
    for (int i = 0; i < 500; i++) {
      if (redisReply* r = sync("PING"); r) {
        bool ok = r->type == REDIS_REPLY_STATUS && std::string(r->str) == "PONG";
        freeReplyObject(r);
        if (ok) return "";
      }
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "redis-server exited at start";
      }
      usleep(10 * 1000);
    }
    return "redis-server did not answer PING within 5 s";
  }
  void stop() {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  // SIGSTOP / SIGCONT: a Redis that holds connections but answers nothing.
  void pause() {
    if (pid_ > 0) kill(pid_, SIGSTOP);
  }
  void resume() {
    if (pid_ > 0) kill(pid_, SIGCONT);
  }
  // A blocking command on the test's own connection (nullptr when down).
  template <class... Args>
  redisReply* sync(const char* fmt, Args... args) {
    if (!ctx_) {
      timeval tv{1, 0};
      ctx_ = redisConnectWithTimeout("127.0.0.1", port_, tv);
      if (!ctx_ || ctx_->err) {
        if (ctx_) redisFree(ctx_);
        ctx_ = nullptr;
        return nullptr;
      }
      if (!password_.empty()) freeReplyObject(redisCommand(ctx_, "AUTH %s", password_.c_str()));
    }
    auto* r = static_cast<redisReply*>(redisCommand(ctx_, fmt, args...));
    if (!r) {
      redisFree(ctx_);
      ctx_ = nullptr;
    }
    return r;
  }
  long long integer(const std::string& cmd) {
    redisReply* r = sync(cmd.c_str());
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    if (r) freeReplyObject(r);
    return n;
  }
  std::string text(const std::string& cmd) {
    redisReply* r = sync(cmd.c_str());
    std::string s = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? std::string(r->str, r->len)
                                                                                          : std::string();
    if (r) freeReplyObject(r);
    return s;
  }

 private:
  uint16_t port_;
  std::string password_;
  std::string unix_path_;
  pid_t pid_ = -1;
  redisContext* ctx_ = nullptr;
};

// One event loop, driven by the test until a condition holds.
struct Loop {
  EventBasePtr base{event_base_new()};
  bool run_until(const std::function<bool()>& done, int64_t timeout_ms = 5000) {
    EventPtr tick(event_new(base.get(), -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr));
    timeval tv = ms_to_timeval(5);
    evtimer_add(tick.get(), &tv);
    int64_t deadline = monotonic_ms() + timeout_ms;
    while (!done()) {
      if (monotonic_ms() > deadline) return false;
      event_base_loop(base.get(), EVLOOP_ONCE);
    }
    return true;
  }
  template <class T, class F>
  Result<T> call(F&& f) {
    std::optional<Result<T>> out;
    f([&](Result<T> r) { out.emplace(std::move(r)); });
    if (!run_until([&] { return out.has_value(); })) return Result<T>::Error("test: no answer within 5 s");
    return std::move(*out);
  }
  Status call_status(const std::function<void(RedisStore::StatusDone)>& f) {
    std::optional<Status> out;
    f([&](Status s) { out = std::move(s); });
    if (!run_until([&] { return out.has_value(); })) return Status::Error("test: no answer within 5 s");
    return *out;
  }
};

}  // namespace
}  // namespace sp
