// The Redis backend of RegistryClient (`registry { backend redis; }`): Redis,
// shared by several proxies, is the truth (RedisStore's atomic scripts on one
// RedisClient connection per worker); this host's shared-memory Registry is
// the local cache every worker of the proxy shares.
//
// Every look-up answers exactly once, from the event loop: with Redis's
// answer, or ErrorKind::timeout (registry { redis_timeout }), or
// ErrorKind::unavailable. What goes into the local cache: every origin Redis
// names in an answer (a pick, the API worker's listing once a second), and a
// pin once it is confirmed (confirm() here, or Redis saying it moved).
//
// The outage rule (Redis unreachable, or the connection lost before an
// answer):
//   - pick: a stream pinned in the local cache is answered from it, to the
//     pinned origin as last known, whatever its liveness (an outage never
//     moves a stream); any other stream gets ErrorKind::unavailable
//     ("Redis unreachable: stream X is not pinned here"). A timeout is
//     ErrorKind::timeout (Redis may be slow, not gone).
//   - get_session: answered from the local cache (sessions made by this
//     proxy are there; others are not found). touch_sessions: nothing is
//     reported gone, so an outage ends no live session.
//   - register_origin: accepted (written to the local cache, answered OK),
//     and the last registration of each origin is written to Redis when it
//     is back; the same for a timed-out registration.
//   - writes (confirm, client counts, health, sessions) apply to the local
//     cache; client-count changes are summed per stream and written when
//     Redis is back, the others are repaired by the next write. Every proxy
//     heartbeat (proxy_ttl / 3, and at once when Redis is back) also
//     replaces this proxy's counts in Redis with its host's table, so
//     counts Redis lost, or a crashed worker left, are exact within one.
//   - origins / streams / sessions listings: the local cache.
// When Redis is back (a restarted Redis may have lost every key), the API
// worker pins again, for kRepinWindowMs and once a second, every stream this
// host holds clients of to the origin it is on (confirm: a pin that is gone
// is made again, one naming another origin is kept and cached), so a new
// client through any proxy still reaches the stream's origin; the window
// lets the origins' heartbeats put them back first.
// One log line per state change (the connection's "lost" / "back"), by
// RedisClient, which also reconnects with exponential back-off.
#pragma once

#include <event2/event.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "registry/redis_client.h"
#include "registry/redis_store.h"
#include "registry/registry_client.h"

namespace sp {

struct Config;

struct RedisRegistryOptions {
  RedisClientOptions redis;
  RedisStoreOptions store;
};

// A proxy's id in Redis, unique per proxy lifetime: "HOST:MASTERPID:STARTMS".
std::string make_proxy_id(std::string_view host, pid_t master_pid, int64_t start_unix_ms);
// The options of `registry { }` for this proxy (`local` gives the master's
// pid and start time, so every worker of one proxy has the same id).
RedisRegistryOptions redis_registry_options(const Config& conf, const Registry& local);

class RedisRegistryClient final : public RegistryClient {
 public:
  // Checks the address and starts connecting (never blocks).
  static Result<std::unique_ptr<RedisRegistryClient>> create(event_base* base, Registry& local,
                                                             RedisRegistryOptions options);
  ~RedisRegistryClient() override;

  const char* backend() const override { return "redis"; }
  Registry& local() override { return local_; }
  BackendState backend_state() const override;
  bool reachable() const { return redis_->connected(); }
  const std::string& proxy_id() const { return options_.store.proxy_id; }
  // Registrations accepted during an outage and not yet written to Redis.
  size_t queued_registrations() const { return queued_.size(); }

  RegistryCall pick(std::string_view stream_key, Proto proto, Proto also, int64_t now_ms, PickDone done) override;
  using RegistryClient::pick;
  RegistryCall get_session(SessionKind kind, std::string_view id, int64_t now_ms, SessionDone done) override;
  RegistryCall touch_sessions(SessionKind kind, std::span<const std::string> ids, int64_t now_ms,
                              GoneDone done) override;

  Status confirm(std::string_view stream_key, std::string_view origin_server, int64_t now_ms) override;
  void report_failure(std::string_view server, std::string_view reason, int64_t now_ms) override;
  void report_success(std::string_view server, int64_t now_ms) override;
  void add_client(std::string_view stream_key, Proto proto, int delta, int64_t now_ms) override;
  Status put_session(SessionKind kind, std::string_view id, std::string_view stream_key,
                     std::string_view origin_server, std::string_view data, int64_t now_ms) override;
  void remove_session(SessionKind kind, std::string_view id) override;

  RegistryCall register_origin(const OriginSpec& spec, int64_t now_ms, StatusDone done) override;
  RegistryCall control_origin(std::string_view server, OriginOp op, int weight, int64_t now_ms,
                              StatusDone done) override;
  RegistryCall origins(int64_t now_ms, OriginsDone done) override;
  RegistryCall streams(int64_t now_ms, StreamsDone done) override;
  RegistryCall cluster_streams(int64_t now_ms, ClusterStreamsDone done) override;
  RegistryCall sessions(int64_t now_ms, SessionsDone done) override;
  // Local expiry; this proxy's heartbeat (every proxy_ttl / 3) and the
  // origins mirrored into the local cache (every second) while connected.
  void tick(int64_t now_ms) override;
  // Into the local cache, and to Redis at once and with every heartbeat.
  void set_origin_rates(std::vector<OriginRate> rates) override;

 private:
  RedisRegistryClient(Registry& local, RedisRegistryOptions options, std::unique_ptr<RedisClient> redis);
  void on_redis_state(bool up);
  Result<Pick> pick_from_cache(std::string_view stream_key, Proto proto, Proto also, int64_t now_ms,
                               const std::string& why);
  void mirror_origin(const OriginView& origin, int64_t now_ms);
  void queue_registration(const OriginSpec& spec);
  void write_registration(const OriginSpec& spec);
  void repin_held_streams(int64_t now_ms);

  Registry& local_;
  RedisRegistryOptions options_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<RedisStore> store_;
  std::map<std::string, OriginSpec> queued_;                // server -> its last registration in an outage
  std::map<std::pair<std::string, int>, int> queued_counts_;  // (stream, proto) -> client delta in an outage
  int64_t last_heartbeat_ms_ = -1;
  std::vector<OriginRate> rates_;  // this proxy's measured bytes/s per origin (set_origin_rates)
  int64_t last_mirror_ms_ = -1;
  bool mirroring_ = false;  // an origins listing for the cache is in flight
  static constexpr int64_t kRepinWindowMs = 30 * 1000;
  int64_t repin_until_ms_ = -1;  // re-pinning the held streams until then (after Redis came back)
  int64_t last_repin_ms_ = -1;
};

}  // namespace sp
