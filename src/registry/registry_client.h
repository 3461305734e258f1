// What a protocol (and the system API) sees of the registry, whichever
// backend holds it: the shared-memory table of this host (`backend memory`,
// the default) or Redis shared by several proxies (`backend redis`).
//
// Look-ups that may need a round trip (pick, session look-up, the listings
// and registrations of the API) take a callback and return a RegistryCall:
//   - with the memory backend the callback runs before the call returns
//     (nothing waits, so `memory` stays as fast as a direct call);
//   - with Redis it runs later, from the worker's event loop, exactly once:
//     with the answer, or with ErrorKind::timeout after the backend's call
//     timeout, or with ErrorKind::unavailable while Redis is unreachable.
// A caller that goes away first drops (or reset()s) its RegistryCall: the
// callback is then never run. So a session keeps the RegistryCall of the
// look-up it waits for as a member, and its "waiting for the registry"
// state ends either in the callback or in its own destruction.
//
// Writes (confirm, client counts, health reports, sessions) apply to the
// local table at once and reach Redis in order, without a callback: a lost
// write is repaired by the next one (counts and sessions carry TTLs).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "registry/registry.h"

struct event_base;

namespace sp {

struct Config;

// The handle of one pending look-up: destroying or reset()ting it cancels
// the callback. Empty when the answer was given before the call returned.
class RegistryCall {
 public:
  struct State {
    bool cancelled = false;
  };
  RegistryCall() = default;
  explicit RegistryCall(std::shared_ptr<State> state) : state_(std::move(state)) {}
  RegistryCall(RegistryCall&&) = default;
  RegistryCall& operator=(RegistryCall&& other) {
    if (this != &other) {
      reset();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  RegistryCall(const RegistryCall&) = delete;
  RegistryCall& operator=(const RegistryCall&) = delete;
  ~RegistryCall() { reset(); }

  // Cancels the callback if it has not run yet.
  void reset() {
    if (state_) state_->cancelled = true;
    state_.reset();
  }
  // True while the answer has not been delivered (nor cancelled). The
  // backend drops its reference when it delivers.
  bool pending() const { return state_ && state_.use_count() > 1; }

 private:
  std::shared_ptr<State> state_;
};

// A stream of the cluster view: its pin and total counts, whether the pin is
// still pending, and the client counts each live proxy holds (Redis; the
// memory backend reports this proxy alone, with an empty proxy id).
struct StreamHolder {
  std::string proxy_id;
  uint32_t clients[kProtoCount] = {};
};
struct ClusterStreamView {
  StreamView view;
  bool pending = false;
  std::vector<StreamHolder> holders;
};

// What the API says about the backend: where it is and whether it answers.
struct BackendState {
  bool reachable = true;  // always for memory
  std::string address;    // Redis's address ("" for memory)
  std::string proxy_id;   // this proxy's id in Redis ("" for memory)
  std::string key_prefix;
};

class RegistryClient {
 public:
  using PickDone = std::function<void(Result<Pick>)>;
  using SessionDone = std::function<void(Result<SessionView>)>;
  using StatusDone = std::function<void(Status)>;
  using GoneDone = std::function<void(std::vector<std::string> gone)>;
  using OriginsDone = std::function<void(Result<std::vector<OriginView>>)>;
  using StreamsDone = std::function<void(Result<std::vector<StreamView>>)>;
  using SessionsDone = std::function<void(Result<std::vector<SessionView>>)>;
  using ClusterStreamsDone = std::function<void(Result<std::vector<ClusterStreamView>>)>;

  virtual ~RegistryClient() = default;

  // "memory" or "redis", for logs and the API.
  virtual const char* backend() const = 0;
  // The shared-memory table of this host: the whole registry with the
  // memory backend, the local cache with Redis. Usage and capacity figures
  // and the master's bookkeeping read it directly.
  virtual Registry& local() = 0;

  // ---- look-ups (may wait) ----
  // Registry::pick's rules (sticky pin, else least-loaded live origin with
  // an endpoint for `proto`, and for `also` unless it equals `proto`).
  virtual RegistryCall pick(std::string_view stream_key, Proto proto, Proto also, int64_t now_ms, PickDone done) = 0;
  RegistryCall pick(std::string_view stream_key, Proto proto, int64_t now_ms, PickDone done) {
    return pick(stream_key, proto, proto, now_ms, std::move(done));
  }
  virtual RegistryCall get_session(SessionKind kind, std::string_view id, int64_t now_ms, SessionDone done) = 0;
  // Refreshes the sessions `ids`; `done` gets the ones that no longer exist.
  virtual RegistryCall touch_sessions(SessionKind kind, std::span<const std::string> ids, int64_t now_ms,
                                      GoneDone done) = 0;

  // ---- writes (local at once, Redis in order) ----
  virtual Status confirm(std::string_view stream_key, std::string_view origin_server, int64_t now_ms) = 0;
  virtual void report_failure(std::string_view server, std::string_view reason, int64_t now_ms) = 0;
  virtual void report_success(std::string_view server, int64_t now_ms) = 0;
  virtual void add_client(std::string_view stream_key, Proto proto, int delta, int64_t now_ms) = 0;
  virtual Status put_session(SessionKind kind, std::string_view id, std::string_view stream_key,
                             std::string_view origin_server, std::string_view data, int64_t now_ms) = 0;
  virtual void remove_session(SessionKind kind, std::string_view id) = 0;

  // ---- the API worker ----
  virtual RegistryCall register_origin(const OriginSpec& spec, int64_t now_ms, StatusDone done) = 0;
  // Operator control (Registry::control_origin's rules), for every proxy
  // of the backend: drain, undrain, remove, set_weight (`weight`: 0 clears
  // the override). done: Ok, not_found (unknown server), bad_input, or the
  // backend's timeout / unavailable (Redis).
  virtual RegistryCall control_origin(std::string_view server, OriginOp op, int weight, int64_t now_ms,
                                      StatusDone done) = 0;
  virtual RegistryCall origins(int64_t now_ms, OriginsDone done) = 0;
  virtual RegistryCall streams(int64_t now_ms, StreamsDone done) = 0;
  virtual RegistryCall sessions(int64_t now_ms, SessionsDone done) = 0;
  // The streams with per-proxy client counts (GET /api/v1/streams). The
  // default wraps streams(): one holder, this proxy.
  virtual RegistryCall cluster_streams(int64_t now_ms, ClusterStreamsDone done);
  virtual BackendState backend_state() const { return {}; }
  // Periodic housekeeping (the API worker's timer): expiry of the local
  // table; with Redis also this proxy's heartbeat and its client counts.
  virtual void tick(int64_t now_ms) = 0;
  // The proxy's measured bytes per second per origin (the pick load's bytes
  // term, issue 16), the whole set each time (an origin left out: 0). The
  // memory backend stores them in the table; Redis also sends them with this
  // proxy's next heartbeat (replacing its previous ones, expiring with it).
  virtual void set_origin_rates(std::vector<OriginRate> rates) = 0;
};

// Measures each origin's bytes per second from the metrics' per-origin byte
// counters (in + out, summed over every worker's slot) and hands them to the
// registry client every kRateIntervalMs. The API worker ticks it.
class OriginRateMeter {
 public:
  static constexpr int64_t kRateIntervalMs = 2000;
  // `bytes_of(slot, server)`: the origin's byte counter (metrics::origin_bytes).
  using BytesOf = std::function<uint64_t(int slot, std::string_view server)>;
  explicit OriginRateMeter(BytesOf bytes_of) : bytes_of_(std::move(bytes_of)) {}
  void tick(RegistryClient& client, int64_t now_ms);

 private:
  struct Seen {
    int slot;
    uint64_t bytes;
  };
  BytesOf bytes_of_;
  int64_t last_ms_ = -1;
  std::vector<std::pair<std::string, Seen>> last_;
};

// The memory backend: every call goes straight to the shared-memory table
// and every callback runs before the call returns.
class MemoryRegistryClient final : public RegistryClient {
 public:
  explicit MemoryRegistryClient(Registry& registry) : r_(registry) {}

  const char* backend() const override { return "memory"; }
  Registry& local() override { return r_; }

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
  RegistryCall sessions(int64_t now_ms, SessionsDone done) override;
  void tick(int64_t now_ms) override;
  void set_origin_rates(std::vector<OriginRate> rates) override;

 private:
  Registry& r_;
};

// OriginRate figures indexed by slot, for Registry::set_origin_rates.
std::vector<uint64_t> rates_by_slot(const std::vector<OriginRate>& rates);

// The client of a worker's loop for the configured backend (registry
// { backend ...; }): `registry` is this host's shared-memory table.
Result<std::unique_ptr<RegistryClient>> make_registry_client(const Config& conf, Registry& registry, event_base* base);

}  // namespace sp
