// Metrics area, session meter and the Prometheus text exposition: see
// metrics.h.
#include "core/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace sp::metrics {

namespace {

const char* const kProtocolNames[kProtocols] = {"rtmp", "http_flv", "http_ts", "hls", "webrtc", "srt", "api"};
const char* const kEndNames[kEnds] = {"normal",       "client_closed", "origin_closed",
                                      "idle_timeout", "bad_input",     "handshake_failed",
                                      "no_origin",    "origin_connect_failed", "origin_refused",
                                      "stalled",      "shutdown",      "error"};
const char* const kConnectNames[kConnectResults] = {"ok", "refused", "timeout", "reset", "error"};
const char* const kPickNames[kPickResults] = {"sticky", "new", "no_origin", "full", "error"};
const char* const kRegNames[kRegResults] = {"ok", "bad_request", "full", "denied", "error"};
const char* const kRespawnNames[3] = {"crash", "signal", "exit"};
const char* const kStageNames[2] = {"handshake", "request"};
const char* const kDirNames[2] = {"in", "out"};

Area* g_area = nullptr;
Slot* g_local = nullptr;

Slot& fallback_slot() {
  static Slot* s = new Slot();  // never freed: meters may outlive statics at exit
  return *s;
}

bool has(std::string_view s, std::string_view word) { return s.find(word) != std::string_view::npos; }

}  // namespace

const char* protocol_name(Protocol p) { return kProtocolNames[int(p)]; }
const char* end_name(End e) { return kEndNames[int(e)]; }

End classify_end(std::string_view r) {
  if (r.empty() || r == "normal" || r == "done" || r == "complete") return End::normal;
  if (has(r, "worker exiting") || has(r, "shutdown") || has(r, "shutting down")) return End::shutdown;
  if (has(r, "idle")) return End::idle_timeout;
  if (has(r, "handshake")) return End::handshake_failed;
  if (has(r, "no origin") || has(r, "no alive") || has(r, "registry")) return End::no_origin;
  if (has(r, "unreachable") || has(r, "connect_timeout") || has(r, "connect timed out") ||
      has(r, "cannot connect") || has(r, "connect failed") || has(r, "bad origin address")) {
    return End::origin_connect_failed;
  }
  if (has(r, "origin refused") || has(r, "origin status") || has(r, "origin answered")) return End::origin_refused;
  if (has(r, "does not read") || has(r, "stalled") || has(r, "slow")) return End::stalled;
  if (has(r, "malformed") || has(r, "bad ") || has(r, "invalid") || has(r, "over preconnect") ||
      has(r, "before connect") || has(r, "before publish") || has(r, "loop")) {
    return End::bad_input;
  }
  if (has(r, "origin")) return has(r, "closed") || has(r, "reset") || has(r, "EOF") ? End::origin_closed : End::error;
  if (has(r, "client") || has(r, "peer")) {
    return has(r, "closed") || has(r, "reset") || has(r, "gone") || has(r, "EOF") ? End::client_closed : End::error;
  }
  return End::error;
}

ConnectResult connect_result_of(std::string_view why) {
  if (why.empty()) return ConnectResult::ok;
  if (has(why, "refused")) return ConnectResult::refused;
  if (has(why, "timed out") || has(why, "timeout")) return ConnectResult::timeout;
  if (has(why, "reset") || has(why, "closed") || has(why, "Broken pipe")) return ConnectResult::reset;
  return ConnectResult::error;
}

int64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

uint64_t origin_serial(std::string_view server) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : server) h = (h ^ c) * 1099511628211ull;
  return h ? h : 1;
}

// ---- the area ----------------------------------------------------------------

size_t Area::bytes_for(uint32_t slots) { return sizeof(Area) + sizeof(Slot) * (slots - 1); }

uint32_t Area::slots_for(int worker_processes) { return 1 + 3 * uint32_t(worker_processes + 1) + 2; }

Result<Area*> Area::create(uint32_t slots) {
  if (slots < 1) slots = 1;
  size_t bytes = bytes_for(slots);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return Result<Area*>::Error(std::string("metrics: mmap of ") + std::to_string(bytes) + " bytes failed: " +
                                strerror(errno));
  }
  auto* a = static_cast<Area*>(p);  // zero-filled by the kernel: every atomic starts at 0
  a->slot_count = slots;
  return a;
}

int Area::claim() {
  for (uint32_t i = 1; i < slot_count; i++) {
    int32_t free_owner = 0;
    if (slots[i].owner.compare_exchange_strong(free_owner, -1)) return int(i);
  }
  return 0;
}

void Area::set_owner(int slot, pid_t pid) {
  if (slot > 0 && uint32_t(slot) < slot_count) slots[slot].owner.store(int32_t(pid), std::memory_order_release);
}

void Area::add_listener(Protocol p, std::string_view text, const void* sa_ptr) {
  int pi = int(p);
  uint32_t n = listener_count[pi].load();
  auto* sa = static_cast<const sockaddr*>(sa_ptr);
  ListenerLabel l{};
  snprintf(l.text, sizeof l.text, "%.*s", int(text.size()), text.data());
  if (sa && sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    l.family = AF_INET;
    memcpy(l.addr, &in->sin_addr, 4);
    l.port = ntohs(in->sin_port);
    l.wildcard = in->sin_addr.s_addr == htonl(INADDR_ANY);
  } else if (sa && sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    l.family = AF_INET6;
    memcpy(l.addr, &in6->sin6_addr, 16);
    l.port = ntohs(in6->sin6_port);
    l.wildcard = IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
  }
  for (uint32_t i = 0; i < n; i++) {
    const ListenerLabel& e = listeners[pi][i];
    if (strcmp(e.text, l.text) == 0 && e.port == l.port) return;
  }
  if (n >= uint32_t(kListeners)) return;  // counted under the last index
  listeners[pi][n] = l;
  listener_count[pi].store(n + 1);
}

Area* area() { return g_area; }
void set_area(Area* a) {
  g_area = a;
  g_local = a ? &a->slots[0] : nullptr;
}
Slot& local() { return g_local ? *g_local : fallback_slot(); }
void set_local_slot(int slot) {
  if (g_area && slot >= 0 && uint32_t(slot) < g_area->slot_count) g_local = &g_area->slots[slot];
}

namespace {

template <class T, size_t N>
void move_counters(T (&into)[N], T (&from)[N]) {
  for (size_t i = 0; i < N; i++) {
    if constexpr (std::is_array_v<T>) {
      move_counters(into[i], from[i]);
    } else {
      add(into[i], from[i].exchange(0, std::memory_order_relaxed));
    }
  }
}

void zero_origin_group(OriginGroup& g) {
  for (auto& c : g.bytes) c.store(0);
  for (auto& c : g.connects) c.store(0);
  for (auto& c : g.connect_buckets) c.store(0);
  g.connect_us.store(0);
  for (auto& c : g.clients) c.store(0);
}

}  // namespace

void fold_slot(Slot& into, Slot& from, uint64_t (*keep)(void*, int), void* arg) {
  move_counters(into.started, from.started);
  move_counters(into.ended, from.ended);
  move_counters(into.bytes, from.bytes);
  move_counters(into.bad_input, from.bad_input);
  move_counters(into.picks, from.picks);
  move_counters(into.registrations, from.registrations);
  for (int i = 0; i < kOrigins; i++) {
    OriginGroup& f = from.origins[i];
    uint64_t serial = f.serial.load();
    if (serial == 0) continue;
    OriginGroup& t = into.origins[i];
    uint64_t current = keep(arg, i);
    if (serial == current) {
      if (t.serial.load() != current) {
        zero_origin_group(t);
        t.serial.store(current);
      }
      move_counters(t.bytes, f.bytes);
      move_counters(t.connects, f.connects);
      move_counters(t.connect_buckets, f.connect_buckets);
      add(t.connect_us, f.connect_us.exchange(0));
    }
    zero_origin_group(f);
    f.serial.store(0);
  }
}

void zero_gauges(Slot& s) {
  for (auto& row : s.active) {
    for (auto& g : row) g.store(0);
  }
  for (auto& o : s.origins) {
    for (auto& g : o.clients) g.store(0);
  }
}

int listener_of_fd(Protocol p, int fd) {
  if (!g_area || fd < 0) return 0;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  uint16_t port = 0;
  const uint8_t* addr = nullptr;
  size_t alen = 0;
  uint8_t fam = uint8_t(ss.ss_family);
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    port = ntohs(in->sin_port);
    addr = reinterpret_cast<const uint8_t*>(&in->sin_addr);
    alen = 4;
  } else if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    port = ntohs(in6->sin6_port);
    addr = reinterpret_cast<const uint8_t*>(&in6->sin6_addr);
    alen = 16;
  }
  uint32_t n = g_area->listener_count[int(p)].load();
  int wildcard = -1;
  for (uint32_t i = 0; i < n; i++) {
    const ListenerLabel& l = g_area->listeners[int(p)][i];
    if (l.port != port) continue;
    if (l.family == fam && !l.wildcard && memcmp(l.addr, addr, alen) == 0) return int(i);
    if (l.wildcard && wildcard < 0) wildcard = int(i);
  }
  if (wildcard >= 0) return wildcard;
  return n >= uint32_t(kListeners) ? kListeners - 1 : 0;
}

// ---- the session meter ---------------------------------------------------------

void SessionMeter::begin(Protocol p, int listener) {
  if (begun_) return;
  begun_ = true;
  proto_ = p;
  listener_ = listener < 0 ? 0 : listener >= kListeners ? kListeners - 1 : listener;
  Slot& s = local();
  add(s.started[int(p)][listener_], 1);
  add(s.active[int(p)][listener_], 1);
}

OriginGroup* SessionMeter::group(int registry_slot, uint64_t serial) {
  if (registry_slot < 0 || registry_slot >= kOrigins) return nullptr;
  OriginGroup& g = local().origins[registry_slot];
  uint64_t cur = g.serial.load(std::memory_order_relaxed);
  if (cur != serial) {
    // The registry slot now holds another origin: its figures start afresh.
    zero_origin_group(g);
    g.serial.store(serial, std::memory_order_relaxed);
  }
  return &g;
}

void SessionMeter::set_origin(int registry_slot, std::string_view server) {
  if (og_ && counted_client_ && og_->serial.load() == og_serial_) add(og_->clients[int(proto_)], -1);
  counted_client_ = false;
  og_serial_ = origin_serial(server);
  og_ = group(registry_slot, og_serial_);
  if (og_ && begun_) {
    add(og_->clients[int(proto_)], 1);
    counted_client_ = true;
  }
}

void SessionMeter::origin_connect(ConnectResult r, int64_t micros) {
  if (!og_) return;
  add(og_->connects[int(r)], 1);
  if (r != ConnectResult::ok) return;
  if (micros < 0) micros = 0;
  double secs = double(micros) / 1e6;
  int b = 0;
  while (b < kBuckets - 1 && secs > kBucketBounds[b]) b++;
  add(og_->connect_buckets[b], 1);
  add(og_->connect_us, uint64_t(micros));
}

void SessionMeter::bad_input(Stage st) {
  add(local().bad_input[int(proto_)][listener_][int(st)], 1);
}

void SessionMeter::end(End reason) {
  if (!begun_) return;
  begun_ = false;
  Slot& s = local();
  add(s.active[int(proto_)][listener_], -1);
  add(s.ended[int(proto_)][listener_][int(reason)], 1);
  if (og_ && counted_client_ && og_->serial.load(std::memory_order_relaxed) == og_serial_) {
    add(og_->clients[int(proto_)], -1);
  }
  counted_client_ = false;
  og_ = nullptr;
}

void count_pick(PickResult r) { add(local().picks[int(r)], 1); }
void count_bad_input(Protocol p, int listener, Stage st) { add(local().bad_input[int(p)][listener][int(st)], 1); }
void count_registration(RegResult r) { add(local().registrations[int(r)], 1); }

// ---- exposition -------------------------------------------------------------------

void escape_label(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

namespace {

// Sums one figure over the retired accumulator and every slot.
struct Summer {
  const Area* a;
  const Slot* local;  // without an area: this process's slot
  template <class F>
  int64_t sum(F f) const {
    if (!a) return int64_t(f(*local));
    int64_t t = int64_t(f(a->retired));
    for (uint32_t i = 0; i < a->slot_count; i++) t += int64_t(f(a->slots[i]));
    return t;
  }
  // Per-origin: only groups counting the origin now in the slot.
  template <class F>
  int64_t sum_origin(int i, uint64_t serial, F f) const {
    auto one = [&](const Slot& s) -> int64_t {
      const OriginGroup& g = s.origins[i];
      return g.serial.load(std::memory_order_relaxed) == serial ? int64_t(f(g)) : 0;
    };
    if (!a) return one(*local);
    int64_t t = one(a->retired);
    for (uint32_t k = 0; k < a->slot_count; k++) t += one(a->slots[k]);
    return t;
  }
};

}  // namespace

uint64_t origin_bytes(const Area* a, int registry_slot, std::string_view server) {
  if (registry_slot < 0 || registry_slot >= kOrigins) return 0;
  Summer sum{a, &local()};
  return uint64_t(sum.sum_origin(registry_slot, origin_serial(server),
                                 [](const OriginGroup& g) { return get(g.bytes[0]) + get(g.bytes[1]); }));
}

namespace {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void head(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // name{k="v",...} value
  void sample(const char* name, std::initializer_list<std::pair<const char*, std::string_view>> labels, double v) {
    out_ += name;
    if (labels.size()) {
      out_ += '{';
      bool first = true;
      for (auto& [k, val] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        escape_label(out_, val);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    char buf[64];
    if (v == double(int64_t(v))) snprintf(buf, sizeof buf, "%" PRId64, int64_t(v));
    else snprintf(buf, sizeof buf, "%.6f", v);
    out_ += buf;
    out_ += '\n';
  }

 private:
  std::string& out_;
};

std::string listener_text(const Area* a, int p, int l) {
  if (!a) return l == 0 ? "-" : "other";
  uint32_t n = a->listener_count[p].load();
  if (uint32_t(l) < n) return a->listeners[p][l].text;
  return l == 0 ? "-" : "other";
}

}  // namespace

std::string exposition(const Area* a, const ExpoInput& in) {
  std::string out;
  out.reserve(16384);
  Writer w(out);
  Summer s{a, a ? nullptr : &local()};

  // Which (protocol, listener) pairs to show: every labelled listener, plus
  // any pair with figures (an overflow index).
  auto pairs = [&](auto body) {
    for (int p = 0; p < kProtocols; p++) {
      uint32_t n = a ? a->listener_count[p].load() : 0;
      for (int l = 0; l < kListeners; l++) {
        bool labelled = uint32_t(l) < n;
        if (!labelled && s.sum([&](const Slot& x) { return get(x.started[p][l]); }) == 0) continue;
        std::string lt = listener_text(a, p, l);
        body(p, l, lt);
      }
    }
  };

  w.head("srsproxy_sessions_active", "gauge", "Client sessions open now.");
  pairs([&](int p, int l, const std::string& lt) {
    w.sample("srsproxy_sessions_active", {{"protocol", kProtocolNames[p]}, {"listener", lt}},
             double(s.sum([&](const Slot& x) { return get(x.active[p][l]); })));
  });
  w.head("srsproxy_sessions_started_total", "counter", "Client sessions started.");
  pairs([&](int p, int l, const std::string& lt) {
    w.sample("srsproxy_sessions_started_total", {{"protocol", kProtocolNames[p]}, {"listener", lt}},
             double(s.sum([&](const Slot& x) { return get(x.started[p][l]); })));
  });
  w.head("srsproxy_sessions_ended_total", "counter", "Client sessions ended, by end reason.");
  pairs([&](int p, int l, const std::string& lt) {
    for (int e = 0; e < kEnds; e++) {
      w.sample("srsproxy_sessions_ended_total",
               {{"protocol", kProtocolNames[p]}, {"listener", lt}, {"reason", kEndNames[e]}},
               double(s.sum([&](const Slot& x) { return get(x.ended[p][l][e]); })));
    }
  });
  w.head("srsproxy_client_bytes_total", "counter", "Bytes from (in) and to (out) clients.");
  pairs([&](int p, int l, const std::string& lt) {
    for (int d = 0; d < 2; d++) {
      w.sample("srsproxy_client_bytes_total",
               {{"protocol", kProtocolNames[p]}, {"listener", lt}, {"direction", kDirNames[d]}},
               double(s.sum([&](const Slot& x) { return get(x.bytes[p][l][d]); })));
    }
  });
  w.head("srsproxy_bad_input_closes_total", "counter", "Sessions closed for bad input, by stage.");
  pairs([&](int p, int l, const std::string& lt) {
    for (int st = 0; st < 2; st++) {
      w.sample("srsproxy_bad_input_closes_total",
               {{"protocol", kProtocolNames[p]}, {"listener", lt}, {"stage", kStageNames[st]}},
               double(s.sum([&](const Slot& x) { return get(x.bad_input[p][l][st]); })));
    }
  });

  // Per origin.
  struct O {
    const OriginInfo* info;
    uint64_t serial;
  };
  std::vector<O> os;
  for (const OriginInfo& o : in.origins) os.push_back(O{&o, origin_serial(o.server)});
  auto counted = [](const O& o) { return o.info->slot >= 0 && o.info->slot < kOrigins; };

  w.head("srsproxy_origin_clients", "gauge", "Clients relayed to each origin now, by protocol.");
  for (const O& o : os) {
    for (int p = 0; p < kProtocols; p++) {
      int64_t v = counted(o) ? s.sum_origin(o.info->slot, o.serial, [&](const OriginGroup& g) { return get(g.clients[p]); }) : 0;
      w.sample("srsproxy_origin_clients", {{"origin", o.info->server}, {"protocol", kProtocolNames[p]}}, double(v));
    }
  }
  w.head("srsproxy_origin_bytes_total", "counter", "Bytes from (in) and to (out) each origin.");
  for (const O& o : os) {
    for (int d = 0; d < 2; d++) {
      int64_t v = counted(o) ? s.sum_origin(o.info->slot, o.serial, [&](const OriginGroup& g) { return get(g.bytes[d]); }) : 0;
      w.sample("srsproxy_origin_bytes_total", {{"origin", o.info->server}, {"direction", kDirNames[d]}}, double(v));
    }
  }
  w.head("srsproxy_origin_connects_total", "counter", "Connects to each origin, by result.");
  for (const O& o : os) {
    for (int r = 0; r < kConnectResults; r++) {
      int64_t v = counted(o) ? s.sum_origin(o.info->slot, o.serial, [&](const OriginGroup& g) { return get(g.connects[r]); }) : 0;
      w.sample("srsproxy_origin_connects_total", {{"origin", o.info->server}, {"result", kConnectNames[r]}}, double(v));
    }
  }
  w.head("srsproxy_origin_connect_seconds", "histogram", "Time to connect to each origin (successful connects).");
  for (const O& o : os) {
    int64_t cumulative = 0;
    char le[32];
    for (int b = 0; b < kBuckets; b++) {
      if (counted(o)) {
        cumulative += s.sum_origin(o.info->slot, o.serial, [&](const OriginGroup& g) { return get(g.connect_buckets[b]); });
      }
      if (b < kBuckets - 1) snprintf(le, sizeof le, "%g", kBucketBounds[b]);
      else snprintf(le, sizeof le, "+Inf");
      w.sample("srsproxy_origin_connect_seconds_bucket", {{"origin", o.info->server}, {"le", le}}, double(cumulative));
    }
    int64_t us = counted(o) ? s.sum_origin(o.info->slot, o.serial, [&](const OriginGroup& g) { return get(g.connect_us); }) : 0;
    w.sample("srsproxy_origin_connect_seconds_sum", {{"origin", o.info->server}}, double(us) / 1e6);
    w.sample("srsproxy_origin_connect_seconds_count", {{"origin", o.info->server}}, double(cumulative));
  }
  // One state per origin, the first that holds: down (no heartbeat or passive
  // health), draining, overloaded, alive (gets new streams).
  w.head("srsproxy_origin_up", "gauge", "1 for the state each origin is in (alive: gets new streams).");
  for (const O& o : os) {
    const OriginInfo& i = *o.info;
    const char* state = !i.alive ? "down" : i.draining ? "draining" : i.overloaded ? "overloaded" : "alive";
    for (const char* st : {"alive", "down", "draining", "overloaded"}) {
      w.sample("srsproxy_origin_up", {{"origin", i.server}, {"state", st}}, strcmp(st, state) == 0 ? 1 : 0);
    }
  }
  w.head("srsproxy_origin_heartbeat_age_seconds", "gauge", "Seconds since each origin's last heartbeat.");
  for (const O& o : os) {
    w.sample("srsproxy_origin_heartbeat_age_seconds", {{"origin", o.info->server}}, o.info->heartbeat_age_s);
  }

  // Registry.
  w.head("srsproxy_registry_entries", "gauge", "Entries used per registry table (this host's table).");
  for (const auto& t : in.registry.tables) w.sample("srsproxy_registry_entries", {{"table", t.name}}, double(t.entries));
  w.head("srsproxy_registry_capacity", "gauge", "Capacity per registry table (this host's table).");
  for (const auto& t : in.registry.tables) w.sample("srsproxy_registry_capacity", {{"table", t.name}}, double(t.capacity));
  w.head("srsproxy_registry_picks_total", "counter", "Origin picks for streams, by result.");
  for (int r = 0; r < kPickResults; r++) {
    w.sample("srsproxy_registry_picks_total", {{"result", kPickNames[r]}},
             double(s.sum([&](const Slot& x) { return get(x.picks[r]); })));
  }
  w.head("srsproxy_registrations_total", "counter", "Origin registrations and heartbeats, by result.");
  for (int r = 0; r < kRegResults; r++) {
    w.sample("srsproxy_registrations_total", {{"result", kRegNames[r]}},
             double(s.sum([&](const Slot& x) { return get(x.registrations[r]); })));
  }

  // Process.
  const MasterBlock* m = a ? &a->master : nullptr;
  w.head("srsproxy_reloads_total", "counter", "Configuration reloads done.");
  w.sample("srsproxy_reloads_total", {}, m ? double(get(m->reloads)) : 0);
  w.head("srsproxy_worker_respawns_total", "counter", "Workers respawned after dying unasked, by how they died.");
  for (int r = 0; r < 3; r++) {
    w.sample("srsproxy_worker_respawns_total", {{"reason", kRespawnNames[r]}}, m ? double(get(m->respawns[r])) : 0);
  }
  w.head("srsproxy_config_generation", "gauge", "Configuration generation now served (1 at start, +1 per reload).");
  w.sample("srsproxy_config_generation", {}, m ? double(get(m->generation)) : 0);
  w.head("srsproxy_build_info", "gauge", "Always 1; the labels say the build.");
  if (in.commit.empty()) w.sample("srsproxy_build_info", {{"version", in.version}}, 1);
  else w.sample("srsproxy_build_info", {{"version", in.version}, {"commit", in.commit}}, 1);
  w.head("srsproxy_start_time_seconds", "gauge", "Start time of the proxy (master), Unix seconds.");
  w.sample("srsproxy_start_time_seconds", {}, m ? double(get(m->start_unix_ms) / 1000) : 0);

  if (in.cluster.present) {
    const ClusterFigures& c = in.cluster;
    w.head("srsproxy_proxy_info", "gauge", "Always 1; the proxy label is this proxy's id in Redis.");
    w.sample("srsproxy_proxy_info", {{"proxy", c.proxy_id}}, 1);
    // Every proxy reports the same cluster view: take max() over proxies,
    // never sum() (sum the srsproxy_* series instead).
    w.head("srsproxy_cluster_streams", "gauge", "Streams pinned in the shared registry (cluster view: take max()).");
    w.sample("srsproxy_cluster_streams", {{"scope", "cluster"}}, double(c.streams));
    w.head("srsproxy_cluster_origins", "gauge", "Origins in the shared registry (cluster view: take max()).");
    w.sample("srsproxy_cluster_origins", {{"scope", "cluster"}, {"state", "alive"}}, double(c.origins_alive));
    w.sample("srsproxy_cluster_origins", {{"scope", "cluster"}, {"state", "down"}}, double(c.origins - c.origins_alive));
    w.head("srsproxy_cluster_origin_clients", "gauge",
           "Clients per origin and protocol summed over every proxy (cluster view: take max()).");
    for (const auto& oc : c.origin_clients) {
      for (int p = 0; p < kProtocols; p++) {
        w.sample("srsproxy_cluster_origin_clients",
                 {{"scope", "cluster"}, {"origin", oc.server}, {"protocol", kProtocolNames[p]}}, double(oc.clients[p]));
      }
    }
  }
  return out;
}

}  // namespace sp::metrics
