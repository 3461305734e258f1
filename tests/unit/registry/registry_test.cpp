// Tests for the shared-memory registry: origin identity and liveness (learned
// heartbeat intervals, passive health), sticky
// picks spread over origins, client counts (owned per process, dropped with
// it), sessions and their batched touch, expiry, pending pins
// and confirm(), eviction from full tables (pending, then idle, never live),
// list order across rebuild and repair, and the multi-process guarantees (a
// forked child's writes are seen; a child dying with the lock held does not
// wedge the others).
#include "registry/registry.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

namespace sp {
namespace {

constexpr uint64_t kSmall = 256 * 1024;
constexpr int64_t kTtl = 10 * 1000;
constexpr int64_t kSessionTtl = 5 * 1000;

std::unique_ptr<Registry> make_registry(uint64_t bytes = kSmall) {
  auto r = Registry::create(bytes, RegistryTtls{kTtl, kSessionTtl});
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? std::move(*r) : nullptr;
}

// Origins that stay alive however far a test moves the clock.
std::unique_ptr<Registry> make_registry_ttl(int64_t session_ttl) {
  auto r = Registry::create(kSmall, RegistryTtls{1000 * 1000 * 1000, session_ttl});
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? std::move(*r) : nullptr;
}

OriginSpec origin(const std::string& server, const std::string& ip = "10.0.0.1", const std::string& pid = "100") {
  OriginSpec s;
  s.server = server;
  s.service = "svc-" + pid;
  s.pid = pid;
  s.ip = ip;
  s.device_id = "dev";
  s.endpoints[int(Proto::rtmp)] = {Endpoint{"", 19351}};
  s.endpoints[int(Proto::http)] = {Endpoint{"", 8081}};
  return s;
}

const OriginView* find(const std::vector<OriginView>& all, const std::string& server) {
  auto it = std::find_if(all.begin(), all.end(), [&](const OriginView& o) { return o.server == server; });
  return it == all.end() ? nullptr : &*it;
}

// The Redis backend's local cache: an origin mirrored as Redis reported it
// (age, learned interval, down mark) without learning from the write; a pin
// mirrored to another origin replaces the old one; pinned() answers only
// what is pinned, whatever the origin's liveness, and never pins.
TEST(RegistryCache, MirrorsOriginsAndPinsAndAnswersOnlyPinnedStreams) {
  auto r = make_registry();
  const int64_t now = 1000000;
  OriginView v;
  v.server = "a";
  v.service = "svc";
  v.pid = "7";
  v.ip = "10.0.0.9";
  v.endpoints[int(Proto::rtmp)] = {Endpoint{"", 19351}};
  v.age_ms = 4000;
  v.heartbeat_interval_ms = 2000;
  v.down = true;
  v.down_for_ms = 3000;
  v.down_reason = "refused";
  ASSERT_TRUE(r->mirror_origin(v, now).ok());
  ASSERT_TRUE(r->mirror_origin(v, now).ok());  // a second write learns nothing
  const std::vector<OriginView> listed = r->origins(now);  // kept: `a` points into it
  const OriginView* a = find(listed, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->age_ms, 4000);
  EXPECT_EQ(a->heartbeat_interval_ms, 2000);
  EXPECT_TRUE(a->down);
  EXPECT_EQ(a->down_reason, "refused");
  EXPECT_TRUE(a->heartbeat_alive);  // 4 s < 3 x 2 s
  OriginView b = v;
  b.server = "b";
  b.down = false;
  ASSERT_TRUE(r->mirror_origin(b, now).ok());

  EXPECT_EQ(r->pinned("s", Proto::rtmp, Proto::rtmp, now).kind(), ErrorKind::unavailable);
  EXPECT_TRUE(r->streams(now).empty()) << "pinned() never pins";
  EXPECT_EQ(r->mirror_pin("s", "nobody", now).kind(), ErrorKind::not_found);
  ASSERT_TRUE(r->mirror_pin("s", "a", now).ok());
  ASSERT_TRUE(r->mirror_pin("s", "b", now).ok());  // Redis moved it
  auto p = r->pinned("s", Proto::rtmp, Proto::rtmp, now);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->origin.server, "b");
  EXPECT_EQ(p->port, 19351);
  EXPECT_FALSE(r->pinned("s", Proto::srt, Proto::srt, now).ok()) << "b has no srt endpoint";
  // Long dead by its heartbeat, still answered: an outage never moves a stream.
  p = r->pinned("s", Proto::rtmp, Proto::rtmp, now + 60 * 1000);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->origin.server, "b");
  auto streams = r->streams(now);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].origin_server, "b");
}

TEST(Registry, RejectsTooSmallSizes) {
  for (uint64_t bytes : {uint64_t(0), uint64_t(4096), uint64_t(20 * 1024)}) {
    auto r = Registry::create(bytes, {});
    ASSERT_FALSE(r.ok()) << bytes;
    EXPECT_NE(r.error().find("too small"), std::string::npos) << r.error();
  }
}

TEST(Registry, CapacityFollowsTheSplit) {
  auto small = make_registry();
  auto big = make_registry(16 * 1024 * 1024);
  ASSERT_TRUE(small && big);
  auto c = small->capacity();
  EXPECT_GE(c.origins, 4u);
  EXPECT_GE(c.streams, 8u);
  EXPECT_GE(c.sessions, 8u);
  auto b = big->capacity();
  EXPECT_GT(b.origins, 100u);
  EXPECT_GT(b.streams, 10000u);
  EXPECT_GT(b.sessions, 5000u);
  EXPECT_GT(b.streams, b.origins * 10);
}

TEST(Registry, TtlsCanChange) {
  auto reg = make_registry();
  EXPECT_EQ(reg->ttls().origin_ttl_ms, kTtl);
  reg->set_ttls(RegistryTtls{1234, 567});
  EXPECT_EQ(reg->ttls().origin_ttl_ms, 1234);
  EXPECT_EQ(reg->ttls().session_ttl_ms, 567);
}

TEST(Registry, RegisterAndView) {
  auto reg = make_registry();
  OriginSpec s = origin("vid-1", "10.0.0.7");
  s.endpoints[int(Proto::srt)] = {Endpoint{"10.0.0.8", 10080}};
  ASSERT_TRUE(reg->register_origin(s, 1000).ok());
  auto all = reg->origins(1500);
  ASSERT_EQ(all.size(), 1u);
  const OriginView& o = all[0];
  EXPECT_EQ(o.server, "vid-1");
  EXPECT_EQ(o.service, "svc-100");
  EXPECT_EQ(o.pid, "100");
  EXPECT_EQ(o.device_id, "dev");
  EXPECT_EQ(o.ip, "10.0.0.7");
  EXPECT_EQ(o.endpoints[int(Proto::rtmp)], (std::vector<Endpoint>{{"", 19351}}));
  EXPECT_EQ(o.endpoints[int(Proto::srt)], (std::vector<Endpoint>{{"10.0.0.8", 10080}}));
  EXPECT_TRUE(o.endpoints[int(Proto::rtc)].empty());
  EXPECT_TRUE(o.alive);
  EXPECT_EQ(o.age_ms, 500);
  EXPECT_EQ(o.registered_ms, 1000);
}

TEST(Registry, HeartbeatKeepsAlive) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  EXPECT_TRUE(reg->origins(kTtl - 1)[0].alive);
  EXPECT_FALSE(reg->origins(kTtl)[0].alive);
  ASSERT_TRUE(reg->register_origin(origin("a"), kTtl - 1).ok());
  auto all = reg->origins(kTtl + 100);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].alive);
  EXPECT_EQ(all[0].age_ms, 101);
  EXPECT_EQ(all[0].registered_ms, 0);  // a heartbeat is not a new registration
}

TEST(Registry, RestartReplacesInPlace) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a", "10.0.0.1", "100"), 0).ok());
  ASSERT_TRUE(reg->register_origin(origin("b", "10.0.0.2", "200"), 0).ok());
  int slot = find(reg->origins(0), "a")->slot;
  ASSERT_TRUE(reg->register_origin(origin("a", "10.0.0.3", "101"), 500).ok());
  auto all = reg->origins(600);
  ASSERT_EQ(all.size(), 2u);
  const OriginView* a = find(all, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->slot, slot);
  EXPECT_EQ(a->pid, "101");
  EXPECT_EQ(a->service, "svc-101");
  EXPECT_EQ(a->ip, "10.0.0.3");
  EXPECT_EQ(a->registered_ms, 500);
}

TEST(Registry, RefusesValuesTooLong) {
  auto reg = make_registry();
  auto s = reg->register_origin(origin(std::string(64, 'x')), 0);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("too long"), std::string::npos) << s.message();
  EXPECT_EQ(s.kind(), ErrorKind::bad_input);
  EXPECT_TRUE(reg->register_origin(origin(std::string(63, 'x')), 0).ok());
  OriginSpec many = origin("m");
  many.endpoints[int(Proto::rtmp)].assign(kMaxEndpointsPerProto + 1, Endpoint{"", 1935});
  EXPECT_EQ(reg->register_origin(many, 0).kind(), ErrorKind::bad_input);
  EXPECT_EQ(reg->register_origin(origin(""), 0).kind(), ErrorKind::bad_input);
  EXPECT_EQ(reg->origins(0).size(), 1u);
  auto p = reg->pick(std::string(256, 'k'), Proto::rtmp, 0);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().find("too long"), std::string::npos);
  EXPECT_EQ(p.kind(), ErrorKind::bad_input);
  EXPECT_TRUE(reg->pick(std::string(255, 'k'), Proto::rtmp, 0).ok());
}

TEST(Registry, FullOriginTableChangesNothing) {
  auto reg = make_registry();
  uint32_t cap = reg->capacity().origins;
  for (uint32_t i = 0; i < cap; i++) ASSERT_TRUE(reg->register_origin(origin("o" + std::to_string(i)), 0).ok());
  auto s = reg->register_origin(origin("one-too-many"), 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "registry full: " + std::to_string(cap) + " origins");
  EXPECT_EQ(s.kind(), ErrorKind::full);
  EXPECT_EQ(reg->origins(0).size(), cap);
  EXPECT_EQ(find(reg->origins(0), "one-too-many"), nullptr);
  // Existing origins still heartbeat fine.
  EXPECT_TRUE(reg->register_origin(origin("o0"), 5).ok());
}

TEST(Registry, PickWithoutOriginsNamesStreamAndProto) {
  auto reg = make_registry();
  auto p = reg->pick("__defaultVhost__/live/s", Proto::rtmp, 0);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error(), "no alive origin can serve \"__defaultVhost__/live/s\" over rtmp");
  EXPECT_EQ(p.kind(), ErrorKind::unavailable);
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  p = reg->pick("__defaultVhost__/live/s", Proto::srt, 0);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error(), "no alive origin can serve \"__defaultVhost__/live/s\" over srt");
  EXPECT_TRUE(reg->streams(0).empty());
}

TEST(Registry, PickConnectsToOriginIpOrEndpointHost) {
  auto reg = make_registry();
  OriginSpec s = origin("a", "10.0.0.7");
  s.endpoints[int(Proto::srt)] = {Endpoint{"192.168.3.10", 10080}};
  ASSERT_TRUE(reg->register_origin(s, 0).ok());
  auto p = reg->pick("v/app/s", Proto::rtmp, 0);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->host, "10.0.0.7");
  EXPECT_EQ(p->port, 19351);
  EXPECT_EQ(p->origin.server, "a");
  p = reg->pick("v/app/s", Proto::srt, 0);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->host, "192.168.3.10");
  EXPECT_EQ(p->port, 10080);
}

TEST(Registry, PickIsStickyAndSpreads) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a", "10.0.0.1"), 0).ok());
  ASSERT_TRUE(reg->register_origin(origin("b", "10.0.0.2"), 0).ok());
  std::map<std::string, int> per_origin;
  std::map<std::string, std::string> first;
  for (int i = 0; i < 10; i++) {
    std::string key = "v/live/s" + std::to_string(i);
    auto p = reg->pick(key, Proto::rtmp, 10);
    ASSERT_TRUE(p.ok());
    first[key] = p->origin.server;
    per_origin[p->origin.server]++;
  }
  EXPECT_EQ(per_origin["a"], 5);
  EXPECT_EQ(per_origin["b"], 5);
  // Every later pick, by any protocol the origin has, returns the same origin.
  for (auto& [key, server] : first) {
    EXPECT_EQ(reg->pick(key, Proto::http, 20)->origin.server, server);
    EXPECT_EQ(reg->pick(key, Proto::rtmp, 30)->origin.server, server);
  }
  EXPECT_EQ(reg->streams(0).size(), 10u);
  auto all = reg->origins(40);
  auto a = find(all, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->streams.size(), 5u);
}

TEST(Registry, DeadOriginLosesItsStreams) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_EQ(reg->pick("v/l/s", Proto::rtmp, 0)->origin.server, "a");
  ASSERT_TRUE(reg->register_origin(origin("b"), kTtl).ok());
  // a's last heartbeat is now kTtl old: dead; the pin moves to b.
  auto p = reg->pick("v/l/s", Proto::rtmp, kTtl);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->origin.server, "b");
  auto streams = reg->streams(kTtl);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].origin_server, "b");
  // a coming back does not steal it: b is alive.
  ASSERT_TRUE(reg->register_origin(origin("a"), kTtl + 1).ok());
  EXPECT_EQ(reg->pick("v/l/s", Proto::rtmp, kTtl + 2)->origin.server, "b");
}

TEST(Registry, RestartedOriginKeepsItsPins) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a", "10.0.0.1", "1"), 0).ok());
  ASSERT_TRUE(reg->register_origin(origin("b", "10.0.0.2", "1"), 0).ok());
  std::string first = reg->pick("v/l/s", Proto::rtmp, 0)->origin.server;
  ASSERT_TRUE(reg->register_origin(origin(first, "10.0.0.9", "2"), 100).ok());
  auto p = reg->pick("v/l/s", Proto::rtmp, 200);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->origin.server, first);
  EXPECT_EQ(p->host, "10.0.0.9");
  EXPECT_EQ(reg->origins(200).size(), 2u);
}

TEST(Registry, PinnedOriginWithoutProto) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_EQ(reg->pick("v/l/s", Proto::rtmp, 0)->origin.server, "a");
  OriginSpec b = origin("b");
  b.endpoints[int(Proto::srt)] = {Endpoint{"", 10080}};
  ASSERT_TRUE(reg->register_origin(b, 0).ok());
  // With a client on a, moving the stream would split it: refuse.
  reg->add_client("v/l/s", Proto::rtmp, 1);
  auto p = reg->pick("v/l/s", Proto::srt, 1);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().find("no srt endpoint"), std::string::npos) << p.error();
  // Once idle, the stream moves to an origin that can serve srt.
  reg->add_client("v/l/s", Proto::rtmp, -1);
  p = reg->pick("v/l/s", Proto::srt, 2);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->origin.server, "b");
  EXPECT_EQ(reg->pick("v/l/s", Proto::rtmp, 3)->origin.server, "b");
}

// ---- liveness: learned heartbeat intervals --------------------------------------

TEST(Registry, ClientCounts) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->pick("v/l/s", Proto::rtmp, 0).ok());
  reg->add_client("v/l/s", Proto::rtmp, 1);
  reg->add_client("v/l/s", Proto::http, 1);
  reg->add_client("v/l/s", Proto::http, 1);
  reg->add_client("v/l/nothing", Proto::http, 1);  // no pin: ignored
  auto s = reg->streams(0);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].key, "v/l/s");
  EXPECT_EQ(s[0].origin_server, "a");
  EXPECT_EQ(s[0].clients[int(Proto::rtmp)], 1u);
  EXPECT_EQ(s[0].clients[int(Proto::http)], 2u);
  reg->add_client("v/l/s", Proto::rtmp, -5);  // never below zero
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::rtmp)], 0u);
}

std::set<std::string> stream_keys(Registry& reg) {
  std::set<std::string> keys;
  for (auto& s : reg.streams(0)) keys.insert(s.key);
  return keys;
}

std::string k(uint32_t i) { return "v/l/" + std::to_string(i); }

TEST(Registry, FailedAttemptLeavesOnlyAPendingPinThatExpires) {
  // session_ttl longer than the 30 s pending TTL, so the two differ.
  auto reg = make_registry_ttl(120 * 1000);
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->pick("v/l/failed", Proto::rtmp, 0).ok());  // origin then said 404: no confirm
  ASSERT_TRUE(reg->pick("v/l/good", Proto::rtmp, 0).ok());
  ASSERT_TRUE(reg->confirm("v/l/good", "a", 0).ok());
  auto u = reg->usage();
  EXPECT_EQ(u.streams, 2u);
  EXPECT_EQ(u.pending_streams, 1u);
  EXPECT_EQ(u.idle_streams, 1u);
  reg->expire(30 * 1000 - 1);
  EXPECT_EQ(stream_keys(*reg), (std::set<std::string>{"v/l/failed", "v/l/good"}));
  reg->expire(30 * 1000);
  EXPECT_EQ(stream_keys(*reg), (std::set<std::string>{"v/l/good"}));
  reg->expire(120 * 1000 - 1);
  EXPECT_EQ(stream_keys(*reg), (std::set<std::string>{"v/l/good"}));
  reg->expire(120 * 1000);
  EXPECT_TRUE(stream_keys(*reg).empty());
  EXPECT_EQ(reg->usage().streams, 0u);
}

TEST(Registry, FullOfPendingEvictsTheOldestPending) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  uint32_t cap = reg->capacity().streams;
  for (uint32_t i = 0; i < cap; i++) ASSERT_TRUE(reg->pick(k(i), Proto::rtmp, i).ok()) << i;
  ASSERT_TRUE(reg->pick(k(0), Proto::rtmp, cap).ok());  // a use: 1 is now the oldest
  auto p = reg->pick("v/l/extra", Proto::rtmp, cap + 1);
  ASSERT_TRUE(p.ok()) << p.error();
  auto keys = stream_keys(*reg);
  EXPECT_EQ(keys.size(), cap);
  EXPECT_TRUE(keys.count("v/l/extra"));
  EXPECT_TRUE(keys.count(k(0)));
  EXPECT_FALSE(keys.count(k(1)));
  EXPECT_EQ(reg->usage().evicted_streams, 1u);
  // A steady flood of new names keeps the table at capacity, never above.
  for (uint32_t i = 0; i < 10 * cap; i++) ASSERT_TRUE(reg->pick("v/f/" + std::to_string(i), Proto::rtmp, cap + 2).ok());
  EXPECT_EQ(reg->usage().streams, cap);
}

TEST(Registry, PendingIsEvictedBeforeIdle) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  uint32_t cap = reg->capacity().streams;
  for (uint32_t i = 0; i < cap; i++) {
    ASSERT_TRUE(reg->pick(k(i), Proto::rtmp, i).ok());
    if (i != cap - 1) {
      ASSERT_TRUE(reg->confirm(k(i), "a", i).ok());
    }
  }
  // The youngest pin is the only pending one, and it goes first.
  ASSERT_TRUE(reg->pick("v/l/extra", Proto::rtmp, cap).ok());
  EXPECT_FALSE(stream_keys(*reg).count(k(cap - 1)));
  EXPECT_TRUE(stream_keys(*reg).count(k(0)));
}

TEST(Registry, FullOfIdleEvictsTheLeastRecentlyUsed) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  uint32_t cap = reg->capacity().streams;
  for (uint32_t i = 0; i < cap; i++) {
    ASSERT_TRUE(reg->pick(k(i), Proto::rtmp, i).ok());
    ASSERT_TRUE(reg->confirm(k(i), "a", i).ok());
  }
  EXPECT_EQ(reg->usage().idle_streams, cap);
  ASSERT_TRUE(reg->pick(k(0), Proto::rtmp, cap).ok());               // used again
  reg->add_client(k(1), Proto::rtmp, +1, cap);                         // a client came
  reg->add_client(k(1), Proto::rtmp, -1, cap + 1);                     // and left: used
  ASSERT_TRUE(reg->pick("v/l/x", Proto::rtmp, cap + 2).ok());
  ASSERT_TRUE(reg->pick("v/l/y", Proto::rtmp, cap + 2).ok());
  auto keys = stream_keys(*reg);
  // x (pending) made room by evicting idle 2; y then evicted pending x.
  EXPECT_FALSE(keys.count(k(2)));
  EXPECT_FALSE(keys.count("v/l/x"));
  EXPECT_TRUE(keys.count("v/l/y"));
  EXPECT_TRUE(keys.count(k(0)));
  EXPECT_TRUE(keys.count(k(1)));
  EXPECT_TRUE(keys.count(k(3)));
  ASSERT_TRUE(reg->confirm("v/l/y", "a", cap + 3).ok());
  ASSERT_TRUE(reg->pick("v/l/z", Proto::rtmp, cap + 4).ok());  // now idle 3 is the oldest
  keys = stream_keys(*reg);
  EXPECT_FALSE(keys.count(k(3)));
  EXPECT_TRUE(keys.count("v/l/y"));
}

TEST(Registry, FullOfLiveIsRefused) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  uint32_t cap = reg->capacity().streams;
  for (uint32_t i = 0; i < cap; i++) {
    ASSERT_TRUE(reg->pick(k(i), Proto::rtmp, 0).ok()) << i;
    ASSERT_TRUE(reg->confirm(k(i), "a", 0).ok());
    reg->add_client(k(i), Proto::rtmp, +1, 0);
  }
  auto u = reg->usage();
  EXPECT_EQ(u.pending_streams + u.idle_streams, 0u);
  auto p = reg->pick("v/l/extra", Proto::rtmp, 0);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error(), "registry full: " + std::to_string(cap) + " streams");
  EXPECT_EQ(p.kind(), ErrorKind::full);
  // Existing pins still answer, and live pins never expire.
  EXPECT_TRUE(reg->pick(k(0), Proto::rtmp, 0).ok());
  ASSERT_TRUE(reg->register_origin(origin("a"), 10 * kSessionTtl).ok());  // heartbeat
  reg->expire(10 * kSessionTtl);
  EXPECT_EQ(reg->streams(0).size(), cap);
  // Once a stream's last client leaves it can make room.
  reg->add_client(k(5), Proto::rtmp, -1, 10 * kSessionTtl);
  ASSERT_TRUE(reg->pick("v/l/extra", Proto::rtmp, 10 * kSessionTtl).ok());
  EXPECT_FALSE(stream_keys(*reg).count(k(5)));
}

TEST(Registry, ConfirmAfterEvictionRecreatesThePin) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  uint32_t cap = reg->capacity().streams;
  ASSERT_TRUE(reg->pick("v/l/slow", Proto::rtmp, 0).ok());
  for (uint32_t i = 1; i < cap; i++) ASSERT_TRUE(reg->pick(k(i), Proto::rtmp, i).ok());
  ASSERT_TRUE(reg->pick("v/l/flood", Proto::rtmp, cap).ok());  // evicts slow, the oldest pending
  EXPECT_FALSE(stream_keys(*reg).count("v/l/slow"));
  // slow's origin accepted it after all: the pin comes back, confirmed, and
  // the next oldest pending pin made room.
  ASSERT_TRUE(reg->confirm("v/l/slow", "a", cap + 1).ok());
  auto keys = stream_keys(*reg);
  EXPECT_TRUE(keys.count("v/l/slow"));
  EXPECT_FALSE(keys.count(k(1)));
  EXPECT_EQ(reg->usage().idle_streams, 1u);
  // A gone origin cannot be confirmed.
  EXPECT_FALSE(reg->confirm("v/l/other", "nobody", cap + 1).ok());
}

TEST(Registry, ConfirmKeepsAPinThatMovedMeanwhile) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->register_origin(origin("b"), 0).ok());
  auto p = reg->pick("v/l/s", Proto::rtmp, 0);
  ASSERT_TRUE(p.ok());
  std::string other = p->origin.server == "a" ? "b" : "a";
  EXPECT_TRUE(reg->confirm("v/l/s", other, 1).ok());
  auto s = reg->streams(1);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].origin_server, p->origin.server);
  EXPECT_EQ(reg->usage().pending_streams, 1u);  // still the other client's pending pin
}

TEST(Registry, FullSessionTableEvictsFingerprintsThenIdleSessions) {
  auto reg = make_registry_ttl(120 * 1000);
  uint32_t cap = reg->capacity().sessions;
  ASSERT_TRUE(reg->put_session(SessionKind::hls_client, "fp", "k", "a", "s1", 0).ok());
  for (uint32_t i = 1; i < cap; i++) ASSERT_TRUE(reg->put_session(SessionKind::rtc, std::to_string(i), "k", "a", "", 0).ok());
  // A fingerprint goes first, however fresh.
  ASSERT_TRUE(reg->put_session(SessionKind::hls, "new1", "k", "a", "", 1).ok());
  EXPECT_FALSE(reg->get_session(SessionKind::hls_client, "fp", 1).ok());
  EXPECT_EQ(reg->get_session(SessionKind::hls_client, "fp", 1).kind(), ErrorKind::not_found);
  EXPECT_EQ(reg->usage().evicted_sessions, 1u);
  // Every session was touched within 30 s: live, so refused.
  auto s = reg->put_session(SessionKind::hls, "new2", "k", "a", "", 30 * 1000 - 1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "registry full: " + std::to_string(cap) + " sessions");
  // 30 s later the session idle longest goes; a touched one is kept.
  ASSERT_TRUE(reg->get_session(SessionKind::rtc, "1", 30 * 1000).ok());
  ASSERT_TRUE(reg->put_session(SessionKind::hls, "new2", "k", "a", "", 30 * 1000).ok());
  EXPECT_TRUE(reg->get_session(SessionKind::rtc, "1", 30 * 1000).ok());
  EXPECT_FALSE(reg->get_session(SessionKind::rtc, "2", 30 * 1000).ok());
  EXPECT_TRUE(reg->get_session(SessionKind::rtc, "3", 30 * 1000).ok());
}

TEST(Registry, ExpiryPopsOnlyWhatIsOld) {
  auto reg = make_registry_ttl(120 * 1000);
  ASSERT_TRUE(reg->put_session(SessionKind::hls, "a", "k", "a", "", 0).ok());
  ASSERT_TRUE(reg->put_session(SessionKind::hls, "b", "k", "a", "", 0).ok());
  ASSERT_TRUE(reg->put_session(SessionKind::hls_client, "fp", "k", "a", "b", 10).ok());
  ASSERT_TRUE(reg->get_session(SessionKind::hls, "a", 50 * 1000).ok());  // a moves behind b
  reg->expire(120 * 1000);
  auto left = reg->sessions(120 * 1000);
  ASSERT_EQ(left.size(), 2u);
  reg->expire(120 * 1000 + 10);
  left = reg->sessions(120 * 1000 + 10);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, "a");
}

// Idle pins used in the reverse of their creation order, then the rest of
// the table full of live pins: each new pick must evict the least recently
// used idle pin, k(half-1), k(half-2), ...
void expect_lru_order(Registry& reg, uint32_t half, int64_t now) {
  uint32_t cap = reg.capacity().streams;
  for (uint32_t i = 0; i < cap - half; i++) {
    std::string key = "v/live/" + std::to_string(i);
    ASSERT_TRUE(reg.pick(key, Proto::rtmp, now).ok());
    reg.add_client(key, Proto::rtmp, +1, now);
  }
  for (uint32_t n = 0; n < 5; n++) {
    ASSERT_TRUE(reg.pick("v/new/" + std::to_string(n), Proto::rtmp, now).ok());
    reg.add_client("v/new/" + std::to_string(n), Proto::rtmp, +1, now);
    auto keys = stream_keys(reg);
    EXPECT_FALSE(keys.count(k(half - 1 - n))) << n;
    EXPECT_TRUE(keys.count(k(half - 2 - n))) << n;
  }
}

void idle_in_reverse(Registry& reg, uint32_t half) {
  for (uint32_t i = 0; i < half; i++) {
    ASSERT_TRUE(reg.pick(k(i), Proto::rtmp, 0).ok());
    ASSERT_TRUE(reg.confirm(k(i), "a", 0).ok());
  }
  for (uint32_t i = 0; i < half; i++) ASSERT_TRUE(reg.pick(k(half - 1 - i), Proto::rtmp, 1 + i).ok());
}

TEST(Registry, ErasesKeepListOrderAndNeedNoRebuild) {
  auto reg = make_registry_ttl(120 * 1000);
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  uint32_t cap = reg->capacity().streams;
  uint32_t half = cap / 2;
  idle_in_reverse(*reg, half);
  // Many erases around the idle pins (pending pins that fail and expire,
  // then a flood evicting pending pins) shift entries between slots.
  for (int round = 0; round < 10; round++) {
    for (uint32_t i = 0; i < cap - half; i++) {
      ASSERT_TRUE(reg->pick("v/p/" + std::to_string(round) + "/" + std::to_string(i), Proto::rtmp, 1000).ok());
    }
    reg->expire(1000 + 30 * 1000);  // the pending ones go, the idle ones (120 s) stay
  }
  for (uint32_t i = 0; i < 5 * cap; i++) ASSERT_TRUE(reg->pick("v/f/" + std::to_string(i), Proto::rtmp, 40000).ok());
  reg->expire(40000 + 30 * 1000);
  auto u = reg->usage();
  EXPECT_EQ(u.idle_streams, half);
  EXPECT_EQ(u.streams, half);
  EXPECT_EQ(u.rebuilds, 0u);  // no tombstones, so no O(table) rebuild
  expect_lru_order(*reg, half, 80000);
}

TEST(Registry, RebuildKeepsListOrder) {
  auto reg = make_registry_ttl(120 * 1000);
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  uint32_t half = reg->capacity().streams / 2;
  idle_in_reverse(*reg, half);
  reg->rebuild_for_test();
  EXPECT_EQ(reg->usage().idle_streams, half);
  expect_lru_order(*reg, half, 40000);
}

TEST(Registry, RepairRelinksInUseOrder) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  uint32_t cap = reg->capacity().streams;
  for (uint32_t i = 0; i < cap; i++) {
    ASSERT_TRUE(reg->pick(k(i), Proto::rtmp, 0).ok());
    ASSERT_TRUE(reg->confirm(k(i), "a", 0).ok());
  }
  for (uint32_t i = 0; i < cap; i++) ASSERT_TRUE(reg->pick(k(cap - 1 - i), Proto::rtmp, 1 + i).ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) reg->lock_and_exit_for_test(7);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  // The next locker repairs: lists re-linked from the entries, oldest use first.
  ASSERT_TRUE(reg->pick("v/l/extra", Proto::rtmp, cap + 1).ok());
  auto keys = stream_keys(*reg);
  EXPECT_FALSE(keys.count(k(cap - 1)));
  EXPECT_TRUE(keys.count(k(cap - 2)));
  EXPECT_EQ(reg->usage().idle_streams, cap - 1);
  EXPECT_EQ(reg->usage().pending_streams, 1u);
}

TEST(Registry, Sessions) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->put_session(SessionKind::hls, "abc", "v/l/s", "a", "data\0x", 0).ok());
  ASSERT_TRUE(reg->put_session(SessionKind::rtc, "abc", "v/l/t", "b", "", 0).ok());
  auto h = reg->get_session(SessionKind::hls, "abc", 100);
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_EQ(h->stream_key, "v/l/s");
  EXPECT_EQ(h->origin_server, "a");
  EXPECT_EQ(h->data, "data");
  EXPECT_EQ(h->age_ms, 100);
  EXPECT_EQ(h->kind, SessionKind::hls);
  EXPECT_EQ(reg->get_session(SessionKind::rtc, "abc", 100)->origin_server, "b");
  EXPECT_EQ(reg->get_session(SessionKind::hls, "abc", 150)->age_ms, 50);  // get touched it
  // Replace.
  std::string binary("\x00\x01\x02", 3);
  ASSERT_TRUE(reg->put_session(SessionKind::hls, "abc", "v/l/s2", "c", binary, 200).ok());
  h = reg->get_session(SessionKind::hls, "abc", 200);
  EXPECT_EQ(h->origin_server, "c");
  EXPECT_EQ(h->data, binary);
  EXPECT_EQ(reg->sessions(200).size(), 2u);
  EXPECT_TRUE(reg->remove_session(SessionKind::hls, "abc"));
  EXPECT_FALSE(reg->remove_session(SessionKind::hls, "abc"));
  auto gone = reg->get_session(SessionKind::hls, "abc", 300);
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().find("abc"), std::string::npos);
  EXPECT_TRUE(reg->get_session(SessionKind::rtc, "abc", 300).ok());
}

TEST(Registry, SessionLimits) {
  auto reg = make_registry();
  EXPECT_FALSE(reg->put_session(SessionKind::hls, "", "k", "a", "", 0).ok());
  EXPECT_FALSE(reg->put_session(SessionKind::hls, std::string(kSessionIdMax + 1, 'i'), "k", "a", "", 0).ok());
  EXPECT_FALSE(reg->put_session(SessionKind::hls, "i", "k", "a", std::string(kSessionDataMax + 1, 'd'), 0).ok());
  EXPECT_TRUE(reg->put_session(SessionKind::hls, "i", "k", "a", std::string(kSessionDataMax, 'd'), 0).ok());
  uint32_t cap = reg->capacity().sessions;
  for (uint32_t i = 1; i < cap; i++) ASSERT_TRUE(reg->put_session(SessionKind::rtc, std::to_string(i), "k", "a", "", 0).ok());
  auto s = reg->put_session(SessionKind::rtc, "extra", "k", "a", "", 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "registry full: " + std::to_string(cap) + " sessions");
  // Replacing an existing one needs no room.
  EXPECT_TRUE(reg->put_session(SessionKind::rtc, "1", "k2", "a", "", 0).ok());
}

TEST(Registry, ExpireOriginsAndTheirPins) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->pick("v/l/s", Proto::rtmp, 0).ok());
  reg->add_client("v/l/s", Proto::rtmp, 1);
  ASSERT_TRUE(reg->register_origin(origin("b"), 2 * kTtl - 1).ok());
  reg->expire(2 * kTtl - 1);  // a is dead but kept: not yet 2 x ttl
  EXPECT_EQ(reg->origins(2 * kTtl - 1).size(), 2u);
  EXPECT_EQ(reg->streams(0).size(), 1u);
  reg->expire(2 * kTtl);
  auto all = reg->origins(2 * kTtl);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].server, "b");
  EXPECT_TRUE(reg->streams(0).empty());  // its pin went with it, clients or not
}

TEST(Registry, ExpireIdlePinsAndSessions) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->pick("v/l/idle", Proto::rtmp, 0).ok());
  ASSERT_TRUE(reg->pick("v/l/busy", Proto::rtmp, 0).ok());
  ASSERT_TRUE(reg->pick("v/l/recent", Proto::rtmp, 0).ok());
  reg->add_client("v/l/busy", Proto::http, 1);
  ASSERT_TRUE(reg->pick("v/l/recent", Proto::rtmp, 3000).ok());  // a pick is use
  ASSERT_TRUE(reg->put_session(SessionKind::hls, "old", "v/l/s", "a", "", 0).ok());
  ASSERT_TRUE(reg->put_session(SessionKind::hls, "used", "v/l/s", "a", "", 0).ok());
  ASSERT_TRUE(reg->get_session(SessionKind::hls, "used", 3000).ok());
  reg->expire(kSessionTtl);
  std::set<std::string> keys;
  for (auto& s : reg->streams(kSessionTtl)) keys.insert(s.key);
  EXPECT_EQ(keys, (std::set<std::string>{"v/l/busy", "v/l/recent"}));
  auto sessions = reg->sessions(kSessionTtl);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].id, "used");
  // A client leaving counts as use when the time is given.
  reg->add_client("v/l/busy", Proto::http, -1, kSessionTtl + 1000);
  reg->expire(kSessionTtl + 2000);
  EXPECT_EQ(reg->streams(0).size(), 2u);
  reg->expire(kSessionTtl + 1000 + kSessionTtl);
  EXPECT_TRUE(reg->streams(0).empty());
}

TEST(Registry, ChurnKeepsLookupsCorrect) {
  // Many inserts and removals leave tombstones; lookups and expiry's rebuild
  // must keep every live entry reachable.
  auto reg = make_registry();
  uint32_t cap = reg->capacity().sessions;
  std::set<std::string> live;
  for (int round = 0; round < 20; round++) {
    for (uint32_t i = 0; live.size() < cap; i++) {
      std::string id = "r" + std::to_string(round) + "-" + std::to_string(i);
      ASSERT_TRUE(reg->put_session(SessionKind::rtc, id, "k", "a", id, round).ok()) << id;
      live.insert(id);
    }
    int n = 0;
    for (auto it = live.begin(); it != live.end();) {
      if (n++ % 3 == 0) {
        ASSERT_TRUE(reg->remove_session(SessionKind::rtc, *it));
        it = live.erase(it);
      } else {
        ++it;
      }
    }
    reg->expire(round);  // nothing is idle; may rebuild
  }
  for (const std::string& id : live) {
    auto s = reg->get_session(SessionKind::rtc, id, 20);
    ASSERT_TRUE(s.ok()) << id;
    EXPECT_EQ(s->data, id);
  }
  EXPECT_EQ(reg->sessions(20).size(), live.size());
  EXPECT_FALSE(reg->get_session(SessionKind::rtc, "never", 20).ok());
}

TEST(Registry, RandomOperationsMatchAModel) {
  // Picks, confirms, client changes, evictions and expiry in random order:
  // every pin the model holds must stay findable (erases shift entries
  // between slots), and the list counts must add up.
  auto reg = make_registry_ttl(120 * 1000);
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  uint32_t cap = reg->capacity().streams;
  std::mt19937 rng(7);
  std::map<std::string, int> clients;  // live model: key -> clients (pins still present)
  int64_t now = 0;
  for (int step = 0; step < 10000; step++) {
    now += rng() % 20;
    std::string key = "v/r/" + std::to_string(rng() % (2 * cap));
    switch (rng() % 6) {
      case 0:
      case 1:
        if (reg->pick(key, Proto::rtmp, now).ok() && !clients.count(key)) clients[key] = 0;
        break;
      case 2:
        if (reg->confirm(key, "a", now).ok() && !clients.count(key)) clients[key] = 0;  // made again
        break;
      case 3:
        if (clients.count(key) && clients[key] == 0 && !stream_keys(*reg).count(key)) {
          clients.erase(key);  // evicted or expired meanwhile: a client now would find no pin
        } else if (clients.count(key) && clients[key] < 3) {
          reg->add_client(key, Proto::rtmp, +1, now);
          clients[key]++;
        }
        break;
      case 4:
        if (clients.count(key) && clients[key] > 0) {
          reg->add_client(key, Proto::rtmp, -1, now);
          clients[key]--;
        }
        break;
      case 5:
        if (step % 50 == 0) reg->expire(now);
        break;
    }
    if (step % 500 != 0) continue;
    auto keys = stream_keys(*reg);
    // Evicted or expired pins leave the model; pins with clients never do.
    for (auto it = clients.begin(); it != clients.end();) {
      if (!keys.count(it->first)) {
        ASSERT_EQ(it->second, 0) << it->first << " had clients and was dropped";
        it = clients.erase(it);
      } else {
        ++it;
      }
    }
    ASSERT_EQ(keys.size(), clients.size());
    auto u = reg->usage();
    uint32_t live = 0;
    for (auto& [k2, c] : clients) live += c > 0;
    ASSERT_EQ(u.streams, keys.size());
    ASSERT_EQ(u.pending_streams + u.idle_streams + live, u.streams) << step;
    ASSERT_LE(u.streams, cap);
    for (auto& [k2, c] : clients) {
      auto p = reg->pick(k2, Proto::rtmp, now);  // found, not re-pinned
      ASSERT_TRUE(p.ok()) << k2;
    }
  }
}

TEST(Registry, ForkedChildWritesAreSeen) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("parent"), 0).ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool ok = reg->register_origin(origin("child", "10.9.9.9"), 5).ok() && reg->pick("v/l/s", Proto::rtmp, 5).ok() &&
              reg->put_session(SessionKind::hls, "h1", "v/l/s", "child", "x", 5).ok();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto all = reg->origins(10);
  ASSERT_EQ(all.size(), 2u);
  const OriginView* child = find(all, "child");
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->ip, "10.9.9.9");
  EXPECT_EQ(reg->streams(10).size(), 1u);
  EXPECT_EQ(reg->get_session(SessionKind::hls, "h1", 10)->data, "x");
}

TEST(Registry, ConcurrentChildrenDoNotLoseWrites) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->register_origin(origin("b"), 0).ok());
  ASSERT_TRUE(reg->pick("v/l/shared", Proto::rtmp, 0).ok());
  constexpr int kChildren = 4, kEach = 40;
  std::vector<pid_t> kids;
  for (int c = 0; c < kChildren; c++) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      bool ok = true;
      for (int i = 0; i < kEach; i++) {
        ok = ok && reg->pick("v/l/c" + std::to_string(c) + "-" + std::to_string(i), Proto::rtmp, 1).ok();
        reg->add_client("v/l/shared", Proto::http, 1);
      }
      _exit(ok ? 0 : 1);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto streams = reg->streams(2);
  EXPECT_EQ(streams.size(), size_t(1 + kChildren * kEach));
  auto shared = std::find_if(streams.begin(), streams.end(), [](auto& s) { return s.key == "v/l/shared"; });
  ASSERT_NE(shared, streams.end());
  EXPECT_EQ(shared->clients[int(Proto::http)], uint32_t(kChildren * kEach));
  // Least-loaded picking kept the two origins within one stream of each other.
  auto all = reg->origins(2);
  ASSERT_EQ(all.size(), 2u);
  int diff = int(all[0].streams.size()) - int(all[1].streams.size());
  EXPECT_LE(std::abs(diff), 1);
}

TEST(Registry, ChildDyingWithLockDoesNotWedge) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) reg->lock_and_exit_for_test(7);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 7);
  // The next locker recovers the mutex; the half-written entry is not visible.
  auto all = reg->origins(1);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].server, "a");
  EXPECT_TRUE(reg->register_origin(origin("b"), 1).ok());
  EXPECT_EQ(reg->origins(1).size(), 2u);
  EXPECT_TRUE(reg->pick("v/l/s", Proto::rtmp, 1).ok());
  // And it keeps working for later lockers.
  EXPECT_EQ(reg->streams(1).size(), 1u);
}

// Counts are owned per process: dropping one process takes back exactly its
// clients, leaves the other's, and is idempotent.
TEST(Registry, DropProcessTakesBackItsCounts) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->pick("v/l/s", Proto::rtmp, 0).ok());
  ASSERT_TRUE(reg->pick("v/l/t", Proto::rtmp, 0).ok());
  constexpr pid_t kA = 4101, kB = 4102;
  for (int i = 0; i < 3; i++) reg->add_client("v/l/s", Proto::http, +1, 0, kA);
  reg->add_client("v/l/s", Proto::rtmp, +1, 0, kA);
  for (int i = 0; i < 2; i++) reg->add_client("v/l/s", Proto::http, +1, 0, kB);
  reg->add_client("v/l/t", Proto::srt, +1, 0, kA);
  reg->add_client("v/l/s", Proto::http, -1, 0, kB);  // one of B's players left
  auto s = reg->streams(0);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].clients[int(Proto::http)], 4u);
  EXPECT_EQ(s[0].clients[int(Proto::rtmp)], 1u);

  Registry::Dropped d = reg->drop_process(kA, 1000);
  EXPECT_EQ(d.streams, 2u);
  EXPECT_EQ(d.clients, 5u);  // 3 http + 1 rtmp on s, 1 srt on t
  EXPECT_EQ(d.now_idle, 1u);  // t
  s = reg->streams(0);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].key, "v/l/s");
  EXPECT_EQ(s[0].clients[int(Proto::http)], 1u);  // B's remaining player
  EXPECT_EQ(s[0].clients[int(Proto::rtmp)], 0u);
  EXPECT_EQ(s[1].clients[int(Proto::srt)], 0u);

  // Idempotent: a second drop finds nothing.
  d = reg->drop_process(kA, 1000);
  EXPECT_EQ(d.streams, 0u);
  EXPECT_EQ(d.clients, 0u);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::http)], 1u);
  // A late decrement from the dead pid cannot eat B's count.
  reg->add_client("v/l/s", Proto::http, -1, 0, kA);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::http)], 1u);
  // B's own departure still works and frees its slot.
  reg->add_client("v/l/s", Proto::http, -1, 0, kB);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::http)], 0u);
  EXPECT_EQ(reg->drop_process(kB, 1000).streams, 0u);
}

// A dead worker's clients no longer hold a stream on an origin that cannot
// serve a new protocol: once dropped, the stream can move.
TEST(Registry, DroppedCountsLetTheStreamMove) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_EQ(reg->pick("v/l/s", Proto::rtmp, 0)->origin.server, "a");
  OriginSpec b = origin("b");
  b.endpoints[int(Proto::srt)] = {Endpoint{"", 10080}};
  ASSERT_TRUE(reg->register_origin(b, 0).ok());
  reg->add_client("v/l/s", Proto::rtmp, +3, 0, 4300);
  ASSERT_FALSE(reg->pick("v/l/s", Proto::srt, 1).ok());  // busy on a
  reg->drop_process(4300, 1);
  auto p = reg->pick("v/l/s", Proto::srt, 2);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->origin.server, "b");
}

// The pins a dropped process leaves idle count as used at the drop, so they
// expire session_ttl later, not at once and not never.
TEST(Registry, DroppedStreamsExpireAfterSessionTtl) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->pick("v/l/s", Proto::rtmp, 0).ok());
  reg->add_client("v/l/s", Proto::rtmp, +1, 0, 4200);
  reg->expire(3 * kSessionTtl);  // busy: kept however old
  ASSERT_EQ(reg->streams(0).size(), 1u);
  ASSERT_TRUE(reg->register_origin(origin("a"), 3 * kSessionTtl).ok());  // keep the origin alive
  const int64_t crash = 3 * kSessionTtl + 10;
  reg->drop_process(4200, crash);
  reg->expire(crash + kSessionTtl - 1);
  EXPECT_EQ(reg->streams(0).size(), 1u);
  reg->expire(crash + kSessionTtl);
  EXPECT_TRUE(reg->streams(0).empty());
}

// Past kStreamHolders owners the count is unattributed: totals stay right,
// the owners' own counts are still dropped, the overflow's are not, and the
// unattributed rest drains as its clients leave.
TEST(Registry, HolderOverflowIsCountedUnattributed) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->pick("v/l/s", Proto::rtmp, 0).ok());
  constexpr pid_t kBase = 5000;
  for (int k = 0; k < kStreamHolders; k++) reg->add_client("v/l/s", Proto::http, +2, 0, kBase + k);
  const pid_t extra = kBase + kStreamHolders;
  reg->add_client("v/l/s", Proto::http, +3, 0, extra);  // no slot left
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::http)], uint32_t(2 * kStreamHolders + 3));
  // The same process over another protocol is another owner: also overflow.
  reg->add_client("v/l/s", Proto::rtmp, +1, 0, kBase);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::rtmp)], 1u);

  // Dropping the overflowing process drops nothing (it owns no slot).
  EXPECT_EQ(reg->drop_process(extra, 0).clients, 0u);
  // Dropping an owner takes back exactly its 2.
  EXPECT_EQ(reg->drop_process(kBase + 1, 0).clients, 2u);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::http)], uint32_t(2 * kStreamHolders + 1));
  // A freed slot is reused by the next owner.
  reg->add_client("v/l/s", Proto::http, +1, 0, extra);
  EXPECT_EQ(reg->drop_process(extra, 0).clients, 1u);
  // The unattributed 3 drain as their clients leave, never below zero.
  reg->add_client("v/l/s", Proto::http, -2, 0, extra);
  reg->add_client("v/l/s", Proto::http, -5, 0, extra);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::http)], uint32_t(2 * (kStreamHolders - 1)));
  // The owners' counts were untouched by that: dropping them all empties it.
  for (int k = 0; k < kStreamHolders; k++) reg->drop_process(kBase + k, 0);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::http)], 0u);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::rtmp)], 1u);  // kBase's rtmp overflow stays
}

// Without a holder the caller's pid owns the count: a forked child's clients
// go when the parent drops the child's pid.
TEST(Registry, DefaultHolderIsTheCallingProcess) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->pick("v/l/s", Proto::rtmp, 0).ok());
  reg->add_client("v/l/s", Proto::rtmp, +1);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (int i = 0; i < 7; i++) reg->add_client("v/l/s", Proto::rtmp, +1);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::rtmp)], 8u);
  Registry::Dropped d = reg->drop_process(pid, 0);
  EXPECT_EQ(d.clients, 7u);
  EXPECT_EQ(d.now_idle, 0u);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::rtmp)], 1u);
  reg->add_client("v/l/s", Proto::rtmp, -1);
  EXPECT_EQ(reg->streams(0)[0].clients[int(Proto::rtmp)], 0u);
}

TEST(Registry, TouchSessionsRefreshesAndNamesTheGone) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->put_session(SessionKind::rtc, "u1", "v/l/s", "a", "", 0).ok());
  ASSERT_TRUE(reg->put_session(SessionKind::rtc, "u2", "v/l/s", "a", "", 0).ok());
  ASSERT_TRUE(reg->put_session(SessionKind::hls, "u3", "v/l/s", "a", "", 0).ok());
  std::vector<std::string> ids = {"u1", "gone", "u2", "u3", std::string(kSessionIdMax + 5, 'x')};
  auto gone = reg->touch_sessions(SessionKind::rtc, ids, 4000);
  // u3 is another kind: gone as far as rtc is concerned.
  EXPECT_EQ(gone, (std::vector<std::string>{"gone", "u3", std::string(kSessionIdMax + 5, 'x')}));
  EXPECT_TRUE(reg->touch_sessions(SessionKind::rtc, {}, 4000).empty());
  reg->expire(kSessionTtl);  // u3 (untouched since 0) expires, u1/u2 were touched at 4000
  auto left = reg->sessions(kSessionTtl);
  std::set<std::string> ids_left;
  for (auto& s : left) ids_left.insert(s.id);
  EXPECT_EQ(ids_left, (std::set<std::string>{"u1", "u2"}));
  for (auto& s : left) EXPECT_EQ(s.age_ms, kSessionTtl - 4000);
}

TEST(Registry, LearnsTheHeartbeatInterval) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  EXPECT_EQ(reg->origins(0)[0].heartbeat_interval_ms, 0);
  // The gap from the registration to the first heartbeat is not a sample.
  ASSERT_TRUE(reg->register_origin(origin("a"), 50).ok());
  EXPECT_EQ(reg->origins(50)[0].heartbeat_interval_ms, 0);
  EXPECT_TRUE(reg->origins(50 + kTtl - 1)[0].alive);  // origin_ttl alone still applies
  ASSERT_TRUE(reg->register_origin(origin("a"), 2050).ok());
  EXPECT_EQ(reg->origins(2050)[0].heartbeat_interval_ms, 2000);
  // Later gaps weigh 1/4: (3 * 2000 + 1000) / 4.
  ASSERT_TRUE(reg->register_origin(origin("a"), 3050).ok());
  EXPECT_EQ(reg->origins(3050)[0].heartbeat_interval_ms, 1750);
  // A burst of heartbeats is clamped to the 1 s floor, not 1 ms.
  auto burst = make_registry();
  for (int64_t t = 0; t < 3; t++) ASSERT_TRUE(burst->register_origin(origin("b"), t).ok());
  EXPECT_EQ(burst->origins(2)[0].heartbeat_interval_ms, kHeartbeatIntervalMinMs);
}

TEST(Registry, DeadAfterMissedHeartbeats) {
  auto reg = make_registry();  // heartbeat_misses 3 by default, origin_ttl 10 s
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_EQ(reg->pick("v/l/s", Proto::rtmp, 0)->origin.server, "a");
  ASSERT_TRUE(reg->register_origin(origin("b"), 0).ok());
  for (int64_t t = 1000; t <= 5000; t += 1000) {
    ASSERT_TRUE(reg->register_origin(origin("a"), t).ok());
    ASSERT_TRUE(reg->register_origin(origin("b"), t).ok());
  }
  EXPECT_EQ(find(reg->origins(5000), "a")->heartbeat_interval_ms, 1000);
  // a stops; b goes on.
  for (int64_t t = 6000; t <= 8000; t += 1000) ASSERT_TRUE(reg->register_origin(origin("b"), t).ok());
  EXPECT_TRUE(find(reg->origins(5000 + 2999), "a")->alive);
  EXPECT_EQ(reg->pick("v/l/s", Proto::rtmp, 5000 + 2999)->origin.server, "a");
  auto dead = *find(reg->origins(5000 + 3000), "a");
  EXPECT_FALSE(dead.alive);
  EXPECT_FALSE(dead.heartbeat_alive);
  EXPECT_FALSE(dead.down);  // dead by heartbeat, not marked down
  // Its stream moves at once, long before origin_ttl, clients or not.
  reg->add_client("v/l/s", Proto::rtmp, +1);
  EXPECT_EQ(reg->pick("v/l/s", Proto::rtmp, 8000)->origin.server, "b");
  // A heartbeat brings the dead one back.
  ASSERT_TRUE(reg->register_origin(origin("a"), 9000).ok());
  EXPECT_TRUE(find(reg->origins(9000), "a")->alive);
}

TEST(Registry, NeverLaterThanOriginTtl) {
  auto reg = make_registry();  // origin_ttl 10 s
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->register_origin(origin("a"), 1000).ok());
  ASSERT_TRUE(reg->register_origin(origin("a"), 10000).ok());  // interval 9 s: 3 misses = 27 s
  EXPECT_EQ(reg->origins(10000)[0].heartbeat_interval_ms, 9000);
  EXPECT_TRUE(reg->origins(10000 + kTtl - 1)[0].alive);
  EXPECT_FALSE(reg->origins(10000 + kTtl)[0].alive);
}

TEST(Registry, HeartbeatMissesFollowsReload) {
  auto reg = make_registry();
  for (int64_t t = 0; t <= 2000; t += 1000) ASSERT_TRUE(reg->register_origin(origin("a"), t).ok());
  EXPECT_FALSE(reg->origins(2000 + 3000)[0].alive);
  // heartbeat_misses 0: origin_ttl only.
  reg->set_ttls(RegistryTtls{kTtl, kSessionTtl, 0});
  EXPECT_EQ(reg->ttls().heartbeat_misses, 0);
  EXPECT_TRUE(reg->origins(2000 + kTtl - 1)[0].alive);
  // heartbeat_misses 2.
  reg->set_ttls(RegistryTtls{kTtl, kSessionTtl, 2});
  EXPECT_TRUE(reg->origins(2000 + 1999)[0].alive);
  EXPECT_FALSE(reg->origins(2000 + 2000)[0].alive);
}

// ---- passive health ---------------------------------------------------------

TEST(Registry, MaxFailsMarksDownAndExpires) {
  auto reg = make_registry();
  reg->set_ttls(RegistryTtls{kTtl, kSessionTtl, 3, 2, 4000});  // max_fails 2 in 4 s
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  reg->report_failure("a", "connect to 10.0.0.1:19351 refused", 100);
  auto v = reg->origins(100)[0];
  EXPECT_FALSE(v.down);
  EXPECT_EQ(v.fails, 1u);
  // The second failure comes after the window: it opens a new one.
  reg->report_failure("a", "connect to 10.0.0.1:19351 refused", 4100);
  EXPECT_FALSE(reg->origins(4100)[0].down);
  reg->report_failure("a", "connect to 10.0.0.1:19351 timed out", 5000);
  v = reg->origins(5000)[0];
  EXPECT_TRUE(v.down);
  EXPECT_FALSE(v.alive);
  EXPECT_TRUE(v.heartbeat_alive);
  EXPECT_EQ(v.down_reason, "connect to 10.0.0.1:19351 timed out");
  EXPECT_EQ(v.down_for_ms, 4000);
  EXPECT_EQ(reg->origins(8999)[0].down_for_ms, 1);
  // Down for fail_timeout, then back.
  EXPECT_TRUE(reg->origins(8999)[0].down);
  v = reg->origins(9000)[0];
  EXPECT_FALSE(v.down);
  EXPECT_TRUE(v.alive);
  EXPECT_EQ(v.down_reason, "");
  // Unknown servers are ignored.
  reg->report_failure("nobody", "x", 9000);
  EXPECT_EQ(reg->origins(9000).size(), 1u);
}

TEST(Registry, SuccessResetsFailures) {
  auto reg = make_registry();
  reg->set_ttls(RegistryTtls{kTtl, kSessionTtl, 3, 2, 10000});
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  reg->report_failure("a", "reset", 10);
  reg->report_success("a", 20);
  reg->report_failure("a", "reset", 30);
  EXPECT_FALSE(reg->origins(30)[0].down);  // the count restarted at the success
  reg->report_failure("a", "reset", 40);
  EXPECT_TRUE(reg->origins(40)[0].down);
  reg->report_success("a", 50);  // it answered: no longer down
  EXPECT_FALSE(reg->origins(50)[0].down);
  EXPECT_TRUE(reg->origins(50)[0].alive);
}

TEST(Registry, MaxFailsZeroNeverMarksDown) {
  auto reg = make_registry();
  reg->set_ttls(RegistryTtls{kTtl, kSessionTtl, 3, 0, 10000});
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  for (int i = 0; i < 5; i++) reg->report_failure("a", "refused", i);
  EXPECT_FALSE(reg->origins(5)[0].down);
}

// Issue 16's bytes term: two origins with the same client load, one moving
// far more bytes: new streams go to the other until its clients catch up;
// with pick_bytes_per_client 0 the rates are ignored (equal load: the
// smallest id, then alternating). The rates take effect at the next refresh.
TEST(Registry, PickLoadCountsMeasuredBytes) {
  for (int64_t u : {int64_t(125000), int64_t(0)}) {
    RegistryTtls ttls{1000 * 1000 * 1000, kSessionTtl};
    ttls.bytes_per_client = u;
    auto made = Registry::create(kSmall, ttls);
    ASSERT_TRUE(made.ok()) << made.error();
    Registry& reg = **made;
    int64_t now = 1000;
    ASSERT_TRUE(reg.register_origin(origin("a", "10.0.0.1"), now).ok());
    ASSERT_TRUE(reg.register_origin(origin("b", "10.0.0.2"), now).ok());
    // One stream with 3 clients on each: equal client load.
    auto pa = reg.pick("live/a", Proto::rtmp, now);
    auto pb = reg.pick("live/b", Proto::rtmp, now);
    ASSERT_TRUE(pa.ok() && pb.ok());
    ASSERT_EQ(pa->origin.server, "a");
    ASSERT_EQ(pb->origin.server, "b");
    ASSERT_TRUE(reg.confirm("live/a", "a", now).ok());
    ASSERT_TRUE(reg.confirm("live/b", "b", now).ok());
    reg.add_client("live/a", Proto::rtmp, 3, now);
    reg.add_client("live/b", Proto::rtmp, 3, now);
    std::vector<uint64_t> rates(2, 0);
    for (const OriginView& o : reg.origins(now)) rates[size_t(o.slot)] = o.server == "a" ? 4000000 : 125000;  // 32 vs 1 units
    reg.set_origin_rates(rates);
    // Not before the next refresh (no flip-flop): the listing still shows 0.
    EXPECT_EQ(find(reg.origins(now), "a")->bytes_per_sec, 0u);
    now += kLoadRefreshMs;
    auto listed = reg.origins(now);
    EXPECT_EQ(find(listed, "a")->bytes_per_sec, 4000000u);
    EXPECT_EQ(find(listed, "b")->bytes_per_sec, 125000u);
    EXPECT_EQ(find(listed, "a")->load, 3u);
    EXPECT_EQ(find(listed, "b")->load, 3u);
    std::map<std::string, int> got;
    for (int i = 0; i < 20; i++) {
      auto p = reg.pick("new/" + std::to_string(i), Proto::rtmp, now);
      ASSERT_TRUE(p.ok());
      got[p->origin.server]++;
    }
    if (u > 0) {
      // a: 3 + 32 = 35, b: 3 + 1 = 4: b takes all 20 (4 + 20 = 24 < 35).
      EXPECT_EQ(got["a"], 0) << "u=" << u;
      EXPECT_EQ(got["b"], 20) << "u=" << u;
    } else {
      EXPECT_EQ(got["a"], 10) << "u=" << u;
      EXPECT_EQ(got["b"], 10) << "u=" << u;
    }
  }
}

TEST(Registry, PickAvoidsDownOriginsAndMovesIdleStreams) {
  auto reg = make_registry();  // max_fails 1, fail_timeout 10 s by default
  ASSERT_TRUE(reg->register_origin(origin("a", "10.0.0.1"), 0).ok());
  ASSERT_TRUE(reg->register_origin(origin("b", "10.0.0.2"), 0).ok());
  std::string first = reg->pick("v/l/idle", Proto::rtmp, 0)->origin.server;
  // A busy stream on the same origin.
  std::string busy_key;
  for (int i = 0; busy_key.empty(); i++) {
    std::string key = "v/l/busy" + std::to_string(i);
    if (reg->pick(key, Proto::rtmp, 0)->origin.server == first) busy_key = key;
    ASSERT_LT(i, 10);
  }
  reg->add_client(busy_key, Proto::rtmp, +1);
  std::string other = first == "a" ? "b" : "a";
  reg->report_failure(first, "connect refused", 100);
  ASSERT_TRUE(find(reg->origins(100), first)->down);
  // New streams avoid it.
  for (int i = 0; i < 4; i++) {
    EXPECT_EQ(reg->pick("v/l/new" + std::to_string(i), Proto::rtmp, 110)->origin.server, other);
  }
  // The idle stream moves; the busy one stays with its clients.
  EXPECT_EQ(reg->pick("v/l/idle", Proto::rtmp, 120)->origin.server, other);
  EXPECT_EQ(reg->pick(busy_key, Proto::http, 120)->origin.server, first);
  // Once its last client left, it moves too.
  reg->add_client(busy_key, Proto::rtmp, -1);
  EXPECT_EQ(reg->pick(busy_key, Proto::rtmp, 130)->origin.server, other);
  for (const StreamView& s : reg->streams(130)) EXPECT_EQ(s.origin_server, other) << s.key;
}

TEST(Registry, EveryOriginDownStillServes) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  reg->report_failure("a", "refused", 0);
  ASSERT_TRUE(reg->origins(0)[0].down);
  auto p = reg->pick("v/l/s", Proto::rtmp, 10);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->origin.server, "a");
  // ... but a heartbeat-dead origin does not.
  EXPECT_FALSE(reg->pick("v/l/t", Proto::rtmp, kTtl + 1).ok());
}

TEST(Registry, DownIsSeenByOtherProcesses) {
  auto reg = make_registry();
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    reg->report_failure("a", "connect to 10.0.0.1:19351 refused", 100);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto v = reg->origins(200)[0];
  EXPECT_TRUE(v.down);
  EXPECT_EQ(v.down_reason, "connect to 10.0.0.1:19351 refused");
}

TEST(Registry, RestartClearsDownAndAddressChangeKeepsIt) {
  auto reg = make_registry();
  for (int64_t t : {0, 500, 1000}) ASSERT_TRUE(reg->register_origin(origin("a", "10.0.0.1", "1"), t).ok());
  reg->report_failure("a", "refused", 1100);
  ASSERT_TRUE(reg->register_origin(origin("a", "10.0.0.2", "1"), 2000).ok());  // same process, new address
  auto v = reg->origins(2000)[0];
  EXPECT_TRUE(v.down);
  EXPECT_EQ(v.heartbeat_interval_ms, 1000);
  ASSERT_TRUE(reg->register_origin(origin("a", "10.0.0.2", "2"), 3000).ok());  // restarted
  v = reg->origins(3000)[0];
  EXPECT_FALSE(v.down);
  EXPECT_TRUE(v.alive);
  EXPECT_EQ(v.heartbeat_interval_ms, 1000);  // same heartbeat settings
}

}  // namespace
}  // namespace sp
