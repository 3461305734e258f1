// The WebRTC UDP relay: see udp_relay.h for the design (how a session's
// packets reach its owner worker, and the hot path).
#include "rtc/udp_relay.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <span>
#include <string>
#include <unordered_map>

#include "core/access_log.h"
#include "core/clock.h"
#include "core/deferred_free.h"
#include "core/event_ptr.h"
#include "core/unique_fd.h"
#include "core/log.h"
#include "module/module.h"
#include "rtc/webrtc_conf.h"
#include "rtc/signaling.h"
#include "rtc/stun.h"

namespace sp {

namespace {

constexpr int kBatch = 32;             // datagrams per recvmmsg/sendmmsg
constexpr size_t kSlotBytes = 2048;    // largest datagram relayed; bigger ones are dropped
constexpr int kRoundsPerWakeup = 8;    // batches per readiness event, then back to the loop
constexpr int kMaxPaths = 4;           // client addresses per session (candidates, NAT rebinding)
constexpr int kTxRing = 16;            // binding-request transaction ids remembered per session
constexpr int64_t kTickMs = 1000;
constexpr int64_t kPathIdleMs = 15 * 1000;  // an inactive extra path is closed after this
constexpr uint32_t kForwardMagic = 0x53505243;  // "SPRC"
// Kernel buffers of a session's sockets: room for a keyframe burst while the
// worker is busy elsewhere (the default ~200 KB holds under 100 full-size
// datagrams). Bounded per session; capped by net.core.[rw]mem_max.
constexpr int kSocketBufferBytes = 1 << 20;

// A client address as a hash-map key without allocating.
struct AddrKey {
  uint8_t bytes[sizeof(sockaddr_in6)] = {};
  bool operator==(const AddrKey&) const = default;
};
AddrKey addr_key(const SockAddr& a) {
  AddrKey k;
  if (a.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a.ss);
    memcpy(k.bytes, &v4->sin_family, sizeof(v4->sin_family));
    memcpy(k.bytes + 2, &v4->sin_port, 2);
    memcpy(k.bytes + 4, &v4->sin_addr, 4);
  } else if (a.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a.ss);
    memcpy(k.bytes, &v6->sin6_family, sizeof(v6->sin6_family));
    memcpy(k.bytes + 2, &v6->sin6_port, 2);
    memcpy(k.bytes + 4, &v6->sin6_addr, 16);
  }
  return k;
}
struct AddrKeyHash {
  size_t operator()(const AddrKey& k) const {
    uint64_t h = 1469598103934665603ull;
    for (uint8_t b : k.bytes) h = (h ^ b) * 1099511628211ull;
    return size_t(h);
  }
};

// Per-worker datagram buffers, shared by every socket (one thread).
struct Batch {
  uint8_t data[kBatch][kSlotBytes];
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  sockaddr_storage addrs[kBatch];
  alignas(cmsghdr) uint8_t ctrl[kBatch][128];
  mmsghdr out[kBatch];

  // Readies msgs[] for recvmmsg (it overwrites lengths and flags).
  void prepare(bool with_addr, bool with_ctrl) {
    for (int i = 0; i < kBatch; i++) {
      iov[i] = {data[i], kSlotBytes};
      msghdr& h = msgs[i].msg_hdr;
      h = {};
      h.msg_iov = &iov[i];
      h.msg_iovlen = 1;
      if (with_addr) {
        h.msg_name = &addrs[i];
        h.msg_namelen = sizeof(addrs[i]);
      }
      if (with_ctrl) {
        h.msg_control = ctrl[i];
        h.msg_controllen = sizeof(ctrl[i]);
      }
      msgs[i].msg_len = 0;
    }
  }
  // Adds datagram i, `len` bytes, to the outgoing list at position n.
  void queue(int n, int i, size_t len) {
    iov[i].iov_len = len;
    out[n] = {};
    out[n].msg_hdr.msg_iov = &iov[i];
    out[n].msg_hdr.msg_iovlen = 1;
  }
};

bool is_stun_byte(uint8_t b) { return b < 4; }  // RFC 7983

// Header of a binding request handed to the owner worker.
struct ForwardHeader {
  uint32_t magic;
  uint32_t client_len, local_len;
  sockaddr_storage client, local;
};

sockaddr_un abstract_addr(const std::string& name, socklen_t* len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  size_t n = std::min(name.size(), sizeof(a.sun_path) - 1);
  memcpy(a.sun_path + 1, name.data(), n);  // sun_path[0] = 0: abstract namespace
  *len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + n);
  return a;
}

// The local address a datagram was sent to, from IP_PKTINFO/IPV6_PKTINFO,
// with the listener's port; the listener's address when absent.
SockAddr local_address(const msghdr& h, const SockAddr& listener) {
  SockAddr local = listener;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && listener.family() == AF_INET) {
      in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      reinterpret_cast<sockaddr_in*>(&local.ss)->sin_addr = pi.ipi_addr;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && listener.family() == AF_INET6) {
      in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      reinterpret_cast<sockaddr_in6*>(&local.ss)->sin6_addr = pi.ipi6_addr;
    }
  }
  return local;
}

// A UDP socket bound to the listener's address and port and connected to one
// client: the kernel then steers that client's datagrams to it (udp_relay.h).
void set_buffers(int fd) {
  int bytes = kSocketBufferBytes;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

Result<UniqueFd> open_path_socket(const SockAddr& local, const SockAddr& client) {
  UniqueFd fd(::socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Result<UniqueFd>::Error(std::string("socket: ") + strerror(errno));
  set_buffers(fd.get());
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (local.family() == AF_INET6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (::bind(fd.get(), local.sa(), local.len) != 0) {
    return Result<UniqueFd>::Error("bind " + local.to_string() + ": " + strerror(errno));
  }
  if (::connect(fd.get(), client.sa(), client.len) != 0) {
    return Result<UniqueFd>::Error("connect " + client.to_string() + ": " + strerror(errno));
  }
  return fd;
}

Result<UniqueFd> open_origin_socket(const SockAddr& origin) {
  UniqueFd fd(::socket(origin.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Result<UniqueFd>::Error(std::string("socket: ") + strerror(errno));
  set_buffers(fd.get());
  if (::connect(fd.get(), origin.sa(), origin.len) != 0) {
    return Result<UniqueFd>::Error("connect " + origin.to_string() + ": " + strerror(errno));
  }
  return fd;
}

}  // namespace

struct Session;

// One client address of a session, with its connected socket.
struct Path {
  Session* session = nullptr;
  int index = 0;
  SockAddr client, local;
  int64_t last_ms = 0;
  UniqueFd fd;
  EventPtr ev;  // after fd: freed first
};

struct Session {
  UdpRelay::Impl* relay = nullptr;
  std::string ctx, id, key, origin_server, pwd;
  SockAddr origin;
  int64_t start_ms = 0, last_client_ms = 0;
  uint64_t bytes_up = 0, bytes_down = 0, packets_up = 0, packets_down = 0;
  metrics::SessionMeter meter;  // core/metrics.h: from create_session() to end_session()
  std::unique_ptr<Path> paths[kMaxPaths];
  int active = -1;  // path origin traffic goes to
  struct Tx {
    uint8_t id[12];
    int8_t path;
  } tx[kTxRing] = {};
  int tx_next = 0;
  bool dead = false;
  UniqueFd origin_fd, claim_fd;
  EventPtr origin_ev, claim_ev;  // after the fds: freed first

  void remember_tx(const uint8_t* stun, int path) {
    memcpy(tx[tx_next].id, stun + 8, 12);
    tx[tx_next].path = int8_t(path);
    tx_next = (tx_next + 1) % kTxRing;
  }
  Path* path_for_tx(const uint8_t* stun) {
    for (const Tx& t : tx) {
      if (t.path >= 0 && memcmp(t.id, stun + 8, 12) == 0 && paths[t.path]) return paths[t.path].get();
    }
    return nullptr;
  }
  Path* active_path() { return active >= 0 ? paths[active].get() : nullptr; }
};

struct ListenSock {
  UdpRelay::Impl* relay = nullptr;
  SockAddr addr;
  UniqueFd fd;
  EventPtr ev;
};

// A binding request held while its session is looked up in the registry.
struct HeldRequest {
  std::string id;
  std::vector<uint8_t> pkt;
  SockAddr src, local;
  bool forwarded = false;
};

// A look-up waiting for the registry's answer (udp_relay.h).
struct Lookup {
  SockAddr src;
  int64_t start_ms = 0;
  RegistryCall call;  // dropping it cancels the answer
};

struct UdpRelay::Impl {
  event_base* base;
  const Config& conf;
  RegistryClient& registry;
  ConnectionLimiter& limiter;
  Counters counters;
  uint64_t claim_inode = 0;
  bool accepting = false;
  std::unique_ptr<Batch> batch = std::make_unique<Batch>();
  std::vector<std::unique_ptr<ListenSock>> listeners;
  UniqueFd forward_fd;  // unbound Unix socket to reach owners
  std::unordered_map<std::string, std::unique_ptr<Session>> sessions;
  std::unordered_map<AddrKey, Path*, AddrKeyHash> by_client;
  // Sessions and paths ended in a callback; freed on the next loop iteration
  // (or the next tick, or with the relay).
  DeferredFree graveyard;
  // Session look-ups waiting for the registry, by session id, and the client
  // address each waits for (its further datagrams are dropped meanwhile).
  std::unordered_map<std::string, Lookup> lookups;
  std::unordered_map<AddrKey, std::string, AddrKeyHash> waiting_clients;
  RegistryCall touch_call;  // the tick's refresh of this worker's sessions, while it waits
  // Datagrams found on a new path socket before connect() narrowed it.
  std::vector<std::pair<SockAddr, std::vector<uint8_t>>> strays;
  SockAddr stray_local;
  int64_t last_warn_ms = 0;
  EventPtr tick;

  Impl(event_base* b, const Config& c, RegistryClient& r, ConnectionLimiter& l)
      : base(b), conf(c), registry(r), limiter(l), graveyard(b) {}

  ~Impl() {
    // Answers still on their way are never delivered (RegistryCall).
    touch_call.reset();
    lookups.clear();
    waiting_clients.clear();
    std::vector<Session*> all;
    for (auto& [id, s] : sessions) all.push_back(s.get());
    for (Session* s : all) end_session(s, "worker exit", false);
    graveyard.flush();
  }

  // ---- logging of dropped input: once a second at most, with the peer ----
  void warn_drop(uint64_t* counter, const SockAddr& peer, const char* what) {
    (*counter)++;
    int64_t now = monotonic_ms();
    if (now - last_warn_ms < 1000) return;
    last_warn_ms = now;
    SP_WARN(log::process_context(), "webrtc: dropped %s from %s (totals: not-stun %llu, bad-stun %llu, "
            "unknown-username %llu, bad-integrity %llu, oversized %llu, waiting-for-registry %llu, "
            "look-ups refused %llu, failed %llu)", what, peer.to_string().c_str(),
            (unsigned long long)counters.not_stun, (unsigned long long)counters.bad_stun,
            (unsigned long long)counters.unknown_username, (unsigned long long)counters.bad_integrity,
            (unsigned long long)counters.oversized, (unsigned long long)counters.waiting_drops,
            (unsigned long long)counters.lookup_refused, (unsigned long long)counters.lookup_failed);
  }

  // ---- start / stop ----
  Status start(const std::vector<int>& fds) {
    for (int fd : fds) {
      auto l = std::make_unique<ListenSock>();
      l->relay = this;
      l->fd = UniqueFd(fcntl(fd, F_DUPFD_CLOEXEC, 0));
      if (l->fd.get() < 0) return Status::Error(std::string("webrtc: dup of listener failed: ") + strerror(errno));
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      getsockname(l->fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
      l->addr = SockAddr::from(reinterpret_cast<sockaddr*>(&ss), len);
      int one = 1;
      // The listener is shared by all workers; these only add information.
      if (l->addr.family() == AF_INET) setsockopt(l->fd.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
      if (l->addr.family() == AF_INET6) setsockopt(l->fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
      // Path sockets bind the same address and port; UDP allows it when both
      // sides set SO_REUSEADDR. The master binds the listener without it, so
      // another process cannot share the port; now that it is ours, set it.
      setsockopt(l->fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (claim_inode == 0) {
        struct stat st{};
        fstat(l->fd.get(), &st);
        claim_inode = uint64_t(st.st_ino);
      }
      l->ev.reset(event_new(base, l->fd.get(), EV_READ | EV_PERSIST, on_listener_readable, l.get()));
      event_add(l->ev.get(), nullptr);
      listeners.push_back(std::move(l));
    }
    forward_fd = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    tick.reset(event_new(base, -1, EV_PERSIST, on_tick, this));
    timeval tv = ms_to_timeval(kTickMs);
    event_add(tick.get(), &tv);
    accepting = !listeners.empty();
    return Status::Ok();
  }

  void stop_accepting() {
    accepting = false;
    listeners.clear();  // events first (member order), then our dup of the socket
  }

  // ---- listener: only session starts, strays and NAT rebinding land here ----
  static void on_listener_readable(evutil_socket_t, short, void* arg) {
    auto* l = static_cast<ListenSock*>(arg);
    l->relay->read_listener(l);
  }

  void read_listener(ListenSock* l) {
    Batch& b = *batch;
    for (int round = 0; round < kRoundsPerWakeup; round++) {
      b.prepare(true, true);
      int n = recvmmsg(l->fd.get(), b.msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      for (int i = 0; i < n; i++) {
        const msghdr& h = b.msgs[i].msg_hdr;
        SockAddr src = SockAddr::from(reinterpret_cast<sockaddr*>(&b.addrs[i]), h.msg_namelen);
        SockAddr local = local_address(h, l->addr);
        bool truncated = (h.msg_flags & MSG_TRUNC) != 0;
        on_datagram(std::span<const uint8_t>(b.data[i], b.msgs[i].msg_len), src, local, truncated, false);
      }
      if (n < kBatch) break;
    }
    handle_strays();
  }

  void handle_strays() {
    while (!strays.empty()) {
      auto [src, bytes] = std::move(strays.back());
      strays.pop_back();
      on_datagram(bytes, src, stray_local, false, false);
    }
  }

  // A datagram that did not arrive on a session's own socket.
  void on_datagram(std::span<const uint8_t> pkt, const SockAddr& src, const SockAddr& local, bool truncated,
                   bool forwarded) {
    if (truncated) return warn_drop(&counters.oversized, src, "an oversized datagram");
    auto known = by_client.find(addr_key(src));
    if (known != by_client.end()) {
      // Sent before the path socket existed (or a racing retransmit).
      Path* p = known->second;
      relay_up_one(p->session, p, pkt);
      return;
    }
    if (!waiting_clients.empty() && waiting_clients.count(addr_key(src))) {
      return warn_drop(&counters.waiting_drops, src, "a datagram while its session is looked up in the registry");
    }
    if (pkt.empty() || !is_stun_byte(pkt[0])) return warn_drop(&counters.not_stun, src, "a non-STUN datagram");
    auto msg = parse_stun(pkt);
    if (!msg.ok()) return warn_drop(&counters.bad_stun, src, ("bad STUN (" + msg.error() + ")").c_str());
    if (!msg->is_binding_request() || !msg->has_username || msg->username.empty()) {
      return warn_drop(&counters.bad_stun, src, "STUN that is not a binding request with USERNAME");
    }
    on_binding_request(pkt, *msg, src, local, forwarded);
  }

  void on_binding_request(std::span<const uint8_t> pkt, const StunMessage& msg, const SockAddr& src,
                          const SockAddr& local, bool forwarded) {
    std::string id(msg.username);
    auto it = sessions.find(id);
    if (it != sessions.end()) {
      Session* s = it->second.get();
      if (!s->pwd.empty() && !stun_integrity_matches(pkt, msg, s->pwd)) {
        return warn_drop(&counters.bad_integrity, src, "a binding request with wrong MESSAGE-INTEGRITY");
      }
      Path* p = add_path(s, src, local);
      if (p) relay_up_one(s, p, pkt);
      return;
    }
    if (lookups.count(id)) {
      return warn_drop(&counters.waiting_drops, src,
                       "a binding request while its session is looked up in the registry");
    }
    if (lookups.size() >= UdpRelay::kMaxLookups) {
      return warn_drop(&counters.lookup_refused, src, "a binding request: too many session look-ups in flight");
    }
    start_lookup(id, pkt, src, local, forwarded);
  }

  // Asks the registry for session `id`. The memory backend answers before
  // get_session returns; otherwise the request waits in `lookups`.
  void start_lookup(const std::string& id, std::span<const uint8_t> pkt, const SockAddr& src, const SockAddr& local,
                    bool forwarded) {
    int64_t now = monotonic_ms();
    auto held = std::make_shared<HeldRequest>(HeldRequest{id, {pkt.begin(), pkt.end()}, src, local, forwarded});
    RegistryCall call = registry.get_session(SessionKind::rtc, id, now, [this, held](Result<SessionView> rec) {
      on_lookup_done(*held, std::move(rec));
    });
    if (!call.pending()) return;  // answered already
    Lookup& l = lookups[id];
    l.src = src;
    l.start_ms = now;
    l.call = std::move(call);
    waiting_clients[addr_key(src)] = id;
    counters.lookup_waits++;
  }

  // Forgets the look-up of `h` (if it waited); true if it did.
  bool end_lookup(const HeldRequest& h) {
    auto it = lookups.find(h.id);
    if (it == lookups.end()) return false;
    auto w = waiting_clients.find(addr_key(it->second.src));
    if (w != waiting_clients.end() && w->second == h.id) waiting_clients.erase(w);
    lookups.erase(it);  // the answer is being delivered: dropping its call is harmless
    return true;
  }

  void on_lookup_done(const HeldRequest& h, Result<SessionView> rec) {
    bool waited = end_lookup(h);
    if (!rec.ok()) {
      if (rec.kind() == ErrorKind::not_found) {
        return warn_drop(&counters.unknown_username, h.src, "a binding request for an unknown session");
      }
      std::string what = "a binding request for session " + h.id + ": registry look-up failed (" +
                         error_kind_name(rec.kind()) + ": " + rec.error() + ")";
      return warn_drop(&counters.lookup_failed, h.src, what.c_str());
    }
    auto msg = parse_stun(h.pkt);
    if (!msg.ok()) return;  // parsed before; cannot happen
    if (sessions.count(h.id)) {
      on_binding_request(h.pkt, *msg, h.src, h.local, h.forwarded);
    } else {
      on_session_record(h.id, h.pkt, *msg, *rec, h.src, h.local, h.forwarded);
    }
    // From the registry's own event: datagrams a new path socket collected
    // are handled here (a listener read handles them itself).
    if (waited) handle_strays();
  }

  // The registry's record of session `id` for a binding request of it.
  void on_session_record(const std::string& id, std::span<const uint8_t> pkt, const StunMessage& msg,
                         const SessionView& rec, const SockAddr& src, const SockAddr& local, bool forwarded) {
    int64_t now = monotonic_ms();
    auto data = decode_rtc_session_data(rec.data);
    if (!data.ok()) return warn_drop(&counters.unknown_username, src, data.error().c_str());
    if (!data->answer_pwd.empty() && !stun_integrity_matches(pkt, msg, data->answer_pwd)) {
      return warn_drop(&counters.bad_integrity, src, "a binding request with wrong MESSAGE-INTEGRITY");
    }
    // Claim the session, or hand the request to the worker that owns it.
    std::string name = rtc_claim_socket_name(claim_inode, id);
    socklen_t alen = 0;
    sockaddr_un addr = abstract_addr(name, &alen);
    UniqueFd claim(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (claim.get() < 0) return;
    if (::bind(claim.get(), reinterpret_cast<sockaddr*>(&addr), alen) != 0) {
      if (errno == EADDRINUSE && !forwarded) forward_to_owner(addr, alen, pkt, src, local);
      return;
    }
    if (!accepting && !forwarded) return;
    if (!limiter.try_acquire("webrtc")) return;
    create_session(id, rec, *data, std::move(claim), pkt, src, local, now);
  }

  void forward_to_owner(const sockaddr_un& addr, socklen_t alen, std::span<const uint8_t> pkt, const SockAddr& src,
                        const SockAddr& local) {
    ForwardHeader h{};
    h.magic = kForwardMagic;
    h.client_len = src.len;
    h.local_len = local.len;
    h.client = src.ss;
    h.local = local.ss;
    iovec iov[2] = {{&h, sizeof(h)}, {const_cast<uint8_t*>(pkt.data()), pkt.size()}};
    msghdr m{};
    m.msg_name = const_cast<sockaddr_un*>(&addr);
    m.msg_namelen = alen;
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    if (sendmsg(forward_fd.get(), &m, MSG_DONTWAIT) < 0) return;
    counters.forwarded_to_owner++;
    SP_DEBUG(log::process_context(), "webrtc: binding request from %s handed to the owner worker",
             src.to_string().c_str());
  }

  void create_session(const std::string& id, const SessionView& rec, const RtcSessionData& data, UniqueFd claim,
                      std::span<const uint8_t> stun, const SockAddr& src, const SockAddr& local, int64_t now) {
    auto s = std::make_unique<Session>();
    s->relay = this;
    s->ctx = new_context_id();
    s->id = id;
    s->key = rec.stream_key;
    s->origin_server = rec.origin_server;
    s->pwd = data.answer_pwd;
    s->start_ms = s->last_client_ms = now;
    for (auto& t : s->tx) t.path = -1;
    auto origin = make_sock_addr(data.origin_host, data.origin_port);
    Result<UniqueFd> ofd = origin.ok() ? open_origin_socket(*origin) : Result<UniqueFd>(origin.status());
    if (!ofd.ok()) {
      SP_WARN(s->ctx, "webrtc: session %s from %s to origin %s %s:%u not started: %s", id.c_str(),
              src.to_string().c_str(), rec.origin_server.c_str(), data.origin_host.c_str(), data.origin_port,
              ofd.error().c_str());
      limiter.release();
      return;
    }
    s->origin = *origin;
    s->origin_fd = std::move(*ofd);
    s->claim_fd = std::move(claim);
    s->origin_ev.reset(event_new(base, s->origin_fd.get(), EV_READ | EV_PERSIST, on_origin_readable, s.get()));
    event_add(s->origin_ev.get(), nullptr);
    s->claim_ev.reset(event_new(base, s->claim_fd.get(), EV_READ | EV_PERSIST, on_claim_readable, s.get()));
    event_add(s->claim_ev.get(), nullptr);
    Session* raw = s.get();
    raw->meter.begin(metrics::Protocol::webrtc, 0);
    raw->meter.set_origin(-1, rec.origin_server);  // no registry slot here: not counted per origin
    sessions.emplace(id, std::move(s));
    registry.add_client(raw->key, Proto::rtc, +1, now);
    counters.sessions++;
    SP_INFO(raw->ctx, "webrtc: session %s start, client %s, stream %s, origin %s at %s, worker %d",
            id.c_str(), src.to_string().c_str(), raw->key.c_str(), raw->origin_server.c_str(),
            raw->origin.to_string().c_str(), int(getpid()));
    Path* p = add_path(raw, src, local);
    if (!p) return end_session(raw, "no client path", false);
    relay_up_one(raw, p, stun);
  }

  // The path for a client address, opened if new (the oldest idle path makes room).
  Path* add_path(Session* s, const SockAddr& client, const SockAddr& local) {
    int64_t now = monotonic_ms();
    int free_slot = -1, oldest = -1;
    for (int i = 0; i < kMaxPaths; i++) {
      Path* p = s->paths[i].get();
      if (!p) {
        if (free_slot < 0) free_slot = i;
        continue;
      }
      if (p->client == client) {
        p->last_ms = now;
        return p;
      }
      if (i != s->active && (oldest < 0 || p->last_ms < s->paths[oldest]->last_ms)) oldest = i;
    }
    int slot = free_slot >= 0 ? free_slot : oldest;
    if (slot < 0) return nullptr;
    auto fd = open_path_socket(local, client);
    if (!fd.ok()) {
      SP_WARN(s->ctx, "webrtc: session %s cannot open a path for %s: %s", s->id.c_str(), client.to_string().c_str(),
              fd.error().c_str());
      return nullptr;
    }
    if (s->paths[slot]) close_path(s, slot);
    auto p = std::make_unique<Path>();
    p->session = s;
    p->index = slot;
    p->client = client;
    p->local = local;
    p->last_ms = now;
    p->fd = std::move(*fd);
    p->ev.reset(event_new(base, p->fd.get(), EV_READ | EV_PERSIST, on_path_readable, p.get()));
    event_add(p->ev.get(), nullptr);
    collect_strays(p.get());
    by_client[addr_key(client)] = p.get();
    bool first = s->active < 0;
    if (first) s->active = slot;
    else SP_INFO(s->ctx, "webrtc: session %s: client also at %s", s->id.c_str(), client.to_string().c_str());
    s->paths[slot] = std::move(p);
    return s->paths[slot].get();
  }

  // Between bind() and connect() the new socket could receive other clients'
  // datagrams; they are handled as if read from the listener.
  void collect_strays(Path* p) {
    uint8_t buf[kSlotBytes];
    for (int k = 0; k < kBatch; k++) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      ssize_t n = recvfrom(p->fd.get(), buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), &len);
      if (n < 0) break;
      // Our own client's are relayed by the by_client lookup once it is in.
      strays.emplace_back(SockAddr::from(reinterpret_cast<sockaddr*>(&ss), len), std::vector<uint8_t>(buf, buf + n));
      stray_local = p->local;
    }
  }

  void close_path(Session* s, int slot) {
    Path* p = s->paths[slot].get();
    if (!p) return;
    auto it = by_client.find(addr_key(p->client));
    if (it != by_client.end() && it->second == p) by_client.erase(it);
    event_del(p->ev.get());
    if (s->active == slot) s->active = -1;
    // Freed with the session or on the next tick: we may be inside its callback.
    retire_path(std::move(s->paths[slot]));
  }

  void retire_path(std::unique_ptr<Path> p) { graveyard.later(std::move(p)); }

  // ---- the hot path ----
  static void on_path_readable(evutil_socket_t, short, void* arg) {
    auto* p = static_cast<Path*>(arg);
    p->session->relay->relay_up(p);
  }

  // Client -> origin, in batches.
  void relay_up(Path* p) {
    Session* s = p->session;
    Batch& b = *batch;
    bool got = false;
    for (int round = 0; round < kRoundsPerWakeup; round++) {
      b.prepare(false, false);
      int n = recvmmsg(p->fd.get(), b.msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n < 0 && errno == ECONNREFUSED) continue;  // an ICMP error surfaced; datagrams may follow
      if (n <= 0) break;
      got = true;
      int out = 0;
      for (int i = 0; i < n; i++) {
        size_t len = b.msgs[i].msg_len;
        if (b.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
          warn_drop(&counters.oversized, p->client, "an oversized datagram");
          continue;
        }
        note_up(s, p, b.data[i], len);
        b.queue(out++, i, len);
      }
      send_batch(s->origin_fd.get(), b.out, out);
      if (n < kBatch) break;
    }
    if (got) s->last_client_ms = p->last_ms = monotonic_ms();
  }

  // Bookkeeping for one client datagram: counters, which path answers go to.
  void note_up(Session* s, Path* p, const uint8_t* d, size_t len) {
    s->bytes_up += len;
    s->meter.client_in(len);
    s->packets_up++;
    if (len >= kStunHeaderBytes && is_stun_byte(d[0])) {
      if (d[0] == 0x00 && d[1] == 0x01) s->remember_tx(d, p->index);  // binding request
    } else {
      s->active = p->index;  // media (DTLS/SRTP) decides where the origin's media goes
    }
  }

  void relay_up_one(Session* s, Path* p, std::span<const uint8_t> pkt) {
    note_up(s, p, pkt.data(), pkt.size());
    s->last_client_ms = p->last_ms = monotonic_ms();
    if (::send(s->origin_fd.get(), pkt.data(), pkt.size(), MSG_DONTWAIT) < 0) counters.send_drops++;
  }

  static void on_origin_readable(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<Session*>(arg);
    s->relay->relay_down(s);
  }

  // Origin -> client: to the active path, except STUN responses, which go to
  // the path that sent the request (ICE checks every candidate pair).
  void relay_down(Session* s) {
    Batch& b = *batch;
    for (int round = 0; round < kRoundsPerWakeup; round++) {
      b.prepare(false, false);
      int n = recvmmsg(s->origin_fd.get(), b.msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n < 0 && errno == ECONNREFUSED) continue;
      if (n <= 0) break;
      Path* active = s->active_path();
      int out = 0;
      for (int i = 0; i < n; i++) {
        size_t len = b.msgs[i].msg_len;
        const uint8_t* d = b.data[i];
        if (b.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
          warn_drop(&counters.oversized, s->origin, "an oversized datagram");
          continue;
        }
        s->bytes_down += len;
        s->meter.client_out(len);
        s->packets_down++;
        Path* to = active;
        if (len >= kStunHeaderBytes && d[0] == 0x01 && (d[1] == 0x01 || d[1] == 0x11)) {
          if (Path* p = s->path_for_tx(d)) to = p;
        }
        if (!to) continue;
        if (to == active) {
          b.queue(out++, i, len);
        } else if (::send(to->fd.get(), d, len, MSG_DONTWAIT) < 0) {
          counters.send_drops++;
        }
      }
      if (active) send_batch(active->fd.get(), b.out, out);
      if (n < kBatch) break;
    }
  }

  void send_batch(int fd, mmsghdr* msgs, int count) {
    int sent = 0;
    while (sent < count) {
      int r = sendmmsg(fd, msgs + sent, unsigned(count - sent), MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == ECONNREFUSED) continue;  // a stale ICMP error; the next try sends
        counters.send_drops += uint64_t(count - sent);
        return;
      }
      sent += r;
    }
  }

  // ---- ownership channel: binding requests other workers read for us ----
  static void on_claim_readable(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<Session*>(arg);
    s->relay->read_claim(s);
  }

  void read_claim(Session* s) {
    struct {
      ForwardHeader h;
      uint8_t payload[kSlotBytes];
    } m;
    for (int k = 0; k < kBatch; k++) {
      ssize_t n = recv(s->claim_fd.get(), &m, sizeof(m), MSG_DONTWAIT);
      if (n < 0) break;
      if (size_t(n) < sizeof(ForwardHeader) || m.h.magic != kForwardMagic || m.h.client_len > sizeof(sockaddr_storage) ||
          m.h.local_len > sizeof(sockaddr_storage)) {
        continue;
      }
      SockAddr client = SockAddr::from(reinterpret_cast<sockaddr*>(&m.h.client), m.h.client_len);
      SockAddr local = SockAddr::from(reinterpret_cast<sockaddr*>(&m.h.local), m.h.local_len);
      std::span<const uint8_t> pkt(m.payload, size_t(n) - sizeof(ForwardHeader));
      on_datagram(pkt, client, local, false, true);
      if (s->dead) break;
    }
    handle_strays();
  }

  // ---- session end and housekeeping ----
  void end_session(Session* s, const char* reason, bool remove_record) {
    if (s->dead) return;
    s->dead = true;
    int64_t now = monotonic_ms();
    Path* p = s->active_path();
    std::string peer = p ? p->client.to_string() : std::string("-");
    SP_INFO(s->ctx, "webrtc: session %s end, client %s, stream %s, origin %s, bytes up %llu down %llu "
            "(packets %llu/%llu), duration %.1fs, reason: %s", s->id.c_str(), peer.c_str(), s->key.c_str(),
            s->origin_server.c_str(), (unsigned long long)s->bytes_up, (unsigned long long)s->bytes_down,
            (unsigned long long)s->packets_up, (unsigned long long)s->packets_down,
            double(now - s->start_ms) / 1000.0, reason);
    SessionRecord r;
    r.ctx = s->ctx;
    r.client = peer;
    r.stream_key = s->key;
    r.origin = s->origin_server;
    r.bytes_in = s->bytes_up;
    r.bytes_out = s->bytes_down;
    r.duration_ms = now - s->start_ms;
    r.reason = metrics::classify_end(reason);
    r.reason_text = reason;
    sp::end_session(s->meter, r);
    for (int i = 0; i < kMaxPaths; i++) close_path(s, i);
    registry.add_client(s->key, Proto::rtc, -1, now);
    if (remove_record) registry.remove_session(SessionKind::rtc, s->id);
    limiter.release();
    event_del(s->origin_ev.get());
    event_del(s->claim_ev.get());
    auto it = sessions.find(s->id);
    if (it != sessions.end()) {
      graveyard.later(std::move(it->second));
      sessions.erase(it);
    }
  }

  static void on_tick(evutil_socket_t, short, void* arg) { static_cast<Impl*>(arg)->housekeep(); }

  void housekeep() {
    graveyard.flush();
    int64_t now = monotonic_ms();
    expire_lookups(now);
    std::vector<std::pair<Session*, const char*>> ending;
    std::vector<std::string> live;  // their records are refreshed in one registry call below
    for (auto& [id, s] : sessions) {
      if (now - s->last_client_ms >= conf.module<WebrtcConf>().idle_timeout_ms) {
        ending.emplace_back(s.get(), "idle timeout");
        continue;
      }
      live.push_back(id);
      for (int i = 0; i < kMaxPaths; i++) {
        Path* p = s->paths[i].get();
        if (p && i != s->active && now - p->last_ms >= kPathIdleMs) close_path(s.get(), i);
      }
    }
    for (auto& [s, reason] : ending) end_session(s, reason, true);
    // One registry call per tick for all of this worker's sessions, not one
    // per session; while one waits for its answer the next tick skips its own.
    if (live.empty() || touch_call.pending()) return;
    RegistryCall call = registry.touch_sessions(SessionKind::rtc, live, now,
                                                [this](std::vector<std::string> gone) { on_touched(gone); });
    if (call.pending()) touch_call = std::move(call);
  }

  // The sessions whose records are gone (DELETE through any worker or proxy) end.
  void on_touched(const std::vector<std::string>& gone) {
    for (const std::string& id : gone) {
      auto it = sessions.find(id);
      if (it != sessions.end()) end_session(it->second.get(), "session deleted", false);
    }
  }

  // Look-ups the registry has not answered in kLookupTimeoutMs are given up
  // (the backend's own timeout normally comes first).
  void expire_lookups(int64_t now) {
    for (auto it = lookups.begin(); it != lookups.end();) {
      if (now - it->second.start_ms < UdpRelay::kLookupTimeoutMs) {
        ++it;
        continue;
      }
      SockAddr src = it->second.src;
      std::string what = "a binding request for session " + it->first + ": the registry did not answer in " +
                         std::to_string(UdpRelay::kLookupTimeoutMs) + " ms";
      auto w = waiting_clients.find(addr_key(src));
      if (w != waiting_clients.end() && w->second == it->first) waiting_clients.erase(w);
      it = lookups.erase(it);  // cancels the answer
      warn_drop(&counters.lookup_failed, src, what.c_str());
    }
  }
};

UdpRelay::UdpRelay(event_base* base, const Config& conf, RegistryClient& registry, ConnectionLimiter& limiter)
    : impl_(std::make_unique<Impl>(base, conf, registry, limiter)) {}
UdpRelay::~UdpRelay() = default;
Status UdpRelay::start(const std::vector<int>& listen_fds) { return impl_->start(listen_fds); }
void UdpRelay::stop_accepting() { impl_->stop_accepting(); }
size_t UdpRelay::active_sessions() const { return impl_->sessions.size(); }
size_t UdpRelay::pending_lookups() const { return impl_->lookups.size(); }
const UdpRelay::Counters& UdpRelay::counters() const { return impl_->counters; }

}  // namespace sp
