// The origin registry, shared by every process through one shared-memory
// mapping that the master creates before the first fork. It survives worker
// crashes and reloads. Writers take a process-shared robust mutex, so a
// process that dies holding it cannot deadlock the others.
//
// It holds: origins (identified by their `server` id, with their learned
// heartbeat interval and passive-health state: see RegistryTtls), stream pins
// (stream key -> origin, so every worker and protocol sends a stream's clients
// to the same origin) and sessions (HLS sessions, WebRTC ICE sessions) that
// expire after session_ttl of inactivity.
//
// No client can fill it: a pin made or moved by pick() is *pending* until a
// protocol relay calls confirm() because the origin accepted a client of the
// stream; pending pins expire after 30 s (or session_ttl if shorter) and are
// the first evicted. A full table evicts instead of refusing: streams lose
// their oldest pending pin, else their least recently used idle pin (no
// clients); sessions lose their oldest hls_client fingerprint, else the
// session idle longest if it was not touched for 30 s. Pins with clients and
// sessions touched within 30 s are never evicted; only when everything is
// live is an insert refused ("registry full").
//
// Times are CLOCK_MONOTONIC milliseconds (sp::monotonic_ms), passed in by the
// caller so tests control the clock.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "registry/endpoint.h"

namespace sp {

enum class Proto : uint8_t { rtmp = 0, http, api, srt, rtc };
constexpr int kProtoCount = 5;
const char* proto_name(Proto p);

// What an origin registers (already validated; see api/register_request.h).
// weight: how many new streams it takes relative to others (1..kWeightMax,
// default 1). cpu_percent / load_1m: what its heartbeat's SRS `summaries`
// report (negative: not reported); cpu_percent drives `overloaded`.
struct OriginSpec {
  std::string server, service, pid, device_id, ip;
  std::vector<Endpoint> endpoints[kProtoCount];
  int weight = 1;
  double cpu_percent = -1;
  double load_1m = -1;
};

constexpr int kWeightMax = 100;
// An overloaded origin recovers once its CPU is this many points below the
// limit (hysteresis: one reading around the limit does not flip it).
constexpr double kCpuHysteresis = 10;
// The load figure picks use is recomputed at most this often; new streams
// picked in between count 1 each at once (see choose_origin in registry.cpp).
constexpr int64_t kLoadRefreshMs = 2000;
// Removed origins remembered at once (DELETE /api/v1/origins/{server});
// when full the oldest is replaced.
constexpr int kTombstones = 64;

// Operator control of an origin (issue 16).
enum class OriginOp : uint8_t { drain, undrain, remove, set_weight };
const char* origin_op_name(OriginOp op);

// Overload with hysteresis: over `limit` percent it is overloaded; it stays
// so until below limit - kCpuHysteresis. limit <= 0 (off) or an unknown CPU
// (negative) is never overloaded.
bool next_overloaded(bool was, double cpu_percent, int limit);
// The pick rule's comparison: load a / weight a < load b / weight b
// (exact, in integers; weights are at least 1).
inline bool load_below(uint64_t load_a, int weight_a, uint64_t load_b, int weight_b) {
  return load_a * uint64_t(weight_b) < load_b * uint64_t(weight_a);
}
// The pick load in bytes-per-second units, exact: load x U + rate, where U =
// bytes_per_client (pick_bytes_per_client); U = 0: rates ignored, the load
// alone. Compared with load_below, so load + rate / U without rounding.
inline uint64_t scaled_load(uint64_t load, uint64_t rate_bps, int64_t bytes_per_client) {
  if (bytes_per_client <= 0) return load;
  return load * uint64_t(bytes_per_client) + rate_bps;
}

struct OriginView {
  int slot = -1;
  std::string server, service, pid, device_id, ip;
  std::vector<Endpoint> endpoints[kProtoCount];
  // alive: gets new streams (heartbeats on time and not down). The parts:
  // heartbeat_alive (heartbeat younger than heartbeat_misses learned
  // intervals and than origin_ttl) and down (passive health, see
  // report_failure()).
  bool alive = false;
  bool heartbeat_alive = false;
  bool down = false;
  std::string down_reason;             // the failure that marked it down (while down)
  int64_t down_for_ms = 0;             // how long it stays down from now
  uint32_t fails = 0;                  // failures counted in the current fail_timeout window
  int64_t heartbeat_interval_ms = 0;   // learned from its heartbeats; 0 = not yet known (3 needed)
  int64_t age_ms = 0;  // since last heartbeat
  int64_t registered_ms = 0;  // monotonic time of first registration
  std::vector<std::string> streams;  // stream keys pinned to it
  // Operator control and load (issue 16). draining / overloaded: no new
  // streams (existing ones stay). weight: the effective one (the operator's
  // override when set, else the registered one). load: the figure picks
  // compare (sum over its pinned streams of max(1, live clients), refreshed
  // every kLoadRefreshMs, plus the streams picked for it since). clients:
  // live clients of its pinned streams (listings only). bytes_per_sec: the
  // proxy's measured traffic with it (in + out, summed over proxies with
  // Redis) as picks use it (taken at the same refresh as load).
  bool draining = false;
  bool overloaded = false;
  double cpu_percent = -1;
  double load_1m = -1;
  int weight = 1;
  int registered_weight = 1;
  int weight_override = 0;  // 0 = none
  uint64_t load = 0;
  uint64_t clients = 0;
  uint64_t bytes_per_sec = 0;
};

// The proxy's measured traffic with one origin (OriginRateMeter).
struct OriginRate {
  int slot = -1;  // in this host's shared-memory table
  std::string server;
  uint64_t bps = 0;  // bytes per second, in + out
};

// Where to connect for a stream: the origin and the address for the protocol
// (endpoint host if specific, else the origin's ip).
struct Pick {
  OriginView origin;  // its `streams` is left empty (listing them costs a table scan)
  std::string host;
  uint16_t port = 0;
};

struct StreamView {
  std::string key;
  std::string origin_server;
  int64_t pinned_ms = 0;
  uint32_t clients[kProtoCount] = {};
};

// hls: an HLS session by its random id (data: where its requests go).
// hls_client: which HLS session a viewer has, by a keyed hash of its address,
//   User-Agent and stream (data: the session id), so a player reloading its
//   first playlist URL keeps its session.
// rtc: a WebRTC session by its ICE user name.
enum class SessionKind : uint8_t { hls = 1, rtc = 2, hls_client = 3 };

struct SessionView {
  SessionKind kind;
  std::string id;
  std::string stream_key;
  std::string origin_server;
  std::string data;  // protocol-specific payload (up to kSessionDataMax bytes)
  int64_t age_ms = 0;  // since last touch
};
constexpr size_t kSessionDataMax = 256;

// TTLs and the liveness rules (SPEC section 5 "Liveness").
// heartbeat_misses: an origin whose heartbeat interval is known is dead after
//   this many intervals without a heartbeat (never later than origin_ttl).
// max_fails / fail_timeout_ms: passive health, as nginx's upstream
//   max_fails/fail_timeout: max_fails failed connects or handshakes within
//   fail_timeout mark the origin down for fail_timeout (0 = never marked down).
struct RegistryTtls {
  int64_t origin_ttl_ms = 300 * 1000;
  int64_t session_ttl_ms = 120 * 1000;
  int heartbeat_misses = 3;
  int max_fails = 1;
  int64_t fail_timeout_ms = 10 * 1000;
  // How long a removed origin's service id stays refused (origin_remove_time).
  int64_t origin_remove_ms = 600 * 1000;
  // CPU percent above which an origin is overloaded (origin_cpu_limit); 0 = off.
  int cpu_limit = 90;
  // Bytes per second that weigh as one client in the pick load
  // (pick_bytes_per_client); 0 = bytes not counted.
  int64_t bytes_per_client = 125000;
};

// registry_ttls(): the `registry { }` block's values (registry_conf.h).

// Bounds of a learned heartbeat interval: a burst of registrations cannot
// make an origin look dead in milliseconds, nor a long gap keep it for hours.
constexpr int64_t kHeartbeatIntervalMinMs = 1000;
constexpr int64_t kHeartbeatIntervalMaxMs = 3600 * 1000;
// Longest down_reason kept (bytes); longer reasons are cut.
constexpr size_t kDownReasonMax = 127;

// Longest values the fixed-size shared-memory entries hold (bytes, without
// the terminating NUL). Longer values are refused with a clear error.
constexpr size_t kServerIdMax = 63;

// The registration rules every registry backend keeps (shared memory and
// Redis alike): non-empty server id, field lengths, at most
// kMaxEndpointsPerProto endpoints per protocol, endpoint hosts that fit and
// hold no space or '/', no port 0. Errors are bad_input.
Status check_origin_spec(const OriginSpec& spec);
constexpr size_t kServiceMax = 63;
constexpr size_t kPidMax = 31;
constexpr size_t kDeviceIdMax = 63;
constexpr size_t kIpMax = 63;
constexpr size_t kStreamKeyMax = 255;
constexpr size_t kSessionIdMax = 127;
constexpr int kMaxEndpointsPerProto = 4;

// Owners of one stream's client counts held at once, each one (process,
// protocol) pair. Sized for every protocol worker of two generations during
// a reload plus an old generation's SRT worker still draining, with up to
// 7 workers serving the stream over one protocol (2 x 7 + 1 = 15), or up to
// 3 workers serving it over two protocols each (2 x 3 x 2 + 2 = 14); the API
// worker holds no clients. Overflow rule: a further owner's count is kept
// in the stream's totals unattributed, logged once per stream; it drains as
// those clients leave but a crash of that process cannot drop it.
constexpr int kStreamHolders = 16;

class Registry {
 public:
  struct Impl;

  // Maps `bytes` of shared anonymous memory and lays out the tables. Call in
  // the master before forking; children inherit the mapping.
  static Result<std::unique_ptr<Registry>> create(uint64_t bytes, RegistryTtls ttls);
  // Smallest `bytes` create() accepts (a few origins, streams and sessions);
  // the configuration check uses it so -t and start-up agree.
  static uint64_t minimum_size();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // TTLs live in shared memory so a reload changes them for every process.
  void set_ttls(RegistryTtls ttls);
  RegistryTtls ttls() const;

  // The proxy's measured bytes per second (in + out) with each origin,
  // indexed by origin slot (OriginView::slot; slots past the end: 0). The
  // API worker sets them every ~2 s from the metrics; picks take them at
  // their next load refresh (see the pick rule in registry.cpp).
  void set_origin_rates(std::span<const uint64_t> bps_by_slot);
  // The valid origins' (slot, server) pairs: no scan of the pins, for the
  // rate meter's every-2-s pass.
  std::vector<std::pair<int, std::string>> origin_ids() const;

  // Registers or refreshes an origin. Same `server` = same origin: a new
  // service/pid replaces the entry (restarted origin); the operator's drain
  // and weight override are kept across heartbeats and restarts. Every
  // heartbeat updates the registered weight, the reported CPU and load and
  // the overloaded state (next_overloaded). Errors: full when the table is,
  // bad_input for an empty id or a value that does not fit, not_found when
  // the server id was removed (control_origin) with this same service id
  // less than origin_remove_ms ago (a new service id clears the removal).
  Status register_origin(const OriginSpec& spec, int64_t now_ms);

  // Operator control: drain (no new streams, live ones stay, sticky picks
  // still answer it), undrain, remove (the origin and its pins are
  // forgotten and its service id refused for origin_remove_ms, see
  // register_origin; at most kTombstones remembered, the oldest replaced),
  // set_weight (an override the heartbeats do not change; 0 clears it,
  // else 1..kWeightMax). Errors: not_found for an unknown server,
  // bad_input for a bad weight. Logged by the caller.
  Status control_origin(std::string_view server, OriginOp op, int weight, int64_t now_ms);

  // The origin for a stream: the pinned one while alive (sticky), else a new
  // pick among alive origins with an endpoint for `proto`, remembered for every
  // worker. A pinned origin that is down (report_failure) or draining keeps
  // the stream while it has clients, else it moves. Error when no alive origin can serve it. New picks go to the
  // eligible origin (alive, not draining, not overloaded) with the lowest
  // load / weight (load_below), ties to the smallest server id; if none is
  // eligible, a down or overloaded (never a draining) one. A pinned
  // origin that is alive but lacks `proto` keeps the stream (error) while the
  // stream has clients, else the stream moves. A new or moved pin is pending
  // until confirm(); a full table evicts (pending, then idle pins) before
  // refusing with "registry full". Every pick is a use of the pin. Errors:
  // unavailable (no origin can serve it), full, bad_input (empty or too long
  // stream key).
  Result<Pick> pick(std::string_view stream_key, Proto proto, int64_t now_ms);
  // Same for a client that needs two endpoints of one origin (WebRTC: `api`
  // for signalling and `rtc` for media): only origins with both qualify, and
  // a pinned origin lacking either is treated as lacking `proto`. The Pick's
  // host and port are those of `proto`.
  Result<Pick> pick(std::string_view stream_key, Proto proto, Proto also, int64_t now_ms);

  // The origin accepted a client of the stream (RTMP publish/play started,
  // HTTP 2xx, HLS playlist 200, WebRTC answer, SRT connected): the pending pin
  // pick() made becomes lasting (idle, evicted only after pending pins, and
  // only while it has no clients). If the pending pin was evicted or expired
  // meanwhile, it is made again for `origin_server` (evicting if needed), so
  // the stream's next clients follow this one. If the pin now names another
  // origin (moved meanwhile), that pin is kept and a warning logged. Error
  // only when the origin is gone or every pin is live. Every protocol calls
  // it once per accepted client; calling it for a confirmed pin is use.
  Status confirm(std::string_view stream_key, std::string_view origin_server, int64_t now_ms);

  // Passive health. Every protocol calls report_failure() when a connect or
  // handshake to an origin fails (refused, reset, timeout, no answer) and
  // report_success() when the origin answered. max_fails failures within
  // fail_timeout mark the origin down for fail_timeout, for every worker: it
  // gets no new streams, and a stream pinned to it moves on its next pick
  // once no client of the stream remains (while clients remain the stream
  // stays, so they are not split). A success clears the count and the down
  // mark. If every alive origin is down, picks still use them (the least
  // pinned) rather than refuse everyone. Unknown servers are ignored.
  void report_failure(std::string_view server, std::string_view reason, int64_t now_ms);
  void report_success(std::string_view server, int64_t now_ms);

  // Client counts per stream and protocol, shown by GET /api/v1/streams.
  // With now_ms >= 0 it also counts as use of the pin, so a pin whose last
  // client just left is kept for session_ttl from now. No pin: nothing.
  //
  // Counts are owned by the process that made them (`holder`, 0 = getpid()),
  // so drop_process() can take back what a dead process left behind. A stream
  // keeps up to kStreamHolders (process, protocol) owners at once; past that
  // the count is unattributed (see kStreamHolders) and logged once per stream.
  // A decrement comes out of the holder's own count first, then out of the
  // unattributed rest; never below zero.
  void add_client(std::string_view stream_key, Proto proto, int delta, int64_t now_ms = -1, pid_t holder = 0);

  // Removes every client count `pid` held (the master calls it when it reaps
  // a child, before respawning). A stream left without clients counts as used
  // at now_ms, so its pin expires normally session_ttl later. Walks the
  // stream table; idempotent. Returns what it dropped, for the log.
  struct Dropped {
    uint32_t streams = 0;   // streams where `pid` held clients
    uint64_t clients = 0;   // clients dropped, all protocols
    uint32_t now_idle = 0;  // of those streams, the ones left without clients
  };
  Dropped drop_process(pid_t pid, int64_t now_ms);

  std::vector<OriginView> origins(int64_t now_ms) const;
  std::vector<StreamView> streams(int64_t now_ms) const;

  // Sessions. put() creates or replaces; get()/touch() refresh last-use.
  // Callers put a session only once the origin answered (see confirm()).
  // get_session: not_found when there is none; put_session: full, or
  // bad_input for a value that does not fit.
  Status put_session(SessionKind kind, std::string_view id, std::string_view stream_key,
                     std::string_view origin_server, std::string_view data, int64_t now_ms);
  Result<SessionView> get_session(SessionKind kind, std::string_view id, int64_t now_ms);
  bool remove_session(SessionKind kind, std::string_view id);
  // Refreshes last-use of many sessions under one lock (a worker's
  // housekeeping tick); returns the ids that no longer exist.
  std::vector<std::string> touch_sessions(SessionKind kind, std::span<const std::string> ids, int64_t now_ms);
  std::vector<SessionView> sessions(int64_t now_ms) const;

  // Periodic job (API worker): drops origins dead for longer than origin_ttl
  // (i.e. no heartbeat for 2 x origin_ttl) with their pins, pending pins
  // unused for 30 s (or session_ttl if shorter), confirmed pins with no
  // clients idle for session_ttl, and sessions idle for session_ttl. Costs
  // what it drops (it pops the eviction lists' oldest ends), plus one scan of
  // the pins when an origin is dropped.
  void expire(int64_t now_ms);

  // How full the tables are, for GET /api/v1/streams.
  struct Usage {
    uint32_t streams = 0, pending_streams = 0, idle_streams = 0;
    uint32_t sessions = 0, hls_clients = 0;
    uint64_t evicted_streams = 0, evicted_sessions = 0;  // since start
    uint64_t rebuilds = 0;  // hash tables rebuilt to drop tombstones, since start
  };
  Usage usage() const;

  struct Capacity {
    uint32_t origins, streams, sessions;
  };
  Capacity capacity() const;
  // The master's pid: the proxy's pid in registration answers, stable across
  // worker respawns and reloads. create() records the caller's; the master
  // sets its own after daemonising (the pid file's).
  void set_creator_pid(pid_t pid);
  pid_t creator_pid() const;
  // Wall-clock milliseconds of create(): with the host name and the
  // creator's pid it names this proxy's lifetime (the Redis proxy id).
  int64_t created_unix_ms() const;

  // ---- the local cache of the Redis backend (redis_registry_client.h) ----
  // Writes an origin as Redis reported it (heartbeat age, learned interval,
  // down mark), creating or replacing its entry without learning a
  // heartbeat interval from the write itself. full / bad_input as register.
  Status mirror_origin(const OriginView& origin, int64_t now_ms);
  // The table slot holding `server`, or -1: a Redis pick names the origin's
  // local copy by it, so per-origin counters (core/metrics.h) count it.
  int origin_slot(std::string_view server) const;
  // Makes `stream_key` a confirmed pin of `origin_server` (already in the
  // table: mirror_origin first), replacing a pin to another origin: Redis
  // decided. not_found when the origin is not in the table.
  Status mirror_pin(std::string_view stream_key, std::string_view origin_server, int64_t now_ms);
  // The pin as the table holds it, without liveness rules and without ever
  // pinning: what a Redis outage may answer. unavailable when the stream is
  // not pinned here, its origin is gone, or it lacks `proto` or `also`.
  Result<Pick> pinned(std::string_view stream_key, Proto proto, Proto also, int64_t now_ms);

  // Test hook: takes the lock and exits the process while holding it, so a
  // test can show the robust mutex recovers. Never returns.
  [[noreturn]] void lock_and_exit_for_test(int status);
  // Test hook: rebuilds both hash tables now, as expire() does when a crash
  // left tombstones, so a test can show the eviction order survives it.
  void rebuild_for_test();

 private:
  Registry() = default;
  Impl* impl_ = nullptr;
};

}  // namespace sp
