// The shared-memory origin registry (see registry.h).
//
// Layout of the one MAP_SHARED|MAP_ANONYMOUS mapping, all plain old data (no
// pointers, no std::string: every process maps it at its own address):
//
//   Header   magic, the robust process-shared mutex, TTLs, table geometry,
//            the eviction lists' heads
//   origins  OriginEntry[origin_slots]  ~5% of the bytes, scanned linearly up
//                                       to a high-water mark of used slots
//   streams  StreamEntry[stream_slots]  ~45%, open addressing (pins)
//   sessions SessionEntry[...]          the rest (~50%), open addressing
//
// Hash tables use FNV-1a of the key, linear probing and tombstones; at most
// 3/4 of their slots hold live entries so probes stay short (that 3/4 is the
// capacity() reported). Erasing shifts the rest of the probe run back into
// the hole (backward-shift deletion), so erases leave no tombstones and a
// flood of evictions never needs an O(table) rebuild; tombstones appear only
// from repair(), and a table whose live entries and tombstones pass 7/8 of
// its slots is then rebuilt.
//
// Eviction lists: each table threads two intrusive doubly-linked lists
// through its slots by slot index (prev/next in the entry, head/tail/count in
// the table header), each ordered by last use, oldest at the head:
//   streams   list 1 = pending pins (made or moved by pick(), not yet
//             confirm()ed), list 2 = idle confirmed pins (no clients).
//             Pins with clients are on no list: never evicted, never expired.
//   sessions  list 1 = hls_client fingerprints, list 2 = every other session.
// A use moves the entry to its list's tail; a full table evicts list heads
// (pending, then idle; fingerprints, then sessions not touched for
// kLiveSessionMs) and expire() pops heads older than their TTL, so inserting,
// evicting and expiring cost O(1) per entry instead of a table scan. An
// entry's `list` field is the truth; the links follow from it.
//
// Crash safety: every writer holds the mutex; PTHREAD_MUTEX_ROBUST hands it
// to the next locker with EOWNERDEAD if the holder died, and repair() then
// makes the tables consistent. An entry is published by writing its fields
// while its state says "not valid" (empty, tombstone or writing) and storing
// state=valid last, so a half-written entry is never read as valid; repair()
// turns leftover "writing" entries into free slots, recounts, re-links every
// list from the entries' `list` fields in last-use order (a crash between two
// link writes leaves the links, not the fields, inconsistent), recomputes the
// origins' high-water mark and recounts the pins per origin.
//
// Client counts: a stream's totals (what readers see) plus up to
// kStreamHolders owners, each a (pid, protocol) pair with its share, so the
// master can take back a dead worker's clients (drop_process) instead of
// leaving its streams busy forever. totals - owned = unattributed overflow.
//
// Picking (issue 16): among the eligible origins (heartbeat alive, not down,
// not draining, not overloaded) that have an endpoint for the protocol, the
// one with the lowest load / weight, ties to the smallest server id (the
// Redis pick script applies the same rule, so both backends answer alike).
// An origin's load is the sum over its pinned streams of max(1, live
// clients), kept up to date as pins and counts change (no scan) but taken
// as the pick figure at most every kLoadRefreshMs (so it does not flip-flop
// as clients come and go), plus
// one per stream picked for it since, less one per idle stream moved away
// (so a burst of new streams spreads by
// weight at once). On top of that come the bytes: the proxy's measured
// bytes per second with the origin (in + out; set by the API worker every
// ~2 s, set_origin_rates) divided by pick_bytes_per_client (U, default
// 125000 = 1 Mbit/s), taken at the same refresh; U = 0 counts no bytes.
// Compared exactly as (load x U + rate) / weight (scaled_load). With no eligible origin, down or overloaded ones are
// used (never draining ones) rather than refusing everyone.
//
// Liveness: each origin's heartbeat interval is learned from the gaps between
// its heartbeats (an average weighting the newest gap 1/4, each gap clamped
// to [kHeartbeatIntervalMinMs, kHeartbeatIntervalMaxMs]). The first gap,
// from the registration to the first heartbeat, is not a sample: an origin
// registered by hand twice in a row must not look like one beating every
// second. It is dead after heartbeat_misses intervals without a heartbeat,
// never later than origin_ttl; until its interval is known only origin_ttl
// applies. Passive health (report_failure) marks it down for fail_timeout
// after max_fails failures within fail_timeout; down origins are chosen only
// when every alive origin is down.
#include "registry/registry.h"

#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "core/metrics.h"
#include "core/log.h"

namespace sp {

namespace {

constexpr uint32_t kMagic = 0x53505247;  // "SPRG"
constexpr size_t kHostMax = 47;          // numeric IPv6 is at most 45

// Share of the bytes after the header given to each table, in percent.
constexpr uint64_t kOriginsPercent = 5;
constexpr uint64_t kStreamsPercent = 45;
// Sessions take what is left (~50%).

// A pending pin (made or moved by pick(), no origin has accepted a client
// of it yet) is dropped after this long without use, or after session_ttl
// when that is shorter. It must outlast an origin set-up (connect_timeout +
// handshake_timeout: 5 s + 10 s by default for RTMP) so a slow but good first
// client still confirms the pin it was given; 30 s does with room to spare.
// Pending pins are also the first evicted, so the TTL only bounds how long a
// failed name stays listed, not how many there can be.
constexpr int64_t kPendingTtlMs = 30 * 1000;
// A session touched this recently is live and never evicted (HLS players
// fetch a playlist every target duration, at most ~10 s; the WebRTC relay
// touches its sessions every second).
constexpr int64_t kLiveSessionMs = 30 * 1000;

// Smallest registry worth running: a few of each.
constexpr uint32_t kMinOrigins = 4;
constexpr uint32_t kMinStreams = 8;
constexpr uint32_t kMinSessions = 8;

enum SlotState : uint8_t { kEmpty = 0, kValid = 1, kTombstone = 2, kWriting = 3 };

struct ShmEndpoint {
  char host[kHostMax + 1];
  uint16_t port;
};

// Every entry starts with `state` so publish() works for all of them.
struct OriginEntry {
  uint8_t state;
  uint8_t endpoint_count[kProtoCount];
  char server[kServerIdMax + 1];
  char service[kServiceMax + 1];
  char pid[kPidMax + 1];
  char device_id[kDeviceIdMax + 1];
  char ip[kIpMax + 1];
  ShmEndpoint endpoints[kProtoCount][kMaxEndpointsPerProto];
  int64_t registered_ms;
  int64_t heartbeat_ms;
  uint32_t pins;  // streams pinned here; recounted by expire() and repair()
  // Liveness and passive health (see the top of this file).
  uint32_t fails;                 // failures in the window starting at fail_window_ms
  uint32_t heartbeats;            // since the registration (saturating)
  int64_t heartbeat_interval_ms;  // learned; 0 = not yet (see the top of this file)
  int64_t fail_window_ms;
  int64_t down_until_ms;          // down while now < this
  char down_reason[kDownReasonMax + 1];
  // Operator control and load (see the pick rule at the top of this file).
  uint8_t draining;
  uint8_t overloaded;
  uint16_t weight;           // registered (1..kWeightMax)
  uint16_t weight_override;  // operator's, 0 = none
  double cpu_percent;        // reported; negative = unknown
  double load_1m;
  uint64_t live_load;        // now: sum over its pins of max(1, clients), kept up to date
  uint64_t load;             // live_load at the last load refresh
  uint64_t live_rate;        // measured bytes/s (set_origin_rates)
  uint64_t rate;             // live_rate at the last load refresh
  int32_t picked;            // new streams picked for it since, less those moved away
};

// A removed origin (control_origin remove): its service id is refused
// until until_ms.
struct RemovedOrigin {
  char server[kServerIdMax + 1];
  char service[kServiceMax + 1];
  int64_t removed_ms;
  int64_t until_ms;  // 0 = free slot
};

// One owner of a stream's clients: a (process, protocol) pair and how many
// of the stream's clients it holds. Linux pids are below 2^22
// (PID_MAX_LIMIT), so the pid and the protocol share one word; 0 = free.
struct HolderCount {
  uint32_t owner;
  uint32_t count;
};

constexpr uint32_t holder_owner(pid_t pid, Proto proto) {
  return (uint32_t(pid) & 0xffffffu) | (uint32_t(proto) + 1) << 24;
}
constexpr pid_t owner_pid(uint32_t owner) { return pid_t(owner & 0xffffffu); }
constexpr int owner_proto(uint32_t owner) { return int(owner >> 24) - 1; }

struct StreamEntry {
  uint8_t state;
  uint8_t overflowed;  // an owner found no free holder slot (logged once)
  uint32_t hash;
  int32_t origin_hint;  // slot where origin_server was last found
  char key[kStreamKeyMax + 1];
  char origin_server[kServerIdMax + 1];
  int64_t pinned_ms;
  int64_t used_ms;  // last pick or client change
  // Totals, what readers use. clients[p] minus the holders' counts for p is
  // the unattributed rest (overflow, see kStreamHolders).
  uint32_t clients[kProtoCount];
  HolderCount holders[kStreamHolders];
  // Eviction (pins branch): kept last and apart so the fields above can
  // change without touching it.
  uint8_t pending;  // made or moved by pick(), not yet confirm()ed
  uint8_t list;     // kNoList (has clients), kPendingList or kIdleList
  int32_t prev, next;  // slot indexes in that list, -1 at its ends
};

struct SessionEntry {
  uint8_t state;
  uint8_t kind;
  uint16_t data_len;
  uint32_t hash;
  char id[kSessionIdMax + 1];
  char stream_key[kStreamKeyMax + 1];
  char origin_server[kServerIdMax + 1];
  char data[kSessionDataMax];
  int64_t touched_ms;
  uint8_t list;        // kFingerprintList or kSessionList
  int32_t prev, next;  // slot indexes in that list, -1 at its ends
};

// List ids (an entry's `list`); 1 and 2 mean different lists per table.
constexpr uint8_t kNoList = 0;
constexpr uint8_t kPendingList = 1, kIdleList = 2;          // streams
constexpr uint8_t kFingerprintList = 1, kSessionList = 2;   // sessions
constexpr int kLists = 3;                                   // index 0 unused

struct ListHead {
  int32_t head, tail;  // -1 when empty
  uint32_t count;
};

struct TableHeader {
  uint64_t offset;  // from the start of the mapping
  uint32_t slots;
  uint32_t limit;   // most live entries allowed
  uint32_t live;
  uint32_t tombstones;
  ListHead lists[kLists];
};

struct Header {
  uint32_t magic;
  uint32_t rebuilding;  // non-zero while expire() rebuilds a hash table
  pthread_mutex_t mu;
  int64_t origin_ttl_ms;
  int64_t session_ttl_ms;
  int64_t fail_timeout_ms;
  int32_t heartbeat_misses;
  int32_t max_fails;
  uint64_t bytes;
  uint64_t origins_offset;
  uint32_t origin_slots;
  uint32_t origin_high;  // no valid origin at or above this slot
  int32_t creator_pid;  // the master: the proxy's pid as origins see it
  int64_t created_unix_ms;  // wall clock at create(): part of the Redis proxy id
  uint64_t evicted_streams, evicted_sessions;  // since start, for the API
  uint64_t rebuilds;
  int64_t origin_remove_ms;
  int32_t cpu_limit;
  int64_t bytes_per_client;  // pick_bytes_per_client; 0 = bytes not counted
  uint8_t loads_valid;  // load_ms holds a refresh time
  int64_t load_ms;      // last load refresh
  RemovedOrigin removed[kTombstones];
  TableHeader streams;
  TableHeader sessions;
};

constexpr uint64_t align64(uint64_t v) { return (v + 63) & ~uint64_t(63); }

uint32_t fnv1a(std::string_view s, uint32_t h = 2166136261u) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

uint32_t session_hash(SessionKind kind, std::string_view id) {
  char k = char(kind);
  return fnv1a(id, fnv1a(std::string_view(&k, 1)));
}

template <size_t N>
void copy_str(char (&dst)[N], std::string_view src) {
  memset(dst, 0, N);
  memcpy(dst, src.data(), std::min(src.size(), N - 1));
}

template <class E>
void store_state(E& e, uint8_t s) {
  __atomic_store_n(&e.state, s, __ATOMIC_RELEASE);
  // Keep the field writes that follow from being moved before this store.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

template <class E>
bool is_valid(const E& e) {
  return __atomic_load_n(&e.state, __ATOMIC_ACQUIRE) == kValid;
}

// Copies `fresh` into `slot` so that `slot` is never valid while half written.
template <class E>
void publish(E& slot, E fresh) {
  if (slot.state == kValid) store_state(slot, kWriting);
  fresh.state = slot.state;
  memcpy(static_cast<void*>(&slot), &fresh, sizeof(E));
  store_state(slot, kValid);
}

Status too_long(const char* what, std::string_view value, size_t max) {
  return Status::Error(ErrorKind::bad_input, std::string(what) + " \"" + std::string(value.substr(0, 80)) +
                                                 (value.size() > 80 ? "..." : "") + "\" is too long (at most " +
                                                 std::to_string(max) + " bytes)");
}

// A key pick() and confirm() can pin: not empty, and fits an entry.
Status check_stream_key(std::string_view key) {
  if (key.empty()) return Status::Error(ErrorKind::bad_input, "empty stream key");
  if (key.size() > kStreamKeyMax) return too_long("stream key", key, kStreamKeyMax);
  return Status::Ok();
}

// When an entry was last used: the order of its eviction list.
int64_t last_use(const StreamEntry& s) { return s.used_ms; }
int64_t last_use(const SessionEntry& s) { return s.touched_ms; }

// Whether two entries have the same key (a crash during erase()'s shift can
// leave one entry in two slots).
bool same_key(const StreamEntry& a, const StreamEntry& b) { return strcmp(a.key, b.key) == 0; }
bool same_key(const SessionEntry& a, const SessionEntry& b) { return a.kind == b.kind && strcmp(a.id, b.id) == 0; }

// An open-addressing table over one region of the mapping, with the
// eviction lists threaded through its slots (see the file comment).
template <class E>
struct HashTable {
  TableHeader* t;
  E* e;

  // Index of the valid entry with `hash` for which match() holds, or -1.
  template <class Match>
  int find(uint32_t hash, Match match) const {
    uint32_t i = hash % t->slots;
    for (uint32_t n = 0; n < t->slots; n++, i = (i + 1) % t->slots) {
      if (e[i].state == kEmpty) return -1;
      if (is_valid(e[i]) && e[i].hash == hash && match(e[i])) return int(i);
    }
    return -1;
  }

  // First free slot (empty or tombstone) on the probe path of `hash`. The
  // caller has checked live < limit, so one exists.
  uint32_t free_slot(uint32_t hash) const {
    uint32_t i = hash % t->slots;
    while (e[i].state == kValid || e[i].state == kWriting) i = (i + 1) % t->slots;
    return i;
  }

  bool full() const { return t->live >= t->limit; }

  // --- eviction lists ---
  ListHead& list(uint8_t id) { return t->lists[id]; }
  int head(uint8_t id) const { return t->lists[id].head; }

  // Appends slot i to the tail of the list its `list` field names.
  void link_tail(uint32_t i) {
    E& x = e[i];
    x.prev = x.next = -1;
    if (x.list == kNoList) return;
    ListHead& l = list(x.list);
    x.prev = l.tail;
    if (l.tail >= 0) e[l.tail].next = int32_t(i);
    else l.head = int32_t(i);
    l.tail = int32_t(i);
    l.count++;
  }

  void unlink(uint32_t i) {
    E& x = e[i];
    if (x.list == kNoList) return;
    ListHead& l = list(x.list);
    if (x.prev >= 0) e[x.prev].next = x.next;
    else l.head = x.next;
    if (x.next >= 0) e[x.next].prev = x.prev;
    else l.tail = x.prev;
    if (l.count > 0) l.count--;
    x.prev = x.next = -1;
  }

  // Moves slot i to list `id`'s tail (the most recently used end).
  void relist(uint32_t i, uint8_t id) {
    unlink(i);
    e[i].list = id;
    link_tail(i);
  }

  // Re-links every list from the entries' `list` fields, oldest use first
  // (after a crash, when links may be half written).
  void relink_all() {
    std::vector<uint32_t> order;
    for (uint32_t i = 0; i < t->slots; i++) {
      if (is_valid(e[i]) && e[i].list != kNoList) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return last_use(e[a]) < last_use(e[b]); });
    for (ListHead& l : t->lists) l = ListHead{-1, -1, 0};
    for (uint32_t i : order) link_tail(i);
  }

  // Publishes `fresh` in a free slot and appends it to its list.
  uint32_t insert(E fresh) {
    uint32_t i = free_slot(fresh.hash);
    if (e[i].state == kTombstone) t->tombstones--;
    publish(e[i], fresh);
    t->live++;
    link_tail(i);
    return i;
  }

  // Publishes `fresh` over the valid entry in slot i, which goes to the tail
  // of fresh's list.
  void replace(uint32_t i, E fresh) {
    unlink(i);
    publish(e[i], fresh);
    link_tail(i);
  }

  // Moves the valid entry in slot `from` into the free slot `to`, keeping
  // its place in its list. Between the two state stores the entry is valid
  // in both slots; repair() drops such duplicates.
  void move(uint32_t from, uint32_t to) {
    E copy = e[from];
    copy.state = e[to].state;
    memcpy(static_cast<void*>(&e[to]), &copy, sizeof(E));
    store_state(e[to], kValid);
    store_state(e[from], kWriting);
    E& x = e[to];
    if (x.list == kNoList) return;
    ListHead& l = list(x.list);
    if (x.prev >= 0) e[x.prev].next = int32_t(to);
    else l.head = int32_t(to);
    if (x.next >= 0) e[x.next].prev = int32_t(to);
    else l.tail = int32_t(to);
  }

  // Backward-shift deletion: the entries after slot i in its probe run move
  // back into the hole when their home slot allows, so no tombstone is left
  // and the table never needs a rebuild for erases. Entries only ever move
  // backwards, so a forward scan that re-checks slot i after erase(i) sees
  // every entry. (A tombstone left by repair() ends the shift: the hole then
  // becomes a tombstone, which keeps the chains intact.)
  void erase(uint32_t i) {
    unlink(i);
    store_state(e[i], kWriting);
    t->live--;
    uint32_t hole = i;
    for (uint32_t j = (i + 1) % t->slots, n = 0; n < t->slots; j = (j + 1) % t->slots, n++) {
      uint8_t st = e[j].state;
      if (st == kEmpty) break;
      if (st != kValid) {
        store_state(e[hole], kTombstone);
        t->tombstones++;
        return;
      }
      uint32_t home = e[j].hash % t->slots;
      // Distance from home to j, and from the hole to j, along the probe path.
      uint32_t from_home = (j + t->slots - home) % t->slots;
      uint32_t from_hole = (j + t->slots - hole) % t->slots;
      if (from_home >= from_hole) {
        move(j, hole);
        hole = j;
      }
    }
    store_state(e[hole], kEmpty);
  }

  // After a crash: drops the second copy of an entry that erase() was moving
  // (the one a lookup does not reach first), then counts from the slots.
  template <class Hash>
  void drop_duplicates(Hash hash_of) {
    for (uint32_t i = 0; i < t->slots; i++) {
      if (!is_valid(e[i])) continue;
      int first = find(hash_of(e[i]), [&](const E& x) { return same_key(x, e[i]); });
      if (first >= 0 && uint32_t(first) != i) e[i].state = kTombstone;
    }
  }

  // Counts from the slots themselves, after a crash.
  void recount() {
    t->live = t->tombstones = 0;
    for (uint32_t i = 0; i < t->slots; i++) {
      if (e[i].state == kWriting) e[i].state = kTombstone;
      if (e[i].state == kValid) t->live++;
      if (e[i].state == kTombstone) t->tombstones++;
    }
  }

  // Re-inserts every live entry into a clean table, dropping all tombstones.
  // Entries are re-inserted list by list from head to tail, so every list
  // keeps its order. A crash in the middle loses the entries not yet
  // re-inserted: pins and sessions are soft state (the next client re-picks),
  // and repair() logs it.
  void rebuild() {
    std::vector<E> keep;
    keep.reserve(t->live);
    for (int id = 1; id < kLists; id++) {
      for (int i = t->lists[id].head; i >= 0; i = e[i].next) keep.push_back(e[i]);
    }
    for (uint32_t i = 0; i < t->slots; i++) {
      if (is_valid(e[i]) && e[i].list == kNoList) keep.push_back(e[i]);
    }
    for (uint32_t i = 0; i < t->slots; i++) e[i].state = kEmpty;
    t->live = t->tombstones = 0;
    for (ListHead& l : t->lists) l = ListHead{-1, -1, 0};
    for (const E& entry : keep) insert(entry);
  }

  // A lookup of a missing key (every new name) probes to the next empty
  // slot, so empty slots must stay common: rebuild once live entries and
  // tombstones fill 7/8 of the slots. Live entries are at most 3/4, so at
  // least slots/8 erases separate two rebuilds: O(1) amortised.
  bool wants_rebuild() const { return t->tombstones > 0 && t->live + t->tombstones > t->slots - t->slots / 8; }
};

struct Geometry {
  uint64_t origins_offset, streams_offset, sessions_offset;
  uint32_t origin_slots, stream_slots, session_slots;
};

uint32_t slots_in(uint64_t bytes, size_t entry) {
  return uint32_t(std::min<uint64_t>(bytes / entry, 1u << 30));
}

// The documented split: origins 5%, streams 45%, sessions the rest.
Geometry geometry_for(uint64_t bytes) {
  Geometry g{};
  uint64_t head = align64(sizeof(Header));
  uint64_t usable = bytes > head + 3 * 64 ? bytes - head - 3 * 64 : 0;  // 64 = alignment slack
  uint64_t ob = usable * kOriginsPercent / 100;
  uint64_t sb = usable * kStreamsPercent / 100;
  uint64_t eb = usable - ob - sb;
  g.origin_slots = slots_in(ob, sizeof(OriginEntry));
  g.stream_slots = slots_in(sb, sizeof(StreamEntry));
  g.session_slots = slots_in(eb, sizeof(SessionEntry));
  g.origins_offset = head;
  g.streams_offset = align64(g.origins_offset + uint64_t(g.origin_slots) * sizeof(OriginEntry));
  g.sessions_offset = align64(g.streams_offset + uint64_t(g.stream_slots) * sizeof(StreamEntry));
  return g;
}

uint32_t hash_limit(uint32_t slots) { return slots - slots / 4; }

bool big_enough(const Geometry& g) {
  return g.origin_slots >= kMinOrigins && hash_limit(g.stream_slots) >= kMinStreams &&
         hash_limit(g.session_slots) >= kMinSessions;
}

// Smallest size that big_enough() accepts, for the error message.
uint64_t minimum_bytes() {
  uint64_t lo = 0, hi = 64ull << 20;
  while (lo + 1 < hi) {
    uint64_t mid = (lo + hi) / 2;
    (big_enough(geometry_for(mid)) ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace

const char* origin_op_name(OriginOp op) {
  switch (op) {
    case OriginOp::drain: return "drain";
    case OriginOp::undrain: return "undrain";
    case OriginOp::remove: return "remove";
    case OriginOp::set_weight: return "weight";
  }
  return "?";
}

bool next_overloaded(bool was, double cpu_percent, int limit) {
  if (limit <= 0 || cpu_percent < 0) return false;
  if (cpu_percent > limit) return true;
  return was && cpu_percent >= limit - kCpuHysteresis;
}

const char* proto_name(Proto p) {
  switch (p) {
    case Proto::rtmp: return "rtmp";
    case Proto::http: return "http";
    case Proto::api: return "api";
    case Proto::srt: return "srt";
    case Proto::rtc: return "rtc";
  }
  return "unknown";
}

struct Registry::Impl {
  void* base = nullptr;
  uint64_t bytes = 0;
  Header* h = nullptr;
  OriginEntry* origins = nullptr;
  HashTable<StreamEntry> streams{};
  HashTable<SessionEntry> sessions{};

  void lock() {
    int rc = pthread_mutex_lock(&h->mu);
    if (rc == EOWNERDEAD) {
      SP_PWARN("registry: a process died holding the registry lock; repairing the tables");
      pthread_mutex_consistent(&h->mu);
      repair();
    } else if (rc != 0) {
      // Only reachable if someone unlocked without marking it consistent.
      SP_PERROR("registry: lock failed: %s", strerror(rc));
    }
  }
  void unlock() { pthread_mutex_unlock(&h->mu); }

  void repair() {
    for (uint32_t i = 0; i < h->origin_slots; i++) {
      if (origins[i].state == kWriting) origins[i].state = kEmpty;
    }
    if (h->rebuilding) SP_PWARN("registry: the crash interrupted a table rebuild; some pins or sessions are lost");
    h->rebuilding = 0;
    streams.drop_duplicates([](const StreamEntry& x) { return fnv1a(x.key); });
    sessions.drop_duplicates([](const SessionEntry& x) { return session_hash(SessionKind(x.kind), x.id); });
    streams.recount();
    sessions.recount();
    streams.relink_all();
    sessions.relink_all();
    h->origin_high = 0;
    for (uint32_t i = 0; i < h->origin_slots; i++) {
      if (origins[i].state != kEmpty) h->origin_high = i + 1;
    }
    repair_counts();
    recount_pins();  // after the counts: an origin's load follows its pins' clients
  }

  // A crash inside add_client() can leave a holder's count ahead of the
  // totals; the totals never hold less than their owners.
  void repair_counts() {
    for (uint32_t i = 0; i < streams.t->slots; i++) {
      StreamEntry& s = streams.e[i];
      if (!is_valid(s)) continue;
      uint32_t owned[kProtoCount] = {};
      for (HolderCount& hc : s.holders) {
        int p = owner_proto(hc.owner);
        if (hc.owner == 0 || p < 0 || p >= kProtoCount || hc.count == 0) {
          hc = HolderCount{0, 0};
          continue;
        }
        owned[p] += hc.count;
      }
      for (int p = 0; p < kProtoCount; p++) s.clients[p] = std::max(s.clients[p], owned[p]);
    }
  }

  // How long after its last heartbeat an origin is dead.
  int64_t dead_after(const OriginEntry& o) const {
    int64_t ttl = h->origin_ttl_ms;
    if (o.heartbeat_interval_ms > 0 && h->heartbeat_misses > 0) {
      ttl = std::min(ttl, o.heartbeat_interval_ms * h->heartbeat_misses);
    }
    return ttl;
  }
  bool heartbeat_alive(const OriginEntry& o, int64_t now) const { return now - o.heartbeat_ms < dead_after(o); }
  static bool down(const OriginEntry& o, int64_t now) { return now < o.down_until_ms; }
  // Gets new streams.
  bool alive(const OriginEntry& o, int64_t now) const { return heartbeat_alive(o, now) && !down(o, now); }

  // One heartbeat `gap` after the previous one.
  static void learn_interval(OriginEntry& o, int64_t gap) {
    if (o.heartbeats < UINT32_MAX) o.heartbeats++;
    if (o.heartbeats == 1) return;  // the gap since the registration
    gap = std::clamp(gap, kHeartbeatIntervalMinMs, kHeartbeatIntervalMaxMs);
    o.heartbeat_interval_ms = o.heartbeat_interval_ms == 0 ? gap : (3 * o.heartbeat_interval_ms + gap) / 4;
  }

  int find_origin(std::string_view server) const {
    for (uint32_t i = 0; i < h->origin_high; i++) {
      if (is_valid(origins[i]) && server == origins[i].server) return int(i);
    }
    return -1;
  }

  // The origin a pin names, through its slot hint when still right.
  int pin_origin(StreamEntry& s) const {
    int hint = s.origin_hint;
    if (hint >= 0 && uint32_t(hint) < h->origin_slots && is_valid(origins[hint]) &&
        strcmp(origins[hint].server, s.origin_server) == 0) {
      return hint;
    }
    int found = find_origin(s.origin_server);
    if (found >= 0) s.origin_hint = found;
    return found;
  }

  void recount_pins() {
    for (uint32_t i = 0; i < h->origin_slots; i++) origins[i].pins = 0, origins[i].live_load = 0;
    for (uint32_t i = 0; i < streams.t->slots; i++) {
      if (!is_valid(streams.e[i])) continue;
      int o = pin_origin(streams.e[i]);
      if (o >= 0) origins[o].pins++, origins[o].live_load += stream_weight(streams.e[i]);
    }
  }

  int find_stream(std::string_view key) const {
    return streams.find(fnv1a(key), [&](const StreamEntry& s) { return key == s.key; });
  }

  int find_session(SessionKind kind, std::string_view id) const {
    return sessions.find(session_hash(kind, id),
                         [&](const SessionEntry& s) { return s.kind == uint8_t(kind) && id == s.id; });
  }

  // True when origin `o` has an endpoint for every protocol in `needs` (bit per Proto).
  static bool serves(const OriginEntry& o, uint32_t needs) {
    for (int p = 0; p < kProtoCount; p++) {
      if ((needs & (1u << p)) && o.endpoint_count[p] == 0) return false;
    }
    return true;
  }

  static int weight_of(const OriginEntry& o) {
    int w = o.weight_override ? o.weight_override : o.weight;
    return std::clamp(w, 1, kWeightMax);
  }
  static uint64_t load_of(const OriginEntry& o) { return uint64_t(std::max<int64_t>(0, int64_t(o.load) + o.picked)); }

  // Takes every origin's current load (kept up to date as pins and client
  // counts change, so no scan of the pins) as the figure picks use.
  void refresh_loads(int64_t now) {
    for (uint32_t i = 0; i < h->origin_high; i++) {
      origins[i].load = origins[i].live_load;
      origins[i].rate = origins[i].live_rate;
      origins[i].picked = 0;
    }
    h->load_ms = now;
    h->loads_valid = 1;
  }

  // The pick rule (see the top of this file): the eligible origin serving
  // `needs` with the lowest load / weight, ties to the smallest server id;
  // else the best down or overloaded one. Counts the pick in its load.
  void refresh_loads_if_due(int64_t now) {
    if (!h->loads_valid || now - h->load_ms >= kLoadRefreshMs || now < h->load_ms) refresh_loads(now);
  }

  int choose_origin(uint32_t needs, int64_t now) {
    refresh_loads_if_due(now);
    int best = -1, fallback = -1;
    auto better = [&](int i, int b) {
      if (b < 0) return true;
      const OriginEntry &x = origins[i], &y = origins[b];
      const uint64_t lx = scaled_load(load_of(x), x.rate, h->bytes_per_client);
      const uint64_t ly = scaled_load(load_of(y), y.rate, h->bytes_per_client);
      if (load_below(lx, weight_of(x), ly, weight_of(y))) return true;
      if (load_below(ly, weight_of(y), lx, weight_of(x))) return false;
      return strcmp(x.server, y.server) < 0;
    };
    for (uint32_t i = 0; i < h->origin_high; i++) {
      const OriginEntry& o = origins[i];
      if (!is_valid(o) || o.draining || !heartbeat_alive(o, now) || !serves(o, needs)) continue;
      int& b = down(o, now) || o.overloaded ? fallback : best;
      if (better(int(i), b)) b = int(i);
    }
    if (best < 0) best = fallback;
    if (best >= 0) origins[best].picked++;
    return best;
  }

  // The removal of `server`, if one is in force (expired ones are freed).
  RemovedOrigin* find_removed(std::string_view server, int64_t now) {
    for (RemovedOrigin& r : h->removed) {
      if (r.until_ms == 0) continue;
      if (now >= r.until_ms) {
        r.until_ms = 0;
        continue;
      }
      if (server == r.server) return &r;
    }
    return nullptr;
  }

  void remember_removed(const OriginEntry& o, int64_t now) {
    RemovedOrigin* slot = find_removed(o.server, now);
    for (RemovedOrigin& r : h->removed) {
      if (slot) break;
      if (r.until_ms == 0) slot = &r;
    }
    if (!slot) {  // full: the oldest removal goes
      slot = &h->removed[0];
      for (RemovedOrigin& r : h->removed) {
        if (r.removed_ms < slot->removed_ms) slot = &r;
      }
      SP_PINFO("registry: removed-origin table full (%d); forgetting the removal of %s", kTombstones, slot->server);
    }
    copy_str(slot->server, o.server);
    copy_str(slot->service, o.service);
    slot->removed_ms = now;
    slot->until_ms = now + std::max<int64_t>(1, h->origin_remove_ms);
  }

  OriginView origin_view(int slot, int64_t now) const {
    const OriginEntry& o = origins[slot];
    OriginView v;
    v.slot = slot;
    v.server = o.server;
    v.service = o.service;
    v.pid = o.pid;
    v.device_id = o.device_id;
    v.ip = o.ip;
    for (int p = 0; p < kProtoCount; p++) {
      for (int k = 0; k < o.endpoint_count[p]; k++) {
        v.endpoints[p].push_back(Endpoint{o.endpoints[p][k].host, o.endpoints[p][k].port});
      }
    }
    v.alive = alive(o, now);
    v.heartbeat_alive = heartbeat_alive(o, now);
    v.down = down(o, now);
    if (v.down) {
      v.down_reason = o.down_reason;
      v.down_for_ms = o.down_until_ms - now;
    }
    v.fails = now - o.fail_window_ms < h->fail_timeout_ms ? o.fails : 0;  // an old window no longer counts
    v.heartbeat_interval_ms = o.heartbeat_interval_ms;
    v.age_ms = now - o.heartbeat_ms;
    v.registered_ms = o.registered_ms;
    v.draining = o.draining != 0;
    v.overloaded = o.overloaded != 0;
    v.cpu_percent = o.cpu_percent;
    v.load_1m = o.load_1m;
    v.weight = weight_of(o);
    v.registered_weight = std::clamp(int(o.weight), 1, kWeightMax);
    v.weight_override = o.weight_override;
    v.load = load_of(o);
    v.bytes_per_sec = o.rate;
    return v;
  }

  Pick make_pick(int slot, Proto proto, int64_t now) const {
    Pick pick;
    pick.origin = origin_view(slot, now);
    const Endpoint& ep = pick.origin.endpoints[int(proto)].front();
    pick.host = endpoint_connect_host(ep, pick.origin.ip);
    pick.port = ep.port;
    return pick;
  }

  static bool has_clients(const StreamEntry& s) {
    return std::any_of(std::begin(s.clients), std::end(s.clients), [](uint32_t c) { return c > 0; });
  }

  // The list a pin belongs on: none while it has clients (never evicted),
  // else pending or idle.
  static uint8_t list_for(const StreamEntry& s) {
    if (has_clients(s)) return kNoList;
    return s.pending ? kPendingList : kIdleList;
  }

  // After a use of pin i (pick, client change, confirm): to the tail of the
  // list it now belongs on.
  void stream_used(uint32_t i) { streams.relist(i, list_for(streams.e[i])); }

  template <class E>
  void rebuild_if_needed(HashTable<E>& t) {
    if (!t.wants_rebuild()) return;
    h->rebuilding = 1;
    t.rebuild();
    h->rebuilding = 0;
    h->rebuilds++;
  }

  // Room for one more pin: evicts the oldest pending pin, else the least
  // recently used idle one. Pins with clients are never evicted.
  Status make_stream_room() {
    if (!streams.full()) return Status::Ok();
    for (uint8_t id : {kPendingList, kIdleList}) {
      int victim = streams.head(id);
      if (victim < 0) continue;
      // Not logged: a flood would log a line per request; the API counts them.
      erase_stream(uint32_t(victim));
      h->evicted_streams++;
      return Status::Ok();
    }
    return Status::Error(ErrorKind::full, "registry full: " + std::to_string(streams.t->limit) + " streams");
  }

  // Room for one more session: evicts the oldest hls_client fingerprint
  // (a viewer who lost it just gets a new session), else the session idle
  // longest if it was not touched within kLiveSessionMs.
  Status make_session_room(int64_t now) {
    if (!sessions.full()) return Status::Ok();
    int victim = sessions.head(kFingerprintList);
    if (victim < 0) {
      victim = sessions.head(kSessionList);
      int64_t live = std::min(kLiveSessionMs, h->session_ttl_ms);
      if (victim >= 0 && now - sessions.e[victim].touched_ms < live) victim = -1;
    }
    if (victim < 0) {
      return Status::Error(ErrorKind::full, "registry full: " + std::to_string(sessions.t->limit) + " sessions");
    }
    sessions.erase(uint32_t(victim));
    h->evicted_sessions++;
    return Status::Ok();
  }

  // Points a pin (new or existing) at origin `slot`, pending until confirmed.
  Status pin(int existing, std::string_view key, int slot, int64_t now, bool pending = true) {
    StreamEntry fresh{};
    if (existing >= 0) fresh = streams.e[existing];
    fresh.hash = fnv1a(key);
    copy_str(fresh.key, key);
    copy_str(fresh.origin_server, origins[slot].server);
    fresh.origin_hint = slot;
    fresh.pinned_ms = now;
    fresh.used_ms = now;
    fresh.pending = pending ? 1 : 0;
    fresh.list = list_for(fresh);
    if (existing >= 0) {
      int old = pin_origin(streams.e[existing]);
      if (old >= 0 && origins[old].pins > 0) origins[old].pins--;
      if (old >= 0) unweigh(origins[old], stream_weight(streams.e[existing]));
      streams.replace(uint32_t(existing), fresh);
    } else {
      if (Status s = make_stream_room(); !s.ok()) return s;
      streams.insert(fresh);
      rebuild_if_needed(streams);
    }
    origins[slot].pins++;
    origins[slot].live_load += stream_weight(fresh);
    return Status::Ok();
  }

  void erase_stream(uint32_t i) {
    int o = pin_origin(streams.e[i]);
    if (o >= 0 && origins[o].pins > 0) origins[o].pins--;
    if (o >= 0) unweigh(origins[o], stream_weight(streams.e[i]));
    streams.erase(i);
  }

  // What a pin weighs in its origin's load: its live clients, at least 1.
  static uint64_t stream_weight(const StreamEntry& s) {
    uint64_t c = 0;
    for (uint32_t n : s.clients) c += n;
    return std::max<uint64_t>(1, c);
  }
  static void unweigh(OriginEntry& o, uint64_t w) { o.live_load = o.live_load > w ? o.live_load - w : 0; }
  // After a change of pin i's client counts that weighed `before`.
  void reweigh(uint32_t i, uint64_t before) {
    int o = pin_origin(streams.e[i]);
    if (o < 0) return;
    unweigh(origins[o], before);
    origins[o].live_load += stream_weight(streams.e[i]);
  }
};

namespace {

class Locked {
 public:
  explicit Locked(Registry::Impl* impl) : impl_(impl) { impl_->lock(); }
  ~Locked() { impl_->unlock(); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  Registry::Impl* impl_;
};


// The entry a spec describes, zero-filled so entries compare with memcmp.
OriginEntry entry_from(const OriginSpec& spec) {
  OriginEntry o;
  memset(static_cast<void*>(&o), 0, sizeof(o));
  o.weight = uint16_t(std::clamp(spec.weight, 1, kWeightMax));
  o.cpu_percent = spec.cpu_percent;
  o.load_1m = spec.load_1m;
  copy_str(o.server, spec.server);
  copy_str(o.service, spec.service);
  copy_str(o.pid, spec.pid);
  copy_str(o.device_id, spec.device_id);
  copy_str(o.ip, spec.ip);
  for (int p = 0; p < kProtoCount; p++) {
    o.endpoint_count[p] = uint8_t(spec.endpoints[p].size());
    for (size_t k = 0; k < spec.endpoints[p].size(); k++) {
      copy_str(o.endpoints[p][k].host, spec.endpoints[p][k].host);
      o.endpoints[p][k].port = spec.endpoints[p][k].port;
    }
  }
  return o;
}

// A heartbeat's report: registered weight, CPU and load, overloaded state.
// What this table measured about an origin (its pins, live and pick loads,
// byte rates, picks since the refresh) and must survive a rewrite of its
// entry from a heartbeat or from Redis: one list, so a new field is kept
// by both.
void keep_measured(OriginEntry& fresh, const OriginEntry& cur) {
  fresh.pins = cur.pins;
  fresh.live_load = cur.live_load;
  fresh.load = cur.load;
  fresh.live_rate = cur.live_rate;
  fresh.rate = cur.rate;
  fresh.picked = cur.picked;
}

void apply_report(OriginEntry& o, const OriginSpec& spec, int cpu_limit, bool was_overloaded) {
  o.weight = uint16_t(std::clamp(spec.weight, 1, kWeightMax));
  o.cpu_percent = spec.cpu_percent;
  o.load_1m = spec.load_1m;
  bool over = next_overloaded(was_overloaded, spec.cpu_percent, cpu_limit);
  if (over != was_overloaded) {
    if (over) {
      SP_PWARN("registry: origin %s overloaded (cpu %.1f%% above origin_cpu_limit %d%%): no new streams", o.server,
               spec.cpu_percent, cpu_limit);
    } else {
      SP_PINFO("registry: origin %s no longer overloaded (cpu %.1f%%)", o.server, spec.cpu_percent);
    }
  }
  o.overloaded = over ? 1 : 0;
}

bool same_addresses(const OriginEntry& a, const OriginEntry& b) {
  return memcmp(a.ip, b.ip, sizeof(a.ip)) == 0 && memcmp(a.device_id, b.device_id, sizeof(a.device_id)) == 0 &&
         memcmp(a.endpoint_count, b.endpoint_count, sizeof(a.endpoint_count)) == 0 &&
         memcmp(a.endpoints, b.endpoints, sizeof(a.endpoints)) == 0;
}

}  // namespace

uint64_t Registry::minimum_size() { return minimum_bytes(); }

Result<std::unique_ptr<Registry>> Registry::create(uint64_t bytes, RegistryTtls ttls) {
  Geometry g = geometry_for(bytes);
  if (!big_enough(g)) {
    return Result<std::unique_ptr<Registry>>::Error(
        "registry size " + std::to_string(bytes) + " bytes is too small: it would hold " +
        std::to_string(g.origin_slots) + " origins, " + std::to_string(hash_limit(g.stream_slots)) + " streams and " +
        std::to_string(hash_limit(g.session_slots)) + " sessions; at least " + std::to_string(minimum_bytes()) +
        " bytes are needed");
  }
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    return Result<std::unique_ptr<Registry>>::Error("registry: mmap of " + std::to_string(bytes) +
                                                   " bytes failed: " + strerror(errno));
  }
  auto* h = static_cast<Header*>(base);  // the mapping is zero-filled
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  int rc = pthread_mutex_init(&h->mu, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    munmap(base, bytes);
    return Result<std::unique_ptr<Registry>>::Error(std::string("registry: mutex init failed: ") + strerror(rc));
  }
  h->magic = kMagic;
  h->creator_pid = int32_t(getpid());
  {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    h->created_unix_ms = int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  }
  h->origin_ttl_ms = ttls.origin_ttl_ms;
  h->session_ttl_ms = ttls.session_ttl_ms;
  h->heartbeat_misses = ttls.heartbeat_misses;
  h->max_fails = ttls.max_fails;
  h->fail_timeout_ms = ttls.fail_timeout_ms;
  h->origin_remove_ms = ttls.origin_remove_ms;
  h->cpu_limit = ttls.cpu_limit;
  h->bytes_per_client = ttls.bytes_per_client;
  h->bytes = bytes;
  h->origins_offset = g.origins_offset;
  h->origin_slots = g.origin_slots;
  h->streams = TableHeader{g.streams_offset, g.stream_slots, hash_limit(g.stream_slots), 0, 0, {}};
  h->sessions = TableHeader{g.sessions_offset, g.session_slots, hash_limit(g.session_slots), 0, 0, {}};
  for (ListHead& l : h->streams.lists) l = ListHead{-1, -1, 0};
  for (ListHead& l : h->sessions.lists) l = ListHead{-1, -1, 0};

  std::unique_ptr<Registry> r(new Registry());
  r->impl_ = new Impl();
  Impl& impl = *r->impl_;
  impl.base = base;
  impl.bytes = bytes;
  impl.h = h;
  auto* bytes_at = static_cast<char*>(base);
  impl.origins = reinterpret_cast<OriginEntry*>(bytes_at + h->origins_offset);
  impl.streams = {&h->streams, reinterpret_cast<StreamEntry*>(bytes_at + h->streams.offset)};
  impl.sessions = {&h->sessions, reinterpret_cast<SessionEntry*>(bytes_at + h->sessions.offset)};
  SP_PINFO("registry: %llu bytes in shared memory for %u origins, %u streams, %u sessions",
           (unsigned long long)bytes, h->origin_slots, h->streams.limit, h->sessions.limit);
  return r;
}

Registry::~Registry() {
  if (!impl_) return;
  munmap(impl_->base, impl_->bytes);
  delete impl_;
}

void Registry::set_ttls(RegistryTtls ttls) {
  Locked l(impl_);
  impl_->h->origin_ttl_ms = ttls.origin_ttl_ms;
  impl_->h->session_ttl_ms = ttls.session_ttl_ms;
  impl_->h->heartbeat_misses = ttls.heartbeat_misses;
  impl_->h->max_fails = ttls.max_fails;
  impl_->h->fail_timeout_ms = ttls.fail_timeout_ms;
  impl_->h->origin_remove_ms = ttls.origin_remove_ms;
  impl_->h->cpu_limit = ttls.cpu_limit;
  impl_->h->bytes_per_client = ttls.bytes_per_client;
}

void Registry::set_origin_rates(std::span<const uint64_t> bps_by_slot) {
  Locked l(impl_);
  for (uint32_t i = 0; i < impl_->h->origin_slots; i++) {
    impl_->origins[i].live_rate = i < bps_by_slot.size() ? bps_by_slot[i] : 0;
  }
}

RegistryTtls Registry::ttls() const {
  Locked l(impl_);
  const Header& h = *impl_->h;
  return RegistryTtls{h.origin_ttl_ms,   h.session_ttl_ms,   h.heartbeat_misses, h.max_fails,
                      h.fail_timeout_ms, h.origin_remove_ms, h.cpu_limit,      h.bytes_per_client};
}

pid_t Registry::creator_pid() const { return pid_t(impl_->h->creator_pid); }
void Registry::set_creator_pid(pid_t pid) { impl_->h->creator_pid = int32_t(pid); }
int64_t Registry::created_unix_ms() const { return impl_->h->created_unix_ms; }

Registry::Capacity Registry::capacity() const {
  return Capacity{impl_->h->origin_slots, impl_->h->streams.limit, impl_->h->sessions.limit};
}

Status Registry::register_origin(const OriginSpec& spec, int64_t now_ms) {
  if (Status s = check_origin_spec(spec); !s.ok()) return s;
  OriginEntry fresh = entry_from(spec);
  fresh.registered_ms = now_ms;
  fresh.heartbeat_ms = now_ms;

  Locked l(impl_);
  Impl& im = *impl_;
  if (RemovedOrigin* gone = im.find_removed(spec.server, now_ms)) {
    if (spec.service == gone->service) {
      return Status::Error(ErrorKind::not_found,
                           "origin " + spec.server + " (service " + spec.service +
                               ") was removed by an operator; its heartbeats are ignored for " +
                               std::to_string((gone->until_ms - now_ms + 999) / 1000) +
                               " s more unless it registers with a new service id");
    }
    SP_PINFO("registry: removed origin %s registers again with a new service id (%s -> %s)", gone->server,
             gone->service, spec.service.c_str());
    gone->until_ms = 0;
  }
  int slot = im.find_origin(spec.server);
  if (slot >= 0) {
    OriginEntry& cur = im.origins[slot];
    bool restarted = strcmp(cur.service, fresh.service) != 0 || strcmp(cur.pid, fresh.pid) != 0;
    if (!restarted && same_addresses(cur, fresh)) {
      Impl::learn_interval(cur, now_ms - cur.heartbeat_ms);
      cur.heartbeat_ms = now_ms;  // the common heartbeat: aligned stores
      apply_report(cur, spec, im.h->cpu_limit, cur.overloaded != 0);
      return Status::Ok();
    }
    if (restarted) {
      // A new process: the old one's failures say nothing about it.
      SP_PINFO("registry: origin %s restarted (service %s -> %s, pid %s -> %s), replacing its entry", cur.server,
               cur.service, fresh.service, cur.pid, fresh.pid);
    } else {
      SP_PINFO("registry: origin %s changed its addresses", cur.server);
      fresh.registered_ms = cur.registered_ms;
      fresh.fails = cur.fails;
      fresh.fail_window_ms = cur.fail_window_ms;
      fresh.down_until_ms = cur.down_until_ms;
      memcpy(fresh.down_reason, cur.down_reason, sizeof fresh.down_reason);
      fresh.heartbeat_interval_ms = cur.heartbeat_interval_ms;
      fresh.heartbeats = cur.heartbeats;
      Impl::learn_interval(fresh, now_ms - cur.heartbeat_ms);
    }
    if (restarted) {  // same heartbeat settings
      fresh.heartbeat_interval_ms = cur.heartbeat_interval_ms;
      fresh.heartbeats = cur.heartbeats;
    }
    keep_measured(fresh, cur);
    // The operator's decisions outlive restarts (drained for maintenance,
    // the origin restarts during it); the load follows the pins.
    fresh.draining = cur.draining;
    fresh.weight_override = cur.weight_override;
    apply_report(fresh, spec, im.h->cpu_limit, !restarted && cur.overloaded != 0);
    publish(cur, fresh);
    return Status::Ok();
  }
  apply_report(fresh, spec, im.h->cpu_limit, false);
  for (uint32_t i = 0; i < im.h->origin_slots; i++) {
    if (im.origins[i].state != kEmpty) continue;
    publish(im.origins[i], fresh);
    im.h->origin_high = std::max(im.h->origin_high, i + 1);
    SP_PINFO("registry: origin %s registered (service %s, pid %s, ip %s)", fresh.server, fresh.service, fresh.pid,
             fresh.ip);
    return Status::Ok();
  }
  return Status::Error(ErrorKind::full, "registry full: " + std::to_string(im.h->origin_slots) + " origins");
}

Status Registry::control_origin(std::string_view server, OriginOp op, int weight, int64_t now_ms) {
  if (op == OriginOp::set_weight && (weight < 0 || weight > kWeightMax)) {
    return Status::Error(ErrorKind::bad_input,
                         "weight " + std::to_string(weight) + " out of range (1-" + std::to_string(kWeightMax) +
                             ", or 0 to clear the override)");
  }
  Locked l(impl_);
  Impl& im = *impl_;
  int i = im.find_origin(server);
  if (i < 0) return Status::Error(ErrorKind::not_found, "no origin \"" + std::string(server.substr(0, 80)) + "\"");
  OriginEntry& o = im.origins[i];
  switch (op) {
    case OriginOp::drain: o.draining = 1; break;
    case OriginOp::undrain: o.draining = 0; break;
    case OriginOp::set_weight: o.weight_override = uint16_t(weight); break;
    case OriginOp::remove: {
      im.remember_removed(o, now_ms);
      store_state(o, kEmpty);
      while (im.h->origin_high > 0 && im.origins[im.h->origin_high - 1].state == kEmpty) im.h->origin_high--;
      auto& st = im.streams;
      for (uint32_t k = 0; k < st.t->slots; k++) {
        while (is_valid(st.e[k]) && im.pin_origin(st.e[k]) < 0) im.erase_stream(k);  // erase may move one in
      }
      break;
    }
  }
  return Status::Ok();
}

Result<Pick> Registry::pick(std::string_view stream_key, Proto proto, int64_t now_ms) {
  return pick(stream_key, proto, proto, now_ms);
}

Result<Pick> Registry::pick(std::string_view stream_key, Proto proto, Proto also, int64_t now_ms) {
  uint32_t needs = (1u << int(proto)) | (1u << int(also));
  if (Status st = check_stream_key(stream_key); !st.ok()) return st;
  Locked l(impl_);
  Impl& im = *impl_;
  int si = im.find_stream(stream_key);
  if (si >= 0) {
    StreamEntry& s = im.streams.e[si];
    int o = im.pin_origin(s);
    if (o >= 0 && im.heartbeat_alive(im.origins[o], now_ms)) {
      // Moving a stream that has clients would split them across origins.
      bool busy = Impl::has_clients(s);
      // A draining origin keeps its streams with clients; idle ones move.
      bool leaving = Impl::down(im.origins[o], now_ms) || im.origins[o].draining;
      if (Impl::serves(im.origins[o], needs) && (busy || !leaving)) {
        s.used_ms = now_ms;
        im.stream_used(uint32_t(si));
        metrics::count_pick(metrics::PickResult::sticky);
        return im.make_pick(o, proto, now_ms);
      }
      if (busy) {
        metrics::count_pick(metrics::PickResult::no_origin);
        return Result<Pick>::Error(ErrorKind::unavailable,
                                   "stream \"" + std::string(stream_key) + "\" is on origin " + s.origin_server +
                                       ", which has no " + proto_name(proto) +
                                       (also != proto ? std::string(" and ") + proto_name(also) : std::string()) +
                                       " endpoint");
      }
    }
  }
  int chosen = im.choose_origin(needs, now_ms);
  if (chosen < 0) {
    metrics::count_pick(metrics::PickResult::no_origin);
    return Result<Pick>::Error(ErrorKind::unavailable,
                               "no alive origin can serve \"" + std::string(stream_key) + "\" over " +
                                   proto_name(proto) +
                                   (also != proto ? std::string(" (with ") + proto_name(also) + ")" : std::string()));
  }
  std::string previous = si >= 0 ? im.streams.e[si].origin_server : "";
  if (previous == im.origins[chosen].server) {  // down, but every other origin is too
    im.streams.e[si].used_ms = now_ms;
    im.stream_used(uint32_t(si));
    metrics::count_pick(metrics::PickResult::sticky);
    return im.make_pick(chosen, proto, now_ms);
  }
  if (si >= 0) {
    // The moved stream no longer weighs on its old origin (it had no clients:
    // it counted 1 there), as in the Redis pick script.
    if (int old = im.pin_origin(im.streams.e[si]); old >= 0) im.origins[old].picked--;
  }
  if (Status s = im.pin(si, stream_key, chosen, now_ms); !s.ok()) {
    metrics::count_pick(s.kind() == ErrorKind::full ? metrics::PickResult::full : metrics::PickResult::error);
    return s;
  }
  metrics::count_pick(metrics::PickResult::new_pin);
  if (previous.empty()) {
    SP_PINFO("registry: stream %.*s pinned to origin %s (pending)", int(stream_key.size()), stream_key.data(),
             im.origins[chosen].server);
  } else {
    SP_PINFO("registry: stream %.*s moved from origin %s to %s (pending)", int(stream_key.size()), stream_key.data(),
             previous.c_str(), im.origins[chosen].server);
  }
  return im.make_pick(chosen, proto, now_ms);
}

void Registry::report_failure(std::string_view server, std::string_view reason, int64_t now_ms) {
  Locked l(impl_);
  Impl& im = *impl_;
  int i = im.find_origin(server);
  if (i < 0 || im.h->max_fails <= 0) return;
  OriginEntry& o = im.origins[i];
  if (o.fails == 0 || now_ms - o.fail_window_ms >= im.h->fail_timeout_ms) {
    o.fails = 0;
    o.fail_window_ms = now_ms;
  }
  if (++o.fails < uint32_t(im.h->max_fails)) {
    SP_PINFO("registry: origin %s failed (%u of max_fails %d): %.*s", o.server, o.fails, int(im.h->max_fails),
             int(reason.size()), reason.data());
    return;
  }
  bool was_down = Impl::down(o, now_ms);
  o.fails = 0;
  o.down_until_ms = now_ms + im.h->fail_timeout_ms;
  copy_str(o.down_reason, reason);
  if (!was_down) {
    SP_PWARN("registry: origin %s marked down for %lld ms after %d failure(s) within fail_timeout: %.*s", o.server,
             (long long)im.h->fail_timeout_ms, int(im.h->max_fails), int(reason.size()), reason.data());
  }
}

void Registry::report_success(std::string_view server, int64_t now_ms) {
  Locked l(impl_);
  Impl& im = *impl_;
  int i = im.find_origin(server);
  if (i < 0) return;
  OriginEntry& o = im.origins[i];
  o.fails = 0;
  if (o.down_until_ms == 0) return;
  if (Impl::down(o, now_ms)) SP_PINFO("registry: origin %s answered again, no longer down", o.server);
  o.down_until_ms = 0;
  o.down_reason[0] = '\0';
}

namespace {

// Applies a client count change to `s`: the owner's share and the totals
// (see kStreamHolders for the overflow rule).
void count_client(StreamEntry& s, uint32_t owner, Proto proto, pid_t holder, int delta) {
  const int p = int(proto);
  HolderCount* mine = nullptr;
  HolderCount* free_slot = nullptr;
  uint32_t owned = 0;  // by every holder of `proto`
  for (HolderCount& hc : s.holders) {
    if (hc.owner == owner) mine = &hc;
    else if (hc.owner == 0 && !free_slot) free_slot = &hc;
    if (hc.owner != 0 && owner_proto(hc.owner) == p) owned += hc.count;
  }
  if (delta > 0) {
    if (!mine && free_slot) {
      free_slot->count = 0;
      free_slot->owner = owner;
      mine = free_slot;
    }
    if (mine) {
      mine->count += uint32_t(delta);
    } else if (!s.overflowed) {
      s.overflowed = 1;
      SP_PWARN("registry: stream %s has clients in more than %d (process, protocol) owners; the %s clients of "
               "process %d are counted unattributed and a crash of that process will not drop them",
               s.key, kStreamHolders, proto_name(proto), int(holder));
    }
    s.clients[p] += uint32_t(delta);  // totals last: repair() trusts the holders
    return;
  }
  // A decrement: the holder's own count first, then the unattributed rest.
  uint32_t want = uint32_t(-int64_t(delta));
  uint32_t from_mine = mine ? std::min(want, mine->count) : 0;
  uint32_t unattributed = s.clients[p] > owned ? s.clients[p] - owned : 0;
  uint32_t from_rest = std::min(want - from_mine, unattributed);
  s.clients[p] -= from_mine + from_rest;
  if (mine) {
    mine->count -= from_mine;
    if (mine->count == 0) mine->owner = 0;
  }
}

}  // namespace

void Registry::add_client(std::string_view stream_key, Proto proto, int delta, int64_t now_ms, pid_t holder) {
  if (stream_key.empty() || stream_key.size() > kStreamKeyMax) return;
  if (holder <= 0) holder = getpid();
  const uint32_t owner = holder_owner(holder, proto);
  Locked l(impl_);
  int si = impl_->find_stream(stream_key);
  if (si < 0) return;
  StreamEntry& s = impl_->streams.e[si];
  if (now_ms >= 0) s.used_ms = now_ms;
  if (delta != 0) {
    uint64_t before = Impl::stream_weight(s);
    count_client(s, owner, proto, holder, delta);
    impl_->reweigh(uint32_t(si), before);
  }
  // On or off the eviction lists as clients come and go. Without a time the
  // pin keeps its place unless it changes list (a late expiry at worst).
  if (now_ms >= 0 || Impl::list_for(s) != s.list) impl_->stream_used(uint32_t(si));
}

Registry::Dropped Registry::drop_process(pid_t pid, int64_t now_ms) {
  Dropped d;
  if (pid <= 0) return d;
  Locked l(impl_);
  auto& t = impl_->streams;
  for (uint32_t i = 0; i < t.t->slots; i++) {
    StreamEntry& s = t.e[i];
    // Holders never own more than the totals, so a stream without clients has none.
    if (!is_valid(s) || std::all_of(std::begin(s.clients), std::end(s.clients), [](uint32_t c) { return c == 0; })) {
      continue;
    }
    bool held = false;
    const uint64_t before = Impl::stream_weight(s);
    for (HolderCount& hc : s.holders) {
      if (hc.owner == 0 || owner_pid(hc.owner) != (pid & 0xffffff)) continue;
      int p = owner_proto(hc.owner);
      if (p >= 0 && p < kProtoCount) {
        uint32_t n = std::min(hc.count, s.clients[p]);
        s.clients[p] -= n;
        d.clients += n;
      }
      hc = HolderCount{0, 0};
      held = true;
    }
    if (!held) continue;
    impl_->reweigh(i, before);
    d.streams++;
    if (std::all_of(std::begin(s.clients), std::end(s.clients), [](uint32_t c) { return c == 0; })) {
      s.used_ms = now_ms;  // idle from now: expires session_ttl later, like a stream whose last client left
      impl_->stream_used(i);
      d.now_idle++;
    }
  }
  return d;
}

Status Registry::confirm(std::string_view stream_key, std::string_view origin_server, int64_t now_ms) {
  if (Status st = check_stream_key(stream_key); !st.ok()) return st;
  Locked l(impl_);
  Impl& im = *impl_;
  int si = im.find_stream(stream_key);
  if (si >= 0) {
    StreamEntry& s = im.streams.e[si];
    if (origin_server != s.origin_server) {
      // Another client moved the stream meanwhile; its pick stands.
      SP_PWARN("registry: stream %.*s confirmed on origin %.*s but pinned to %s meanwhile; keeping %s",
               int(stream_key.size()), stream_key.data(), int(origin_server.size()), origin_server.data(),
               s.origin_server, s.origin_server);
      return Status::Ok();
    }
    s.pending = 0;
    s.used_ms = now_ms;
    im.stream_used(uint32_t(si));
    return Status::Ok();
  }
  // Evicted or expired while the origin was set up: pin it again so the
  // stream's next clients follow this one.
  int o = im.find_origin(origin_server);
  if (o < 0) {
    return Status::Error(ErrorKind::not_found,
                         "origin " + std::string(origin_server) + " of stream " + std::string(stream_key) + " is gone");
  }
  if (Status s = im.pin(-1, stream_key, o, now_ms, false); !s.ok()) return s;
  SP_PINFO("registry: stream %.*s pinned again to origin %s (its pending pin was evicted)", int(stream_key.size()),
           stream_key.data(), im.origins[o].server);
  return Status::Ok();
}

// ---- the Redis backend's local cache (see registry.h) ----

int Registry::origin_slot(std::string_view server) const {
  Locked l(impl_);
  return impl_->find_origin(server);
}

Status Registry::mirror_origin(const OriginView& v, int64_t now_ms) {
  OriginSpec spec;
  spec.server = v.server;
  spec.service = v.service;
  spec.pid = v.pid;
  spec.device_id = v.device_id;
  spec.ip = v.ip;
  for (int p = 0; p < kProtoCount; p++) spec.endpoints[p] = v.endpoints[p];
  if (Status s = check_origin_spec(spec); !s.ok()) return s;
  OriginEntry fresh = entry_from(spec);
  fresh.heartbeat_ms = now_ms - std::max<int64_t>(0, v.age_ms);
  fresh.registered_ms = fresh.heartbeat_ms;
  fresh.heartbeat_interval_ms = v.heartbeat_interval_ms;
  // Enough heartbeats that the next real one here (if the origin moves to
  // this proxy) keeps learning from the mirrored interval.
  fresh.heartbeats = v.heartbeat_interval_ms > 0 ? 3 : 1;
  fresh.fails = v.fails;
  fresh.fail_window_ms = now_ms;
  fresh.down_until_ms = v.down ? now_ms + std::max<int64_t>(0, v.down_for_ms) : 0;
  copy_str(fresh.down_reason, v.down ? std::string_view(v.down_reason).substr(0, kDownReasonMax) : "");
  fresh.draining = v.draining ? 1 : 0;
  fresh.overloaded = v.overloaded ? 1 : 0;
  fresh.cpu_percent = v.cpu_percent;
  fresh.load_1m = v.load_1m;
  fresh.weight = uint16_t(std::clamp(v.registered_weight, 1, kWeightMax));
  fresh.weight_override = uint16_t(std::clamp(v.weight_override, 0, kWeightMax));

  Locked l(impl_);
  Impl& im = *impl_;
  int slot = im.find_origin(spec.server);
  if (slot >= 0) {
    OriginEntry& cur = im.origins[slot];
    // A heartbeat received here after Redis answered is newer: keep it.
    if (cur.heartbeat_ms > fresh.heartbeat_ms && strcmp(cur.service, fresh.service) == 0 &&
        strcmp(cur.pid, fresh.pid) == 0) {
      fresh.heartbeat_ms = cur.heartbeat_ms;
    }
    fresh.registered_ms = cur.registered_ms;
    keep_measured(fresh, cur);
    publish(cur, fresh);
    return Status::Ok();
  }
  for (uint32_t i = 0; i < im.h->origin_slots; i++) {
    if (im.origins[i].state != kEmpty) continue;
    publish(im.origins[i], fresh);
    im.h->origin_high = std::max(im.h->origin_high, i + 1);
    return Status::Ok();
  }
  return Status::Error(ErrorKind::full, "registry full: " + std::to_string(im.h->origin_slots) + " origins");
}

Status Registry::mirror_pin(std::string_view stream_key, std::string_view origin_server, int64_t now_ms) {
  if (Status st = check_stream_key(stream_key); !st.ok()) return st;
  Locked l(impl_);
  Impl& im = *impl_;
  int o = im.find_origin(origin_server);
  if (o < 0) {
    return Status::Error(ErrorKind::not_found, "origin " + std::string(origin_server) + " of stream " +
                                                   std::string(stream_key) + " is not in the local cache");
  }
  int si = im.find_stream(stream_key);
  if (si >= 0 && origin_server == im.streams.e[si].origin_server) {
    StreamEntry& s = im.streams.e[si];
    s.pending = 0;
    s.used_ms = now_ms;
    im.stream_used(uint32_t(si));
    return Status::Ok();
  }
  return im.pin(si, stream_key, o, now_ms, false);
}

Result<Pick> Registry::pinned(std::string_view stream_key, Proto proto, Proto also, int64_t now_ms) {
  uint32_t needs = (1u << int(proto)) | (1u << int(also));
  if (Status st = check_stream_key(stream_key); !st.ok()) return st;
  Locked l(impl_);
  Impl& im = *impl_;
  int si = im.find_stream(stream_key);
  if (si < 0) {
    return Result<Pick>::Error(ErrorKind::unavailable,
                               "stream \"" + std::string(stream_key) + "\" is not pinned in the local cache");
  }
  StreamEntry& s = im.streams.e[si];
  int o = im.pin_origin(s);
  if (o < 0) {
    return Result<Pick>::Error(ErrorKind::unavailable, "origin " + std::string(s.origin_server) + " of stream \"" +
                                                           std::string(stream_key) + "\" is not in the local cache");
  }
  if (!Impl::serves(im.origins[o], needs)) {
    return Result<Pick>::Error(ErrorKind::unavailable,
                               "stream \"" + std::string(stream_key) + "\" is on origin " + s.origin_server +
                                   ", which has no " + proto_name(proto) +
                                   (also != proto ? std::string(" and ") + proto_name(also) : std::string()) +
                                   " endpoint");
  }
  s.used_ms = now_ms;
  im.stream_used(uint32_t(si));
  return im.make_pick(o, proto, now_ms);
}

Registry::Usage Registry::usage() const {
  Locked l(impl_);
  const Impl& im = *impl_;
  Usage u;
  u.streams = im.streams.t->live;
  u.pending_streams = im.streams.t->lists[kPendingList].count;
  u.idle_streams = im.streams.t->lists[kIdleList].count;
  u.sessions = im.sessions.t->live;
  u.hls_clients = im.sessions.t->lists[kFingerprintList].count;
  u.evicted_streams = im.h->evicted_streams;
  u.evicted_sessions = im.h->evicted_sessions;
  u.rebuilds = im.h->rebuilds;
  return u;
}

std::vector<std::pair<int, std::string>> Registry::origin_ids() const {
  Locked l(impl_);
  std::vector<std::pair<int, std::string>> out;
  for (uint32_t i = 0; i < impl_->h->origin_high; i++) {
    if (is_valid(impl_->origins[i])) out.emplace_back(int(i), impl_->origins[i].server);
  }
  return out;
}

std::vector<OriginView> Registry::origins(int64_t now_ms) const {
  Locked l(impl_);
  impl_->refresh_loads_if_due(now_ms);  // the listing shows the figure picks use now
  const Impl& im = *impl_;
  std::vector<OriginView> out;
  std::unordered_map<std::string, size_t> by_server;
  for (uint32_t i = 0; i < im.h->origin_high; i++) {
    if (!is_valid(im.origins[i])) continue;
    by_server[im.origins[i].server] = out.size();
    out.push_back(im.origin_view(int(i), now_ms));
  }
  for (uint32_t i = 0; i < im.streams.t->slots; i++) {
    const StreamEntry& s = im.streams.e[i];
    if (!is_valid(s)) continue;
    auto it = by_server.find(s.origin_server);
    if (it == by_server.end()) continue;
    out[it->second].streams.push_back(s.key);
    for (uint32_t c : s.clients) out[it->second].clients += c;
  }
  for (OriginView& v : out) std::sort(v.streams.begin(), v.streams.end());
  return out;
}

std::vector<StreamView> Registry::streams(int64_t now_ms) const {
  Locked l(impl_);
  std::vector<StreamView> out;
  const auto& t = impl_->streams;
  for (uint32_t i = 0; i < t.t->slots; i++) {
    const StreamEntry& s = t.e[i];
    if (!is_valid(s)) continue;
    StreamView v;
    v.key = s.key;
    v.origin_server = s.origin_server;
    v.pinned_ms = s.pinned_ms;
    std::copy(std::begin(s.clients), std::end(s.clients), v.clients);
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const StreamView& a, const StreamView& b) { return a.key < b.key; });
  return out;
}

Status Registry::put_session(SessionKind kind, std::string_view id, std::string_view stream_key,
                             std::string_view origin_server, std::string_view data, int64_t now_ms) {
  if (id.empty()) return Status::Error(ErrorKind::bad_input, "empty session id");
  if (id.size() > kSessionIdMax) return too_long("session id", id, kSessionIdMax);
  if (stream_key.size() > kStreamKeyMax) return too_long("stream key", stream_key, kStreamKeyMax);
  if (origin_server.size() > kServerIdMax) return too_long("server id", origin_server, kServerIdMax);
  if (data.size() > kSessionDataMax) {
    return Status::Error(ErrorKind::bad_input, "session data of " + std::to_string(data.size()) +
                                                   " bytes is too long (at most " + std::to_string(kSessionDataMax) +
                                                   ")");
  }
  SessionEntry fresh;
  memset(static_cast<void*>(&fresh), 0, sizeof(fresh));
  fresh.kind = uint8_t(kind);
  fresh.hash = session_hash(kind, id);
  copy_str(fresh.id, id);
  copy_str(fresh.stream_key, stream_key);
  copy_str(fresh.origin_server, origin_server);
  memcpy(fresh.data, data.data(), data.size());
  fresh.data_len = uint16_t(data.size());
  fresh.touched_ms = now_ms;
  fresh.list = kind == SessionKind::hls_client ? kFingerprintList : kSessionList;

  Locked l(impl_);
  auto& t = impl_->sessions;
  int i = impl_->find_session(kind, id);
  if (i >= 0) {
    t.replace(uint32_t(i), fresh);
    return Status::Ok();
  }
  if (Status s = impl_->make_session_room(now_ms); !s.ok()) return s;
  t.insert(fresh);
  impl_->rebuild_if_needed(t);
  return Status::Ok();
}

namespace {

SessionView session_view(const SessionEntry& s, int64_t now) {
  SessionView v;
  v.kind = SessionKind(s.kind);
  v.id = s.id;
  v.stream_key = s.stream_key;
  v.origin_server = s.origin_server;
  v.data.assign(s.data, s.data_len);
  v.age_ms = now - s.touched_ms;
  return v;
}

const char* session_kind_name(SessionKind k) {
  switch (k) {
    case SessionKind::hls: return "hls";
    case SessionKind::rtc: return "rtc";
    case SessionKind::hls_client: return "hls client";
  }
  return "?";
}

}  // namespace

Result<SessionView> Registry::get_session(SessionKind kind, std::string_view id, int64_t now_ms) {
  Locked l(impl_);
  int i = id.size() > kSessionIdMax ? -1 : impl_->find_session(kind, id);
  if (i < 0) {
    return Result<SessionView>::Error(ErrorKind::not_found, std::string("no ") + session_kind_name(kind) +
                                                                " session \"" + std::string(id.substr(0, 80)) + "\"");
  }
  SessionEntry& s = impl_->sessions.e[i];
  SessionView v = session_view(s, now_ms);
  s.touched_ms = now_ms;
  impl_->sessions.relist(uint32_t(i), s.list);
  return v;
}

bool Registry::remove_session(SessionKind kind, std::string_view id) {
  if (id.size() > kSessionIdMax) return false;
  Locked l(impl_);
  int i = impl_->find_session(kind, id);
  if (i < 0) return false;
  impl_->sessions.erase(uint32_t(i));
  return true;
}

std::vector<std::string> Registry::touch_sessions(SessionKind kind, std::span<const std::string> ids,
                                                  int64_t now_ms) {
  std::vector<std::string> gone;
  if (ids.empty()) return gone;
  Locked l(impl_);
  for (const std::string& id : ids) {
    int i = id.size() > kSessionIdMax ? -1 : impl_->find_session(kind, id);
    if (i < 0) {
      gone.push_back(id);
      continue;
    }
    impl_->sessions.e[i].touched_ms = now_ms;
    impl_->sessions.relist(uint32_t(i), impl_->sessions.e[i].list);
  }
  return gone;
}

std::vector<SessionView> Registry::sessions(int64_t now_ms) const {
  Locked l(impl_);
  std::vector<SessionView> out;
  const auto& t = impl_->sessions;
  for (uint32_t i = 0; i < t.t->slots; i++) {
    if (is_valid(t.e[i])) out.push_back(session_view(t.e[i], now_ms));
  }
  return out;
}

void Registry::expire(int64_t now_ms) {
  Locked l(impl_);
  Impl& im = *impl_;
  const int64_t origin_ttl = im.h->origin_ttl_ms, session_ttl = im.h->session_ttl_ms;
  const int64_t pending_ttl = std::min(kPendingTtlMs, session_ttl);

  bool origin_removed = false;
  for (uint32_t i = 0; i < im.h->origin_high; i++) {
    OriginEntry& o = im.origins[i];
    if (!is_valid(o) || now_ms - o.heartbeat_ms < 2 * origin_ttl) continue;
    SP_PINFO("registry: origin %s removed, no heartbeat for %lld s", o.server,
             (long long)((now_ms - o.heartbeat_ms) / 1000));
    store_state(o, kEmpty);
    origin_removed = true;
  }
  while (im.h->origin_high > 0 && im.origins[im.h->origin_high - 1].state == kEmpty) im.h->origin_high--;

  auto& st = im.streams;
  if (origin_removed) {
    // Rare (an origin silent for 2 x origin_ttl), so its pins, clients or
    // not, are found by one scan.
    for (uint32_t i = 0; i < st.t->slots; i++) {
      while (is_valid(st.e[i]) && im.pin_origin(st.e[i]) < 0) im.erase_stream(i);  // erase may move one in
    }
  }
  // The lists are ordered by last use: pop heads until one is young enough.
  auto pop_old = [&](auto& table, uint8_t id, int64_t ttl, auto erase) {
    for (int i = table.head(id); i >= 0 && now_ms - last_use(table.e[i]) >= ttl; i = table.head(id)) erase(uint32_t(i));
  };
  auto erase_pin = [&](uint32_t i) { im.erase_stream(i); };
  auto erase_session = [&](uint32_t i) { im.sessions.erase(i); };
  pop_old(st, kPendingList, pending_ttl, erase_pin);
  pop_old(st, kIdleList, session_ttl, erase_pin);
  pop_old(im.sessions, kFingerprintList, session_ttl, erase_session);
  pop_old(im.sessions, kSessionList, session_ttl, erase_session);

  im.rebuild_if_needed(st);
  im.rebuild_if_needed(im.sessions);
}

void Registry::rebuild_for_test() {
  Locked l(impl_);
  impl_->h->rebuilding = 1;
  impl_->streams.rebuild();
  impl_->sessions.rebuild();
  impl_->h->rebuilding = 0;
  impl_->h->rebuilds += 2;
}

void Registry::lock_and_exit_for_test(int status) {
  impl_->lock();
  // Leave a half-written origin behind, as a crash inside publish() would.
  for (uint32_t i = 0; i < impl_->h->origin_slots; i++) {
    OriginEntry& o = impl_->origins[i];
    if (o.state != kEmpty) continue;
    store_state(o, kWriting);
    copy_str(o.server, "half-written");
    break;
  }
  _exit(status);
}

Status check_origin_spec(const OriginSpec& spec) {
  if (spec.server.empty()) return Status::Error(ErrorKind::bad_input, "origin server id is empty");
  if (spec.server.size() > kServerIdMax) return too_long("server id", spec.server, kServerIdMax);
  if (spec.service.size() > kServiceMax) return too_long("service", spec.service, kServiceMax);
  if (spec.pid.size() > kPidMax) return too_long("pid", spec.pid, kPidMax);
  if (spec.device_id.size() > kDeviceIdMax) return too_long("device_id", spec.device_id, kDeviceIdMax);
  if (spec.ip.size() > kIpMax) return too_long("ip", spec.ip, kIpMax);
  for (int p = 0; p < kProtoCount; p++) {
    if (spec.endpoints[p].size() > size_t(kMaxEndpointsPerProto)) {
      return Status::Error(ErrorKind::bad_input, std::string("too many ") + proto_name(Proto(p)) +
                                                     " endpoints (at most " + std::to_string(kMaxEndpointsPerProto) +
                                                     ")");
    }
    for (const Endpoint& ep : spec.endpoints[p]) {
      if (ep.host.size() > kHostMax) return too_long("endpoint host", ep.host, kHostMax);
      if (ep.host.find_first_of(" /") != std::string::npos) {
        return Status::Error(ErrorKind::bad_input, "bad endpoint host '" + ep.host + "'");
      }
      if (ep.port == 0) return Status::Error(ErrorKind::bad_input, "endpoint port 0");
    }
  }
  return Status::Ok();
}

}  // namespace sp
