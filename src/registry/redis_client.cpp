// The hiredis async connection owner (see redis_client.h): connect, handshake,
// back-off, per-call timeouts and the EVALSHA/EVAL fallback.
#include "registry/redis_client.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>

#include "core/event_ptr.h"
#include "core/log.h"

namespace sp {

std::string RedisValue::text() const {
  switch (type) {
    case Type::string:
    case Type::status:
      return str;
    case Type::integer:
      return std::to_string(integer);
    default:
      return "";
  }
}

std::string RedisAddress::to_string() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool redis_transport_error(std::string_view m) {
  return m.ends_with(" not connected") || m.ends_with(" connection lost before the reply");
}

ErrorKind redis_error_kind(std::string_view m) {
  if (m.starts_with("registry full")) return ErrorKind::full;
  if (m.starts_with("no alive origin") || (m.starts_with("origin ") && (m.ends_with(" is gone") || m.find(" has no ") != std::string_view::npos))) {
    return ErrorKind::unavailable;
  }
  return ErrorKind::internal;  // Redis's own errors (OOM, NOSCRIPT, WRONGTYPE...)
}

Result<RedisAddress> parse_redis_address(std::string_view text) {
  RedisAddress a;
  if (text.starts_with("unix:")) text.remove_prefix(5);
  if (text.starts_with("/")) {
    a.unix_path = std::string(text);
    return a;
  }
  if (text.empty()) return Result<RedisAddress>::Error("empty redis address");
  std::string_view host = text, port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Result<RedisAddress>::Error("redis address: missing ']'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Result<RedisAddress>::Error("redis address: expected ':' after ']'");
      port = rest.substr(1);
      if (port.empty()) return Result<RedisAddress>::Error("redis address: empty port");
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      if (text.find(':') != colon) return Result<RedisAddress>::Error("redis address: IPv6 needs [brackets]");
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (port.empty()) return Result<RedisAddress>::Error("redis address: empty port");
    }
  }
  if (host.empty()) return Result<RedisAddress>::Error("redis address: empty host");
  a.host = std::string(host);
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) {
      return Result<RedisAddress>::Error("redis address: bad port '" + std::string(port) + "'");
    }
    a.port = uint16_t(v);
  }
  return a;
}

static std::string sha1_hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha1(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; i++) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

RedisScript::RedisScript(std::string name, std::string body)
    : name_(std::move(name)), body_(std::move(body)), sha1_(sha1_hex(body_)) {}

static RedisValue value_of(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::string;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::status;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::integer;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::array;
      v.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; i++) v.elements.push_back(value_of(r->element[i]));
      break;
    default:
      break;
  }
  return v;
}

struct RedisClient::Call {
  RedisClient* client = nullptr;
  std::shared_ptr<bool> alive;
  Callback cb;
  event* timer = nullptr;
  bool timed_out = false;
  // Handshake calls (AUTH/SELECT/PING) of connection `generation`.
  bool handshake = false;
  uint64_t generation = 0;
};

RedisClient::RedisClient(event_base* base, RedisClientOptions options, RedisAddress address)
    : base_(base), options_(std::move(options)), address_(std::move(address)), alive_(std::make_shared<bool>(true)) {
  retry_timer_ = evtimer_new(
      base_, [](evutil_socket_t, short, void* arg) { static_cast<RedisClient*>(arg)->connect(); }, this);
  connect_timer_ = evtimer_new(
      base_,
      [](evutil_socket_t, short, void* arg) { static_cast<RedisClient*>(arg)->fail_and_retry("connect timed out"); },
      this);
}

Result<std::unique_ptr<RedisClient>> RedisClient::create(event_base* base, RedisClientOptions options) {
  Result<RedisAddress> a = parse_redis_address(options.address);
  if (!a.ok()) return a.status();
  if (options.db < 0) return Result<std::unique_ptr<RedisClient>>::Error("redis db must be >= 0");
  options.backoff_min_ms = std::max<int64_t>(1, options.backoff_min_ms);
  options.backoff_max_ms = std::max(options.backoff_min_ms, options.backoff_max_ms);
  return std::unique_ptr<RedisClient>(new RedisClient(base, std::move(options), std::move(*a)));
}

RedisClient::~RedisClient() {
  *alive_ = false;
  state_ = State::closed;
  if (ac_) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);  // pending calls see *alive == false: dropped
  }
  event_free(retry_timer_);
  event_free(connect_timer_);
}

void RedisClient::start() {
  if (state_ == State::idle) connect();
}

void RedisClient::connect() {
  state_ = State::connecting;
  ac_ = address_.unix_path.empty() ? redisAsyncConnect(address_.host.c_str(), address_.port)
                                   : redisAsyncConnectUnix(address_.unix_path.c_str());
  if (!ac_) {
    fail_and_retry("out of memory");
    return;
  }
  if (ac_->err) {
    std::string e = ac_->errstr;
    redisAsyncFree(ac_);
    ac_ = nullptr;
    fail_and_retry(e);
    return;
  }
  ac_->data = this;
  redisLibeventAttach(ac_, base_);
  redisAsyncSetConnectCallback(ac_, connect_cb);
  redisAsyncSetDisconnectCallback(ac_, disconnect_cb);
  uint64_t generation = ++generation_;
  handshake_generation_ = generation;
  handshake_pending_ = 0;
  handshake_error_.clear();
  auto queue = [&](std::vector<std::string> argv) {
    Call* c = new Call;
    c->client = this;
    c->alive = alive_;
    c->handshake = true;
    c->generation = generation;
    handshake_pending_++;
    send(c, argv);
  };
  if (!options_.password.empty()) queue({"AUTH", options_.password});
  if (options_.db != 0) queue({"SELECT", std::to_string(options_.db)});
  queue({"PING"});
  timeval tv = ms_to_timeval(options_.connect_timeout_ms);
  evtimer_add(connect_timer_, &tv);
}

void RedisClient::connect_cb(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (!self || ac != self->ac_ || status == REDIS_OK) return;  // ready once the handshake answered
  self->ac_ = nullptr;  // hiredis frees it after this callback
  self->fail_and_retry(ac->errstr[0] ? ac->errstr : "connect failed");
}

void RedisClient::disconnect_cb(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (!self || ac != self->ac_) return;
  self->ac_ = nullptr;  // hiredis frees it after this callback
  self->fail_and_retry(status == REDIS_OK || !ac->errstr[0] ? "connection closed" : ac->errstr);
}

void RedisClient::on_handshake_reply(bool ok, const std::string& error) {
  if (!ok && handshake_error_.empty()) handshake_error_ = error;
  if (--handshake_pending_ > 0) return;
  if (!handshake_error_.empty()) {
    fail_and_retry(handshake_error_);
    return;
  }
  evtimer_del(connect_timer_);
  backoff_ms_ = 0;
  set_state(State::ready, "");
}

void RedisClient::fail_and_retry(const std::string& why) {
  if (state_ == State::closed) return;
  handshake_generation_ = 0;  // the abandoned connection's handshake replies no longer count
  evtimer_del(connect_timer_);
  if (ac_) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);
  }
  backoff_ms_ = backoff_ms_ == 0 ? options_.backoff_min_ms : std::min(backoff_ms_ * 2, options_.backoff_max_ms);
  set_state(State::backing_off, why);
  timeval tv = ms_to_timeval(backoff_ms_);
  evtimer_add(retry_timer_, &tv);
}

void RedisClient::set_state(State s, const std::string& why) {
  State was = state_;
  state_ = s;
  const std::string peer = options_.log_name + " " + address_.to_string();
  if (s == State::ready) {
    SP_PNOTICE("%s: %s (db %d)", peer.c_str(), logged_down_ ? "back, reachable again" : "connected", options_.db);
    logged_down_ = false;
    if (on_state_) on_state_(true);
    return;
  }
  if (s != State::backing_off) return;
  if (was == State::ready) {
    SP_PWARN("%s: connection lost (%s); reconnecting with back-off up to %lld ms", peer.c_str(), why.c_str(),
             (long long)options_.backoff_max_ms);
    logged_down_ = true;
    if (on_state_) on_state_(false);
  } else if (!logged_down_) {
    SP_PWARN("%s: unreachable (%s); retrying with back-off up to %lld ms", peer.c_str(), why.c_str(),
             (long long)options_.backoff_max_ms);
    logged_down_ = true;
  }
}

void RedisClient::defer_error(Callback cb, std::string message) {
  struct Deferred {
    Callback cb;
    std::string message;
    std::shared_ptr<bool> alive;
  };
  auto* d = new Deferred{std::move(cb), std::move(message), alive_};
  timeval zero{0, 0};
  event_base_once(
      base_, -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* arg) {
        std::unique_ptr<Deferred> d(static_cast<Deferred*>(arg));
        if (*d->alive && d->cb) d->cb(Result<RedisValue>::Error(ErrorKind::unavailable, d->message));
      },
      d, &zero);
}

void RedisClient::send(Call* call, const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const std::string& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  if (!ac_ || redisAsyncCommandArgv(ac_, reply_cb, call, int(argv.size()), ptrs.data(), lens.data()) != REDIS_OK) {
    if (call->handshake) {
      delete call;
      handshake_pending_--;
      return;
    }
    if (!call->timed_out) {
      in_flight_--;
      defer_error(std::move(call->cb), options_.log_name + " " + address_.to_string() + " not connected");
    }
    if (call->timer) event_free(call->timer);
    delete call;
  }
}

void RedisClient::command(std::vector<std::string> args, Callback cb, int64_t timeout_ms) {
  if (state_ != State::ready) {
    defer_error(std::move(cb), options_.log_name + " " + address_.to_string() + " not connected");
    return;
  }
  Call* c = new Call;
  c->client = this;
  c->alive = alive_;
  c->cb = std::move(cb);
  if (timeout_ms < 0) timeout_ms = options_.command_timeout_ms;
  if (timeout_ms > 0) {
    c->timer = evtimer_new(
        base_,
        [](evutil_socket_t, short, void* arg) {
          Call* c = static_cast<Call*>(arg);
          if (!*c->alive || c->timed_out) return;
          c->timed_out = true;
          c->client->in_flight_--;
          Callback cb = std::move(c->cb);
          c->cb = nullptr;
          if (cb) cb(Result<RedisValue>::Error(ErrorKind::timeout, c->client->options_.log_name + " call timed out"));
        },
        c);
    timeval tv = ms_to_timeval(timeout_ms);
    evtimer_add(c->timer, &tv);
  }
  in_flight_++;
  send(c, args);
}

void RedisClient::eval(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args,
                       Callback cb, int64_t timeout_ms) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha1());
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  // The EVAL fallback needs the arguments again: keep them in the callback.
  const RedisScript* sp = &script;
  auto argv_copy = std::make_shared<std::vector<std::string>>(argv);
  auto self_alive = alive_;
  Callback wrapped = [this, sp, argv_copy, self_alive, cb = std::move(cb), timeout_ms](Result<RedisValue> r) mutable {
    if (!r.ok() && r.error().starts_with("NOSCRIPT") && *self_alive) {
      (*argv_copy)[0] = "EVAL";
      (*argv_copy)[1] = sp->body();
      command(std::move(*argv_copy), std::move(cb), timeout_ms);
      return;
    }
    cb(std::move(r));
  };
  command(std::move(argv), std::move(wrapped), timeout_ms);
}

void RedisClient::reply_cb(redisAsyncContext* ac, void* reply, void* privdata) {
  std::unique_ptr<Call> c(static_cast<Call*>(privdata));
  if (!*c->alive) {  // the client is gone: drop
    if (c->timer) event_free(c->timer);
    return;
  }
  RedisClient* self = c->client;
  auto* r = static_cast<redisReply*>(reply);
  if (c->handshake) {
    if (c->generation != self->handshake_generation_) return;  // an abandoned connection's
    if (!r) {
      self->on_handshake_reply(false, "connection closed during the handshake");
    } else if (r->type == REDIS_REPLY_ERROR) {
      self->on_handshake_reply(false, std::string(r->str, r->len));
    } else {
      self->on_handshake_reply(true, "");
    }
    return;
  }
  if (c->timer) event_free(c->timer);
  c->timer = nullptr;
  if (c->timed_out) return;
  self->in_flight_--;
  Callback cb = std::move(c->cb);
  c.reset();
  if (!cb) return;
  if (!r) {
    cb(Result<RedisValue>::Error(ErrorKind::unavailable, self->options_.log_name + " connection lost before the reply"));
  } else if (r->type == REDIS_REPLY_ERROR) {
    std::string message(r->str, r->len);
    ErrorKind kind = redis_error_kind(message);  // before the move below
    cb(Result<RedisValue>::Error(kind, std::move(message)));
  } else {
    cb(value_of(r));
  }
}

}  // namespace sp
