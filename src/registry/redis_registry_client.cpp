// The Redis backend of RegistryClient: see redis_registry_client.h for what
// goes into the local cache and the outage rule.
#include "registry/redis_registry_client.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <optional>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "registry/registry_conf.h"

namespace sp {

namespace {

constexpr int64_t kMirrorIntervalMs = 1000;

// Takes the caller's call state out of a callback: true when the caller
// still waits (not cancelled). The state is released before the caller's
// callback runs, so RegistryCall::pending() is false inside it.
bool claim(std::shared_ptr<RegistryCall::State>& st) {
  std::shared_ptr<RegistryCall::State> mine = std::move(st);
  return mine && !mine->cancelled;
}

// A failure that means Redis could not be asked (not an answer of Redis).
template <class R>
bool unreachable(const R& r) {
  return !r.ok() && r.kind() == ErrorKind::unavailable && redis_transport_error(r.error());
}

}  // namespace

std::string make_proxy_id(std::string_view host, pid_t master_pid, int64_t start_unix_ms) {
  std::string h(host.empty() ? std::string_view("localhost") : host);
  // The id is part of Redis key names: keep it to a safe charset.
  for (char& c : h) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') c = '_';
  }
  return h + ":" + std::to_string(master_pid) + ":" + std::to_string(start_unix_ms);
}

RedisRegistryOptions redis_registry_options(const Config& conf, const Registry& local) {
  const RegistryConf& c = conf.module<RegistryConf>();
  RedisRegistryOptions o;
  o.redis.address = c.redis;
  o.redis.password = c.redis_password;
  o.redis.db = c.redis_db;
  o.redis.connect_timeout_ms = c.redis_timeout_ms;
  o.redis.command_timeout_ms = c.redis_timeout_ms;
  o.redis.log_name = "registry: redis";
  o.store.prefix = c.redis_key_prefix;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  o.store.proxy_id = make_proxy_id(host, local.creator_pid(), local.created_unix_ms());
  o.store.ttls = registry_ttls(c);
  return o;
}

Result<std::unique_ptr<RedisRegistryClient>> RedisRegistryClient::create(event_base* base, Registry& local,
                                                                         RedisRegistryOptions options) {
  auto redis = RedisClient::create(base, options.redis);
  if (!redis.ok()) return redis.status();
  std::unique_ptr<RedisRegistryClient> c(new RedisRegistryClient(local, std::move(options), std::move(*redis)));
  SP_PINFO("registry: backend redis at %s (db %d, key prefix \"%s\"), proxy id %s",
           c->backend_state().address.c_str(), c->options_.redis.db, c->options_.store.prefix.c_str(),
           c->options_.store.proxy_id.c_str());
  c->redis_->start();
  return c;
}

RedisRegistryClient::RedisRegistryClient(Registry& local, RedisRegistryOptions options,
                                         std::unique_ptr<RedisClient> redis)
    : local_(local), options_(std::move(options)), redis_(std::move(redis)) {
  store_ = std::make_unique<RedisStore>(*redis_, options_.store);
  redis_->set_on_state([this](bool up) { on_redis_state(up); });
}

// Freeing the connection drops every callback still in flight (RedisClient),
// so none runs on a destroyed client.
RedisRegistryClient::~RedisRegistryClient() {
  store_.reset();
  redis_.reset();
}

BackendState RedisRegistryClient::backend_state() const {
  BackendState s;
  s.reachable = redis_->connected();
  s.address = parse_redis_address(options_.redis.address).ok() ? parse_redis_address(options_.redis.address)->to_string()
                                                               : options_.redis.address;
  s.proxy_id = options_.store.proxy_id;
  s.key_prefix = options_.store.prefix;
  return s;
}

void RedisRegistryClient::on_redis_state(bool up) {
  if (!up) return;  // RedisClient logged "lost"; look-ups now use the cache
  // Back: what was accepted locally meanwhile reaches Redis.
  std::map<std::string, OriginSpec> regs = std::move(queued_);
  queued_.clear();
  for (const auto& [server, spec] : regs) write_registration(spec);
  std::map<std::pair<std::string, int>, int> counts = std::move(queued_counts_);
  queued_counts_.clear();
  for (const auto& [key, delta] : counts) {
    if (delta != 0) store_->add_client(key.first, Proto(key.second), delta, [](Result<int64_t>) {});
  }
  if (!regs.empty() || !counts.empty()) {
    SP_DEBUG(::sp::log::process_context(), "registry: redis back: wrote %zu registration(s) and %zu client count change(s) made meanwhile",
              regs.size(), counts.size());
  }
  last_heartbeat_ms_ = -1;  // at the next tick
  last_mirror_ms_ = -1;
  repin_until_ms_ = monotonic_ms() + kRepinWindowMs;
  last_repin_ms_ = -1;
}

void RedisRegistryClient::mirror_origin(const OriginView& origin, int64_t now_ms) {
  Status st = local_.mirror_origin(origin, now_ms);
  if (!st.ok()) SP_DEBUG(::sp::log::process_context(), "registry: origin %s not cached locally: %s", origin.server.c_str(), st.message().c_str());
}

Result<Pick> RedisRegistryClient::pick_from_cache(std::string_view stream_key, Proto proto, Proto also,
                                                  int64_t now_ms, const std::string& why) {
  Result<Pick> r = local_.pinned(stream_key, proto, also, now_ms);
  if (r.ok()) return r;
  return Result<Pick>::Error(ErrorKind::unavailable, "registry unavailable (" + why + "): " + r.error());
}

RegistryCall RedisRegistryClient::pick(std::string_view stream_key, Proto proto, Proto also, int64_t now_ms,
                                       PickDone done) {
  if (!redis_->connected()) {
    done(pick_from_cache(stream_key, proto, also, now_ms, "redis unreachable"));
    return {};
  }
  auto st = std::make_shared<RegistryCall::State>();
  std::optional<Proto> second = also == proto ? std::nullopt : std::optional<Proto>(also);
  RegistryCall call(st);
  store_->pick(stream_key, proto, second,
               [this, st, key = std::string(stream_key), proto, also, done = std::move(done)](Result<RedisPick> r) mutable {
                 if (!claim(st)) return;
                 int64_t now = monotonic_ms();
                 if (r.ok()) {
                   metrics::count_pick(r->how == RedisPick::How::sticky ? metrics::PickResult::sticky
                                                                        : metrics::PickResult::new_pin);
                   mirror_origin(r->pick.origin, now);
                   r->pick.origin.slot = local_.origin_slot(r->pick.origin.server);
                   return done(std::move(r->pick));
                 }
                 if (unreachable(r)) return done(pick_from_cache(key, proto, also, now, r.error()));
                 metrics::count_pick(r.kind() == ErrorKind::full          ? metrics::PickResult::full
                                     : r.kind() == ErrorKind::unavailable ? metrics::PickResult::no_origin
                                                                          : metrics::PickResult::error);
                 done(r.status());
               });
  return call;
}

RegistryCall RedisRegistryClient::get_session(SessionKind kind, std::string_view id, int64_t now_ms,
                                              SessionDone done) {
  if (!redis_->connected()) {
    done(local_.get_session(kind, id, now_ms));
    return {};
  }
  auto st = std::make_shared<RegistryCall::State>();
  RegistryCall call(st);
  store_->get_session(kind, id, [this, st, kind, sid = std::string(id), done = std::move(done)](Result<SessionView> r) mutable {
    if (!claim(st)) return;
    if (unreachable(r)) return done(local_.get_session(kind, sid, monotonic_ms()));
    done(std::move(r));
  });
  return call;
}

RegistryCall RedisRegistryClient::touch_sessions(SessionKind kind, std::span<const std::string> ids, int64_t now_ms,
                                                 GoneDone done) {
  // The local copies are refreshed too, but only Redis says a session is
  // gone: a session signalled through another proxy has no local copy. Without
  // an answer (an outage, a timeout) nothing is gone, so an outage ends no
  // live session; their Redis TTLs decide once it is back.
  local_.touch_sessions(kind, ids, now_ms);
  if (!redis_->connected()) {
    done({});
    return {};
  }
  auto st = std::make_shared<RegistryCall::State>();
  RegistryCall call(st);
  store_->touch_sessions(kind, ids,
                         [st, done = std::move(done)](Result<std::vector<std::string>> r) mutable {
                           if (!claim(st)) return;
                           if (!r.ok()) return done({});
                           done(std::move(*r));
                         });
  return call;
}

Status RedisRegistryClient::confirm(std::string_view stream_key, std::string_view origin_server, int64_t now_ms) {
  // Confirmed pins go into the cache at once (the origin is there: the
  // pick that named it mirrored it).
  Status local = local_.mirror_pin(stream_key, origin_server, now_ms);
  if (!local.ok()) local = local_.confirm(stream_key, origin_server, now_ms);
  if (!redis_->connected()) return local;
  store_->confirm(stream_key, origin_server, [this, key = std::string(stream_key)](Result<RedisConfirm> r) {
    if (r.ok() && r->what == "moved") {
      Status st = local_.mirror_pin(key, r->origin_server, monotonic_ms());
      if (!st.ok()) SP_DEBUG(::sp::log::process_context(), "registry: pin of %s not cached locally: %s", key.c_str(), st.message().c_str());
    } else if (!r.ok() && !unreachable(r)) {
      SP_PWARN("registry: confirming stream %s in redis failed: %s", key.c_str(), r.error().c_str());
    }
  });
  return Status::Ok();
}

// After Redis came back: the streams this host holds clients of are pinned
// again to their origin (see the header). An origin not yet back in Redis
// fails this pass (logged at debug level); the next one, a second later,
// tries again.
void RedisRegistryClient::repin_held_streams(int64_t now_ms) {
  // One line for the pass, once its last answer is in (or dropped).
  std::shared_ptr<size_t> remade(new size_t(0), [](size_t* n) {
    if (*n > 0) SP_PINFO("registry: %zu held stream(s) pinned again in redis (it had lost their pins)", *n);
    delete n;
  });
  for (const StreamView& s : local_.streams(now_ms)) {
    if (std::none_of(std::begin(s.clients), std::end(s.clients), [](uint32_t c) { return c > 0; })) continue;
    store_->confirm(s.key, s.origin_server, [this, remade, key = s.key](Result<RedisConfirm> r) {
      if (r.ok() && r->what == "remade") {
        ++*remade;
      } else if (r.ok() && r->what == "moved") {
        Status st = local_.mirror_pin(key, r->origin_server, monotonic_ms());
        if (!st.ok()) SP_DEBUG(::sp::log::process_context(), "registry: pin of %s not cached locally: %s", key.c_str(), st.message().c_str());
      } else if (!r.ok()) {
        SP_DEBUG(::sp::log::process_context(), "registry: pinning stream %s again in redis: %s", key.c_str(), r.error().c_str());
      }
    });
  }
}

void RedisRegistryClient::report_failure(std::string_view server, std::string_view reason, int64_t now_ms) {
  local_.report_failure(server, reason, now_ms);
  if (redis_->connected()) store_->report_failure(server, reason, [](Result<std::string>) {});
}

void RedisRegistryClient::report_success(std::string_view server, int64_t now_ms) {
  local_.report_success(server, now_ms);
  if (redis_->connected()) store_->report_success(server, [](Result<std::string>) {});
}

void RedisRegistryClient::add_client(std::string_view stream_key, Proto proto, int delta, int64_t now_ms) {
  local_.add_client(stream_key, proto, delta, now_ms);
  auto key = std::make_pair(std::string(stream_key), int(proto));
  if (!redis_->connected()) {
    queued_counts_[key] += delta;
    return;
  }
  store_->add_client(stream_key, proto, delta, [this, key, delta](Result<int64_t> r) {
    if (unreachable(r)) queued_counts_[key] += delta;
  });
}

Status RedisRegistryClient::put_session(SessionKind kind, std::string_view id, std::string_view stream_key,
                                        std::string_view origin_server, std::string_view data, int64_t now_ms) {
  Status local = local_.put_session(kind, id, stream_key, origin_server, data, now_ms);
  if (!local.ok() && local.kind() == ErrorKind::bad_input) return local;
  if (redis_->connected()) {
    store_->put_session(kind, id, stream_key, origin_server, data, [sid = std::string(id)](Status st) {
      if (!st.ok() && !redis_transport_error(st.message())) {
        SP_PWARN("registry: session %s not written to redis: %s", sid.c_str(), st.message().c_str());
      }
    });
  }
  return Status::Ok();
}

void RedisRegistryClient::remove_session(SessionKind kind, std::string_view id) {
  local_.remove_session(kind, id);
  if (redis_->connected()) store_->remove_session(kind, id, [](Result<bool>) {});
}

void RedisRegistryClient::queue_registration(const OriginSpec& spec) { queued_[spec.server] = spec; }

void RedisRegistryClient::write_registration(const OriginSpec& spec) {
  store_->register_origin(spec, [this, spec](Result<RedisRegistration> r) {
    if (unreachable(r) || (!r.ok() && r.kind() == ErrorKind::timeout)) queue_registration(spec);
  });
}

RegistryCall RedisRegistryClient::register_origin(const OriginSpec& spec, int64_t now_ms, StatusDone done) {
  if (Status s = check_origin_spec(spec); !s.ok()) {
    done(s);
    return {};
  }
  // The cache learns the heartbeat as the memory backend would; a full
  // local table only means the cache misses it.
  Status local = local_.register_origin(spec, now_ms);
  if (!local.ok()) SP_DEBUG(::sp::log::process_context(), "registry: origin %s not cached locally: %s", spec.server.c_str(), local.message().c_str());
  if (!redis_->connected()) {
    queue_registration(spec);  // accepted locally; written when Redis is back
    done(Status::Ok());
    return {};
  }
  auto st = std::make_shared<RegistryCall::State>();
  RegistryCall call(st);
  store_->register_origin(spec, [this, st, spec, done = std::move(done)](Result<RedisRegistration> r) mutable {
    bool accepted_locally = unreachable(r) || (!r.ok() && r.kind() == ErrorKind::timeout);
    if (accepted_locally) queue_registration(spec);
    if (!claim(st)) return;
    if (accepted_locally) return done(Status::Ok());
    done(r.status());
  });
  return call;
}

// Redis decides (every proxy obeys it at its next pick); the local cache
// follows at once so an outage afterwards keeps the decision here too.
// Without Redis the change is refused (unavailable): an operator's drain
// made only on one proxy would not be obeyed by the others.
RegistryCall RedisRegistryClient::control_origin(std::string_view server, OriginOp op, int weight, int64_t now_ms,
                                                 StatusDone done) {
  (void)now_ms;
  if (!redis_->connected()) {
    done(Status::Error(ErrorKind::unavailable, "redis unreachable: origin control needs the shared registry"));
    return {};
  }
  auto st = std::make_shared<RegistryCall::State>();
  RegistryCall call(st);
  store_->control_origin(server, op, weight,
                         [this, st, op, weight, s = std::string(server), done = std::move(done)](Status r) mutable {
                           if (r.ok()) {
                             Status local = local_.control_origin(s, op, weight, monotonic_ms());
                             if (!local.ok()) {
                               SP_DEBUG(::sp::log::process_context(), "registry: origin %s %s not applied locally: %s",
                                        s.c_str(), origin_op_name(op), local.message().c_str());
                             }
                           }
                           if (!claim(st)) return;
                           done(r);
                         });
  return call;
}

RegistryCall RedisRegistryClient::origins(int64_t now_ms, OriginsDone done) {
  if (!redis_->connected()) {
    done(local_.origins(now_ms));
    return {};
  }
  auto st = std::make_shared<RegistryCall::State>();
  RegistryCall call(st);
  store_->origins([this, st, done = std::move(done)](Result<std::vector<OriginView>> r) mutable {
    if (!claim(st)) return;
    int64_t now = monotonic_ms();
    if (unreachable(r)) return done(local_.origins(now));
    if (r.ok()) {
      for (const OriginView& o : *r) mirror_origin(o, now);
    }
    done(std::move(r));
  });
  return call;
}

RegistryCall RedisRegistryClient::cluster_streams(int64_t now_ms, ClusterStreamsDone done) {
  auto from_cache = [this](int64_t now) {
    std::vector<ClusterStreamView> out;
    for (StreamView& v : local_.streams(now)) {
      ClusterStreamView c;
      StreamHolder h;
      h.proxy_id = options_.store.proxy_id;
      for (int p = 0; p < kProtoCount; p++) h.clients[p] = v.clients[p];
      c.view = std::move(v);
      c.holders.push_back(std::move(h));
      out.push_back(std::move(c));
    }
    return out;
  };
  if (!redis_->connected()) {
    done(from_cache(now_ms));
    return {};
  }
  auto st = std::make_shared<RegistryCall::State>();
  RegistryCall call(st);
  store_->streams([st, from_cache, done = std::move(done)](Result<std::vector<RedisStreamView>> r) mutable {
    if (!claim(st)) return;
    if (unreachable(r)) return done(from_cache(monotonic_ms()));
    if (!r.ok()) return done(r.status());
    std::vector<ClusterStreamView> out;
    out.reserve(r->size());
    for (RedisStreamView& s : *r) {
      ClusterStreamView c;
      c.view = std::move(s.view);
      c.pending = s.pending;
      for (RedisStreamView::Holder& h : s.holders) {
        StreamHolder sh;
        sh.proxy_id = std::move(h.proxy_id);
        std::copy(std::begin(h.clients), std::end(h.clients), std::begin(sh.clients));
        c.holders.push_back(std::move(sh));
      }
      out.push_back(std::move(c));
    }
    done(std::move(out));
  });
  return call;
}

RegistryCall RedisRegistryClient::streams(int64_t now_ms, StreamsDone done) {
  return cluster_streams(now_ms, [done = std::move(done)](Result<std::vector<ClusterStreamView>> r) {
    if (!r.ok()) return done(r.status());
    std::vector<StreamView> out;
    out.reserve(r->size());
    for (ClusterStreamView& c : *r) out.push_back(std::move(c.view));
    done(std::move(out));
  });
}

RegistryCall RedisRegistryClient::sessions(int64_t now_ms, SessionsDone done) {
  if (!redis_->connected()) {
    done(local_.sessions(now_ms));
    return {};
  }
  auto st = std::make_shared<RegistryCall::State>();
  RegistryCall call(st);
  store_->sessions([this, st, done = std::move(done)](Result<std::vector<SessionView>> r) mutable {
    if (!claim(st)) return;
    if (unreachable(r)) return done(local_.sessions(monotonic_ms()));
    done(std::move(r));
  });
  return call;
}

void RedisRegistryClient::set_origin_rates(std::vector<OriginRate> rates) {
  local_.set_origin_rates(rates_by_slot(rates));
  rates_ = std::move(rates);
  if (!redis_->connected()) return;
  store_->proxy_heartbeat(nullptr, &rates_, [](Result<int64_t> r) {
    if (!r.ok() && !redis_transport_error(r.error())) {
      SP_PWARN("registry: origin rates to redis failed: %s", r.error().c_str());
    }
  });
}

void RedisRegistryClient::tick(int64_t now_ms) {
  local_.expire(now_ms);
  if (!redis_->connected()) return;
  int64_t every = std::max<int64_t>(1000, options_.store.proxy_ttl_ms / 3);
  if (last_heartbeat_ms_ < 0 || now_ms - last_heartbeat_ms_ >= every) {
    last_heartbeat_ms_ = now_ms;
    // The heartbeat carries this host's client counts from the shared-memory
    // table (every worker's, a crashed worker's dropped by the master): Redis
    // gets them exact again within a heartbeat after it lost them, whatever
    // the workers' deltas did meanwhile.
    std::vector<RedisStore::ClientCount> counts;
    for (const StreamView& v : local_.streams(now_ms)) {
      for (int p = 0; p < kProtoCount; p++) {
        if (v.clients[p] > 0) counts.push_back({v.key, Proto(p), v.clients[p]});
      }
    }
    store_->proxy_heartbeat(&counts, &rates_, [](Result<int64_t> r) {
      if (!r.ok() && !redis_transport_error(r.error())) {
        SP_PWARN("registry: proxy heartbeat to redis failed: %s", r.error().c_str());
      }
    });
  }
  if (repin_until_ms_ >= 0 && (last_repin_ms_ < 0 || now_ms - last_repin_ms_ >= kMirrorIntervalMs)) {
    last_repin_ms_ = now_ms;
    repin_held_streams(now_ms);
    if (now_ms >= repin_until_ms_) repin_until_ms_ = -1;
  }
  // The cache follows the cluster's origins, so an outage starts from a
  // view at most a second old.
  if (!mirroring_ && (last_mirror_ms_ < 0 || now_ms - last_mirror_ms_ >= kMirrorIntervalMs)) {
    last_mirror_ms_ = now_ms;
    mirroring_ = true;
    store_->origins(
        [this](Result<std::vector<OriginView>> r) {
          mirroring_ = false;
          if (!r.ok()) return;
          int64_t now = monotonic_ms();
          for (const OriginView& o : *r) mirror_origin(o, now);
        },
        /*with_clients=*/false);
  }
}

}  // namespace sp
