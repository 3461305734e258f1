// A small owner of one hiredis async connection to Redis on a libevent
// event_base (hiredis's libevent adapter), so no event loop ever blocks on a
// Redis round trip. It connects (host:port or a unix socket path), sends AUTH
// and SELECT, and is ready once they and a PING answered. Commands are
// pipelined (hiredis queues them in order on the one connection); each has a
// completion callback and an optional timeout. A dropped or refused
// connection is retried with exponential back-off (backoff_min_ms doubling up
// to backoff_max_ms); the log gets one line per state change, never one per
// request. Scripts run by EVALSHA, falling back to EVAL on NOSCRIPT (a Redis
// restarted or flushed since the script was last loaded).
//
// The pure parts (address parsing, RedisValue) are unit-tested without a
// server; tests/unit/redis_store_test.cpp drives the rest against a real one.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

struct redisAsyncContext;  // hiredis/async.h

namespace sp {

// A Redis reply as a plain value (what a completion callback gets). Error
// replies never reach callbacks as values: they become the Result's error.
struct RedisValue {
  enum class Type : uint8_t { nil, integer, string, status, array };
  Type type = Type::nil;
  int64_t integer = 0;
  std::string str;  // string and status replies
  std::vector<RedisValue> elements;

  static RedisValue of_string(std::string s) {
    RedisValue v;
    v.type = Type::string;
    v.str = std::move(s);
    return v;
  }
  static RedisValue of_integer(int64_t n) {
    RedisValue v;
    v.type = Type::integer;
    v.integer = n;
    return v;
  }
  static RedisValue of_array(std::vector<RedisValue> e) {
    RedisValue v;
    v.type = Type::array;
    v.elements = std::move(e);
    return v;
  }
  bool is_nil() const { return type == Type::nil; }
  bool is_array() const { return type == Type::array; }
  // The value as text: strings and statuses as they are, integers in
  // decimal, nil and arrays as "".
  std::string text() const;
};

// Where Redis listens: "host:port", "[v6]:port", "host" (port 6379),
// "unix:/path" or "/path" (a unix socket).
struct RedisAddress {
  std::string host;
  uint16_t port = 6379;
  std::string unix_path;  // set for a unix socket (host and port unused)
  std::string to_string() const;
};
Result<RedisAddress> parse_redis_address(std::string_view text);

// The kind of an error reply: the registry scripts' own refusals (their
// messages are those of the shared-memory registry: "registry full: ...",
// "no alive origin serves ...") keep their meaning; anything else Redis says
// is internal. Lost connections are `unavailable`, expired calls `timeout`.
ErrorKind redis_error_kind(std::string_view message);
// True for the client's own "not connected" / "connection lost before the
// reply" errors (Redis unreachable), as opposed to an answer of Redis.
bool redis_transport_error(std::string_view message);

struct RedisClientOptions {
  std::string address = "127.0.0.1:6379";
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECTed when not 0
  int64_t connect_timeout_ms = 2000;  // connect + AUTH/SELECT/PING answered
  int64_t command_timeout_ms = 2000;  // default per-call timeout (0 = none)
  int64_t backoff_min_ms = 100;
  int64_t backoff_max_ms = 5000;
  std::string log_name = "redis";  // names the peer in the log lines
};

// A Lua script, identified by the SHA1 of its body (computed once).
class RedisScript {
 public:
  RedisScript(std::string name, std::string body);
  const std::string& name() const { return name_; }
  const std::string& body() const { return body_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string name_, body_, sha1_;
};

class RedisClient {
 public:
  using Callback = std::function<void(Result<RedisValue>)>;
  enum class State : uint8_t { idle, connecting, ready, backing_off, closed };

  // Checks the address; connects on start().
  static Result<std::unique_ptr<RedisClient>> create(event_base* base, RedisClientOptions options);
  // Frees the connection. Callbacks of calls still in flight are dropped
  // (never called), so their owners may already be gone.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Starts connecting; from then on the client keeps itself connected.
  void start();
  bool connected() const { return state_ == State::ready; }
  State state() const { return state_; }
  // Called on every change between connected and not (after the log line).
  void set_on_state(std::function<void(bool connected)> fn) { on_state_ = std::move(fn); }
  const RedisClientOptions& options() const { return options_; }

  // Sends a command. `cb` runs exactly once, from the event loop (never
  // inside this call): with the reply, or an error (Redis's error reply,
  // "redis ... not connected", the connection lost, or the timeout).
  // timeout_ms < 0: the options' command_timeout_ms; 0: none. A call that
  // timed out may still be executed by Redis.
  void command(std::vector<std::string> args, Callback cb, int64_t timeout_ms = -1);
  // EVALSHA `script` (EVAL if Redis does not know it yet).
  void eval(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args, Callback cb,
            int64_t timeout_ms = -1);

  // Calls sent and not yet answered (or timed out), for tests and the bench.
  size_t in_flight() const { return in_flight_; }

 private:
  struct Call;
  RedisClient(event_base* base, RedisClientOptions options, RedisAddress address);
  void connect();
  void on_connected(int status);
  void on_disconnected(int status);
  void on_handshake_reply(bool ok, const std::string& error);
  void fail_and_retry(const std::string& why);
  void set_state(State s, const std::string& why);
  void send(Call* call, const std::vector<std::string>& argv);
  void defer_error(Callback cb, std::string message);
  static void reply_cb(::redisAsyncContext* ac, void* reply, void* privdata);
  static void connect_cb(const ::redisAsyncContext* ac, int status);
  static void disconnect_cb(const ::redisAsyncContext* ac, int status);

  event_base* base_;
  RedisClientOptions options_;
  RedisAddress address_;
  ::redisAsyncContext* ac_ = nullptr;
  State state_ = State::idle;
  bool logged_down_ = false;  // "unreachable" already logged for this outage
  int handshake_pending_ = 0;
  uint64_t generation_ = 0;            // connections made so far
  uint64_t handshake_generation_ = 0;  // the one whose handshake counts (0: none)
  std::string handshake_error_;
  int64_t backoff_ms_ = 0;
  event* retry_timer_ = nullptr;
  event* connect_timer_ = nullptr;
  size_t in_flight_ = 0;
  std::function<void(bool)> on_state_;
  std::shared_ptr<bool> alive_;  // false once destroyed (deferred errors check it)
};

}  // namespace sp
