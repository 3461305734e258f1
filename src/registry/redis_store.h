// The origin registry kept in Redis, so several proxies share one view of the
// cluster and agree on every stream (issue 14). Every operation is one Lua
// script (redis_scripts.cpp) run atomically by Redis, with all times taken
// from Redis's own clock (TIME) and liveness carried by Redis key TTLs, never
// by a proxy host's clock. Calls are asynchronous (RedisClient on the
// caller's event_base): each takes a completion callback that runs once, from
// the event loop. The rules are those of the shared-memory Registry
// (registry.h): pending pins made lasting by confirm(), eviction of idle
// entries under a cap, per-owner client counts, learned-heartbeat liveness
// and passive health; here the "owner" of client counts is a proxy (its
// proxy_id), and every rule holds across proxies.
//
// Key schema (P = the key prefix, e.g. "srs-proxy:"; names and streams are
// stored as given; all times are Redis milliseconds since the epoch):
//   P origins            SET   every registered origin's server id
//   P o:<server>         HASH  sv pid dev ip e0..e4 (endpoints per Proto, see
//                              encode_endpoints), hb (last heartbeat), hbn
//                              (heartbeats seen), hbi (learned interval, 0 =
//                              unknown), reg (first registration), f/fw
//                              (failures and their window start), du/dr (down
//                              until / reason), w (registered weight), wo
//                              (operator's weight override, 0 = none), drain
//                              (0/1, kept across restarts), cpu / l1 (reported
//                              CPU percent and 1-minute load, "-1" unknown),
//                              ovl (overloaded 0/1). PEXPIRE: dead_after + origin_ttl.
//   P ol:<server>        HASH  the pick rule's load: l (sum over live pins of
//                              max(1, live clients) at t), t (when, refreshed
//                              at most every 2 s), n (streams picked since),
//                              r (bytes/s summed over live proxies' pr: at t).
//   P rm:<server>        STRING a removed origin's service id, PX origin_remove_time:
//                              registrations with it are refused.
//   P rms                ZSET  removed servers -> removal time (at most kTombstones)
//   P oa:<server>        STRING the heartbeat liveness mark, PX dead_after =
//                              min(origin_ttl, heartbeat_misses x hbi) (just
//                              origin_ttl while hbi is unknown).
//   P os:<server>        ZSET  streams pinned to the origin -> pin expiry: the
//                              origin's load (live members counted).
//   P p:<stream>         HASH  the pin: o (origin), st ('p' pending, 'c'
//                              confirmed), t (pinned at). PEXPIRE: pending_ttl
//                              (min(30 s, session_ttl)) while pending,
//                              session_ttl from the last use once confirmed;
//                              a live proxy holding clients refreshes it on
//                              every proxy_heartbeat(), so it never expires
//                              while that proxy lives.
//   P pins               ZSET  stream -> pin expiry (the cap and eviction index)
//   P pp                 ZSET  pending stream -> pinned at (evicted first)
//   P ph:<stream>        SET   proxy ids holding clients of the stream
//   P px:<proxy>         STRING a proxy's liveness mark, PX proxy_ttl
//   P pc:<proxy>         HASH  "<proto>|<stream>" -> that proxy's client count;
//                              PEXPIRE proxy_ttl, so a dead proxy's counts vanish
//   P pr:<proxy>         HASH  server -> that proxy's measured bytes/s with it
//                              (replaced by each proxy_heartbeat with rates);
//                              PEXPIRE proxy_ttl
//   P proxies            SET   proxy ids (dead ones dropped by streams())
//   P s:<kind>:<id>      HASH  a session: k (stream), o (origin), d (data),
//                              t (last touch). PEXPIRE session_ttl.
//   P ss                 ZSET  "<kind>:<id>" -> last touch (cap and eviction)
//   P shc                ZSET  the hls_client members of ss (evicted first)
//   P evicted_pins, P evicted_sessions  counters
//
// Scripts (their contracts; each is one atomic step):
//   register_origin  same server + same service/pid = heartbeat (learns the
//                    interval from the gaps, the first one excepted, each
//                    clamped to [1 s, 1 h], newest weighted 1/4); a new
//                    service/pid replaces the entry (health cleared, interval
//                    kept); new addresses keep health. Refreshes oa: and the
//                    hash's TTL. Answers {what, dead_after_ms}.
//   control_origin   drain / undrain / weight (override) / remove (the
//                    origin, its pins and indexes go; rm: set). "not_found"
//                    for an unknown server.
//   origins          every origin with liveness and pinned streams; drops
//                    index entries whose hash expired.
//   pick             sticky: the pinned origin while its oa: lives and it is
//                    not down and serves proto (and also); a down pinned
//                    origin, or one lacking proto, keeps the stream while a
//                    live proxy holds clients of it (lacking proto: error).
//                    A draining pinned origin is treated as a down one.
//                    Else registry.cpp's rule: the eligible origin (not
//                    down, draining or overloaded) serving proto (+also) with
//                    the lowest load / weight (ol:), ties to the smallest
//                    server id; down or overloaded ones only if none is
//                    eligible, draining ones never.
//                    A new or moved pin is pending; a new pin past the cap
//                    evicts (pending first, then idle) or fails "registry
//                    full". Answers {new|sticky|moved, origin}.
//   confirm          the pending pin becomes confirmed (session_ttl); a pin
//                    gone meanwhile is made again for this origin; a pin now
//                    naming another origin is kept ({moved, other}).
//   report_failure   max_fails failures within fail_timeout mark the origin
//                    down for fail_timeout, seen by every proxy.
//   report_success   clears the failure count and the down mark.
//   add_client       a proxy's count for (stream, proto) += delta (never
//                    below 0), its holder mark, its liveness; a use of the pin.
//   proxy_heartbeat  (with this host's counts: replaces pc: with them first)
//                    refreshes px: and pc:, and the pins of every stream the
//                    proxy holds clients of. Call it every proxy_ttl / 3.
//   streams          live pins with per-proxy counts of live proxies.
//   session_*        put (cap: evicts the oldest hls_client, else the session
//                    idle for 30 s or more, else "registry full"), get
//                    (touches), touch many (answers the ids gone), remove.
//   sessions         every live session (all kinds), without touching them.
//   usage            pins, pending pins, sessions, hls_client sessions and
//                    the eviction counters (idle pins are not counted).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "registry/redis_client.h"
#include "registry/registry.h"

namespace sp {

struct RedisStoreOptions {
  std::string prefix = "srs-proxy:";
  // Unique per proxy process lifetime (e.g. host name + master pid + start
  // time): a restarted proxy must not inherit its predecessor's counts.
  std::string proxy_id;
  RegistryTtls ttls;
  int64_t proxy_ttl_ms = 10 * 1000;  // a proxy's counts vanish this long after its last heartbeat
  uint32_t max_streams = 100000;     // pins per prefix
  uint32_t max_sessions = 100000;    // sessions per prefix
};

// A pin as pick() made or found it.
struct RedisPick {
  enum class How : uint8_t { fresh, sticky, moved };
  Pick pick;
  How how = How::fresh;
};

// A stream with its client counts, in total and per live proxy.
struct RedisStreamView {
  StreamView view;
  bool pending = false;
  struct Holder {
    std::string proxy_id;
    uint32_t clients[kProtoCount] = {};
  };
  std::vector<Holder> holders;
};

// What register_origin did ("registered", "heartbeat", "restarted",
// "changed") and how long the origin now stays alive without a heartbeat.
struct RedisRegistration {
  std::string what;
  int64_t dead_after_ms = 0;
};

// What confirm() did: "confirmed", "used" (already confirmed), "remade" (the
// pin was gone), "moved" (the pin names `origin_server`, another origin).
struct RedisConfirm {
  std::string what;
  std::string origin_server;
};

// --- pure parts (unit-tested without a server) ---

// Endpoints of one protocol as stored in o:<server> e<proto>: "port/host"
// items separated by spaces ("1935/ 1936/10.0.0.2"); "" = none.
std::string encode_endpoints(const std::vector<Endpoint>& eps);
Result<std::vector<Endpoint>> decode_endpoints(std::string_view text);
// Key names of the schema above (the scripts build the same names in Lua).
std::string redis_origin_key(std::string_view prefix, std::string_view server);
std::string redis_origin_alive_key(std::string_view prefix, std::string_view server);
std::string redis_pin_key(std::string_view prefix, std::string_view stream);
std::string redis_proxy_alive_key(std::string_view prefix, std::string_view proxy_id);
std::string redis_proxy_counts_key(std::string_view prefix, std::string_view proxy_id);
std::string redis_session_key(std::string_view prefix, SessionKind kind, std::string_view id);
// The register_origin script's arguments after the prefix.
std::vector<std::string> register_args(const OriginSpec& spec, const RegistryTtls& ttls);
// Reply decoding.
Result<OriginView> decode_origin(const RedisValue& v);
Result<RedisPick> decode_pick(const RedisValue& v, Proto proto);
Result<std::vector<OriginView>> decode_origins(const RedisValue& v);
Result<std::vector<RedisStreamView>> decode_streams(const RedisValue& v);
// {{"<kind>:<id>", stream, origin, data, age_ms}...}
Result<std::vector<SessionView>> decode_sessions(const RedisValue& v);
Result<Registry::Usage> decode_usage(const RedisValue& v);
// nil: no such session (an error "no session").
Result<SessionView> decode_session(SessionKind kind, std::string_view id, const RedisValue& v);

class RedisStore {
 public:
  template <class T>
  using Done = std::function<void(Result<T>)>;
  using StatusDone = std::function<void(Status)>;

  // `client` must outlive the store; the store adds no state of its own
  // beyond its options, so any number of stores may share one client.
  RedisStore(RedisClient& client, RedisStoreOptions options);

  const RedisStoreOptions& options() const { return options_; }
  // A reload's new TTLs (every proxy should run with the same ones).
  void set_ttls(RegistryTtls ttls) { options_.ttls = ttls; }
  bool connected() const { return client_.connected(); }

  void register_origin(const OriginSpec& spec, Done<RedisRegistration> done);
  // with_clients: each origin's `clients` summed over its streams and every
  // live proxy (a look-up per stream and holder: for operators' listings,
  // not for the local cache's once-a-second copy).
  void origins(Done<std::vector<OriginView>> done, bool with_clients = true);
  // Operator control (Registry::control_origin's rules); not_found for an
  // unknown server.
  void control_origin(std::string_view server, OriginOp op, int weight, StatusDone done);
  void pick(std::string_view stream_key, Proto proto, std::optional<Proto> also, Done<RedisPick> done);
  void confirm(std::string_view stream_key, std::string_view origin_server, Done<RedisConfirm> done);
  // done gets what happened: "counted", "down", "still_down", "ignored".
  void report_failure(std::string_view server, std::string_view reason, Done<std::string> done);
  // done gets "ok", "up" (a down mark was cleared) or "ignored".
  void report_success(std::string_view server, Done<std::string> done);
  // This proxy's count after the change.
  void add_client(std::string_view stream_key, Proto proto, int delta, Done<int64_t> done);
  // Call every proxy_ttl_ms / 3 or more often; done gets the streams held.
  void proxy_heartbeat(Done<int64_t> done);
  // The same, also replacing this proxy's client counts with `counts` (its
  // host's whole count, from the shared-memory table).
  struct ClientCount {
    std::string stream_key;
    Proto proto;
    uint32_t clients;
  };
  void proxy_heartbeat(const std::vector<ClientCount>* counts, Done<int64_t> done);
  // The same, also replacing this proxy's bytes per second per origin (the
  // pick load's bytes term; pr:<proxy>, expiring with the proxy) with `rates`.
  void proxy_heartbeat(const std::vector<ClientCount>* counts, const std::vector<OriginRate>* rates,
                       Done<int64_t> done);
  void streams(Done<std::vector<RedisStreamView>> done);

  void put_session(SessionKind kind, std::string_view id, std::string_view stream_key, std::string_view origin_server,
                   std::string_view data, StatusDone done);
  void get_session(SessionKind kind, std::string_view id, Done<SessionView> done);
  // done gets the ids that no longer exist.
  void touch_sessions(SessionKind kind, std::span<const std::string> ids, Done<std::vector<std::string>> done);
  void remove_session(SessionKind kind, std::string_view id, Done<bool> done);
  void sessions(Done<std::vector<SessionView>> done);
  void usage(Done<Registry::Usage> done);

 private:
  int64_t pending_ttl_ms() const;
  RedisClient& client_;
  RedisStoreOptions options_;
};

}  // namespace sp
