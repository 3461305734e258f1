// Metrics: counters and gauges every process adds to without a lock, kept in
// one shared-memory area the master maps before its first fork (like the
// registry), summed by the API worker on GET /metrics.
//
// Layout. The area holds N per-process slots, a "retired" accumulator, a
// master block (reloads, respawns, configuration generation) and the
// listener labels. The master gives each child a slot when it forks it; the
// child is the only writer of its slot apart from slot 0, the shared
// overflow slot a child gets when every slot is taken (so every add is a
// relaxed atomic fetch_add: one uncontended instruction, safe for the
// overflow slot's several writers, no lock). When the master reaps a child
// (waitpid: the child is dead) it folds that slot's counters into the
// retired accumulator, zeroes its gauges (the dead child's sessions are
// gone) and frees the slot, so counters survive reloads and respawns and
// stay monotonic. Scrape = retired + every slot.
//
// Slot count rule: 1 (overflow) + 3 x (worker_processes + 1) + 2: three
// generations of every protocol worker and the API worker alive at once (a
// reload while the previous one still drains) plus two respawns in flight.
// A reload that raises worker_processes beyond that uses the overflow slot.
//
// Label spaces are fixed so the layout is static: protocol (Protocol),
// listener (index into the area's listener labels of that protocol, up to
// kListeners; the master appends every address a generation listens on, never
// removes one, so an index keeps its meaning across reloads; past kListeners
// the last index counts "other"), end reason (End), and origin: the registry's
// origin slot (fixed-capacity table; only the first kOrigins slots are
// counted). A registry slot reused by another origin must not inherit the old
// origin's counters: every per-origin group carries a serial (a hash of the
// origin's server id); a writer whose serial differs from its group's resets
// the group first (it is the group's only writer), and the scrape sums only
// groups whose serial is that of the origin now in the registry slot. Picks
// made through Redis carry no local slot and are not counted per origin.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sp::metrics {

enum class Protocol : uint8_t { rtmp = 0, http_flv, http_ts, hls, webrtc, srt, api };
constexpr int kProtocols = 7;
const char* protocol_name(Protocol p);

// Why a session ended, one small enum for every protocol (classify_end()
// maps the protocols' free-text reasons).
enum class End : uint8_t {
  normal = 0,
  client_closed,
  origin_closed,
  idle_timeout,
  bad_input,
  handshake_failed,
  no_origin,
  origin_connect_failed,
  origin_refused,
  stalled,
  shutdown,
  error,
};
constexpr int kEnds = 12;
const char* end_name(End e);
// The end reason a protocol's log text names (pure, unit-tested).
End classify_end(std::string_view reason);

enum class Stage : uint8_t { handshake = 0, request };
enum class ConnectResult : uint8_t { ok = 0, refused, timeout, reset, error };
constexpr int kConnectResults = 5;
// The result an errno of a failed connect (or a failure text) stands for.
ConnectResult connect_result_of(std::string_view why);
enum class PickResult : uint8_t { sticky = 0, new_pin, no_origin, full, error };
constexpr int kPickResults = 5;
enum class RegResult : uint8_t { ok = 0, bad_request, full, denied, error };
constexpr int kRegResults = 5;
enum class Respawn : uint8_t { crash = 0, signal, exit };

constexpr int kListeners = 8;
constexpr int kOrigins = 128;
// Connect-latency histogram upper bounds (seconds), 1 ms .. 5 s, then +Inf.
constexpr double kBucketBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
constexpr int kBuckets = int(sizeof kBucketBounds / sizeof kBucketBounds[0]) + 1;

using Counter = std::atomic<uint64_t>;
using Gauge = std::atomic<int64_t>;
inline void add(Counter& c, uint64_t n) { c.fetch_add(n, std::memory_order_relaxed); }
inline void add(Gauge& g, int64_t n) { g.fetch_add(n, std::memory_order_relaxed); }
inline uint64_t get(const Counter& c) { return c.load(std::memory_order_relaxed); }
inline int64_t get(const Gauge& g) { return g.load(std::memory_order_relaxed); }

struct OriginGroup {
  std::atomic<uint64_t> serial;  // origin_serial() of the origin counted; 0 = none yet
  Counter bytes[2];              // 0 = in (from the origin), 1 = out
  Counter connects[kConnectResults];
  Counter connect_buckets[kBuckets];  // per bucket (not cumulative); the last is +Inf
  Counter connect_us;                 // sum of connect times, microseconds
  Gauge clients[kProtocols];
};

struct Slot {
  std::atomic<int32_t> owner;  // pid using it; 0 = free, -1 = claimed, not yet forked
  Gauge active[kProtocols][kListeners];
  Counter started[kProtocols][kListeners];
  Counter ended[kProtocols][kListeners][kEnds];
  Counter bytes[kProtocols][kListeners][2];  // client bytes: 0 = in, 1 = out
  Counter bad_input[kProtocols][kListeners][2];
  Counter picks[kPickResults];
  Counter registrations[kRegResults];
  OriginGroup origins[kOrigins];
};

struct ListenerLabel {
  char text[64];  // "ip:port"
  uint8_t addr[16];
  uint8_t family;  // AF_INET / AF_INET6
  uint8_t wildcard;
  uint16_t port;
};

struct MasterBlock {
  Counter reloads;
  Counter respawns[3];  // by Respawn
  Gauge generation;
  Gauge start_unix_ms;
};

// The whole area. Plain data in shared memory; see the comment on top.
struct Area {
  uint32_t slot_count;
  MasterBlock master;
  std::atomic<uint32_t> listener_count[kProtocols];
  ListenerLabel listeners[kProtocols][kListeners];
  Slot retired;
  Slot slots[1];  // slot_count of them; [0] is the shared overflow slot

  static size_t bytes_for(uint32_t slots);
  static uint32_t slots_for(int worker_processes);
  // MAP_SHARED | MAP_ANONYMOUS, zeroed; in the master before the first fork.
  static Result<Area*> create(uint32_t slots);

  // Master: a free slot for the child about to be forked (0 = overflow).
  int claim();
  void set_owner(int slot, pid_t pid);
  // Master, after waitpid(): folds the slot into `retired`, zeroes its
  // gauges and frees it. current_serial(i) is the serial of the origin now
  // in registry slot i (0: none), to keep only live origins' figures.
  template <class F>
  void release(int slot, F current_serial);
  // Master: the listener label for (protocol, address), appended if new.
  void add_listener(Protocol p, std::string_view text, const void* sockaddr);
};

// CLOCK_MONOTONIC microseconds, for connect times.
int64_t now_us();

// A hash of the origin's server id, never 0.
uint64_t origin_serial(std::string_view server);

// The bytes (in + out) exchanged with the origin `server` in registry slot
// `registry_slot`, summed over the retired accumulator and every slot as the
// scrape sums them (groups counting another origin are skipped); `a` nullptr:
// this process's slot only. Monotonic while the origin keeps its slot.
uint64_t origin_bytes(const Area* a, int registry_slot, std::string_view server);

// ---- the process-wide view -----------------------------------------------

// The area (nullptr without one: tests, `-t`) and this process's slot: a
// zeroed process-local slot when there is no area, so callers never check.
Area* area();
void set_area(Area* a);
Slot& local();
void set_local_slot(int slot);  // in the child, after fork

// Moves `from`'s counters into `into` and zeroes them in `from` (gauges are
// not carried: zero_gauges). Per-origin groups whose serial is not
// `keep(i)` (the origin now in registry slot i) are dropped.
void fold_slot(Slot& into, Slot& from, uint64_t (*keep)(void*, int), void* arg);
void zero_gauges(Slot& s);

// The listener index of an accepted socket `fd` (its local address).
int listener_of_fd(Protocol p, int fd);

// One session's meter: counts start/end, bytes and origin figures into this
// process's slot. Every method is a few relaxed adds.
class SessionMeter {
 public:
  SessionMeter() = default;
  ~SessionMeter() { end(End::shutdown); }  // a session torn down without its end record
  SessionMeter(const SessionMeter&) = delete;
  SessionMeter& operator=(const SessionMeter&) = delete;

  void begin(Protocol p, int listener);
  bool begun() const { return begun_; }
  // The picked origin (registry slot and server id); origin_clients gauge.
  void set_origin(int registry_slot, std::string_view server);
  void client_in(uint64_t n) { if (begun_) add(local().bytes[int(proto_)][listener_][0], n); }
  void client_out(uint64_t n) { if (begun_) add(local().bytes[int(proto_)][listener_][1], n); }
  void origin_in(uint64_t n) { if (og_) add(og_->bytes[0], n); }
  void origin_out(uint64_t n) { if (og_) add(og_->bytes[1], n); }
  void origin_connect(ConnectResult r, int64_t micros);
  void bad_input(Stage s);
  void end(End reason);
  Protocol protocol() const { return proto_; }
  int listener() const { return listener_; }

 private:
  OriginGroup* group(int registry_slot, uint64_t serial);
  bool begun_ = false;
  Protocol proto_ = Protocol::rtmp;
  int listener_ = 0;
  OriginGroup* og_ = nullptr;
  uint64_t og_serial_ = 0;
  bool counted_client_ = false;
};

void count_pick(PickResult r);
// A request refused before any session began (HTTP 400/408/414/431 from the
// parser): counted as a bad-input close of `p` on listener `listener`.
void count_bad_input(Protocol p, int listener, Stage s);
void count_registration(RegResult r);

// ---- exposition -----------------------------------------------------------

struct OriginInfo {
  int slot = -1;
  std::string server;
  bool alive = false;
  bool down = false;
  double heartbeat_age_s = 0;
  bool draining = false;    // operator drain (issue 16): no new streams
  bool overloaded = false;  // reported CPU above origin_cpu_limit: no new streams
};

struct RegistryFigures {
  struct Table {
    const char* name;
    uint64_t entries, capacity;
  };
  std::vector<Table> tables;
};

struct ClusterFigures {
  bool present = false;
  std::string proxy_id;
  uint64_t streams = 0, origins = 0, origins_alive = 0;
  struct OriginClients {
    std::string server;
    uint64_t clients[kProtocols] = {};
  };
  std::vector<OriginClients> origin_clients;
};

struct ExpoInput {
  std::vector<OriginInfo> origins;
  RegistryFigures registry;
  ClusterFigures cluster;
  std::string version, commit;
};

// Appends `v` escaped as a Prometheus label value (\\, \", \n).
void escape_label(std::string& out, std::string_view v);
// The whole text exposition (format 0.0.4) of `a` (nullptr: this process's
// local slot only) plus `in`.
std::string exposition(const Area* a, const ExpoInput& in);
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

template <class F>
void Area::release(int slot, F current_serial) {
  if (slot <= 0 || uint32_t(slot) >= slot_count) return;
  Slot& s = slots[slot];
  struct Ctx {
    F* f;
  } ctx{&current_serial};
  fold_slot(retired, s, [](void* arg, int i) -> uint64_t { return (*static_cast<Ctx*>(arg)->f)(i); }, &ctx);
  zero_gauges(s);
  s.owner.store(0, std::memory_order_release);
}

}  // namespace sp::metrics
