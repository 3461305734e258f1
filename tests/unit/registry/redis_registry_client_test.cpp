// Tests for the Redis backend of RegistryClient against a real redis-server
// (redis_server_fixture.h): answers come later from the event loop and
// exactly once; two proxies (two clients with their own ids and local
// tables) agree on a stream; confirmed pins and origins reach the local
// cache; during an outage pinned streams are answered from the cache, new
// ones get unavailable, and registrations are accepted and written when
// Redis is back; a Redis that answers nothing gives ErrorKind::timeout; a
// dropped RegistryCall is never answered. Also the pure proxy id.
#include "registry/redis_registry_client.h"

#include <gtest/gtest.h>

#include <optional>

#include "registry/redis_server_fixture.h"

namespace sp {
namespace {

TEST(RedisRegistryPure, ProxyIdIsHostPidAndStart) {
  EXPECT_EQ(make_proxy_id("edge-1.example", 42, 1700000000123), "edge-1.example:42:1700000000123");
  EXPECT_EQ(make_proxy_id("we ird/host", 7, 1), "we_ird_host:7:1");
  EXPECT_EQ(make_proxy_id("", 7, 1), "localhost:7:1");
}

OriginSpec origin(const std::string& server, const std::string& pid = "100") {
  OriginSpec s;
  s.server = server;
  s.service = "svc";
  s.pid = pid;
  s.ip = "127.0.0.1";
  s.endpoints[int(Proto::rtmp)].push_back(Endpoint{"", 1935});
  s.endpoints[int(Proto::http)].push_back(Endpoint{"", 8080});
  return s;
}

class RedisRegistryClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RedisServer>(free_port());
    std::string err = server_->start();
    ASSERT_TRUE(err.empty()) << "these tests need a real redis-server: " << err;
    prefix_ = std::string("rc:") + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ":";
  }

  struct Proxy {
    std::unique_ptr<Registry> local;
    std::unique_ptr<RedisRegistryClient> client;
  };
  Proxy proxy(Loop& loop, const std::string& id, int64_t timeout_ms = 500) {
    Proxy p;
    auto r = Registry::create(Registry::minimum_size() * 4, RegistryTtls{});
    EXPECT_TRUE(r.ok()) << r.error();
    p.local = std::move(*r);
    RedisRegistryOptions o;
    o.redis.address = server_->address();
    o.redis.command_timeout_ms = timeout_ms;
    o.redis.connect_timeout_ms = timeout_ms;
    o.redis.backoff_min_ms = 20;
    o.redis.backoff_max_ms = 100;
    o.store.prefix = prefix_;
    o.store.proxy_id = id;
    auto c = RedisRegistryClient::create(loop.base.get(), *p.local, o);
    EXPECT_TRUE(c.ok()) << c.error();
    p.client = std::move(*c);
    EXPECT_TRUE(loop.run_until([&] { return p.client->reachable(); })) << "no connection to redis";
    return p;
  }
  Status registered(Loop& loop, Proxy& p, const OriginSpec& spec) {
    std::optional<Status> out;
    RegistryCall call = p.client->register_origin(spec, monotonic_ms(), [&](Status s) { out = s; });
    if (!loop.run_until([&] { return out.has_value(); })) return Status::Error("test: no answer");
    return *out;
  }
  Result<Pick> picked(Loop& loop, Proxy& p, const std::string& key, bool* later = nullptr) {
    std::optional<Result<Pick>> out;
    RegistryCall call = p.client->pick(key, Proto::rtmp, monotonic_ms(), [&](Result<Pick> r) { out.emplace(std::move(r)); });
    if (later) *later = !out.has_value() && call.pending();
    if (!loop.run_until([&] { return out.has_value(); })) return Result<Pick>::Error("test: no answer");
    return std::move(*out);
  }

  std::unique_ptr<RedisServer> server_;
  std::string prefix_;
};

TEST_F(RedisRegistryClientTest, TwoProxiesAgreeAndTheCacheFollows) {
  Loop loop;
  Proxy a = proxy(loop, "proxy-a");
  Proxy b = proxy(loop, "proxy-b");
  EXPECT_STREQ(a.client->backend(), "redis");
  EXPECT_TRUE(a.client->backend_state().reachable);
  EXPECT_EQ(a.client->backend_state().proxy_id, "proxy-a");
  ASSERT_TRUE(registered(loop, a, origin("o1")).ok());
  ASSERT_TRUE(registered(loop, a, origin("o2")).ok());

  // B never saw a registration, yet picks through Redis; the answer comes
  // from the event loop, not inside the call.
  bool later = false;
  auto pb = picked(loop, b, "live/s1", &later);
  ASSERT_TRUE(pb.ok()) << pb.error();
  EXPECT_TRUE(later);
  auto pa = picked(loop, a, "live/s1");
  ASSERT_TRUE(pa.ok()) << pa.error();
  EXPECT_EQ(pa->origin.server, pb->origin.server);

  // The picked origin is now in B's local table; the pin only once confirmed.
  bool cached = false;
  for (const OriginView& o : b.local->origins(monotonic_ms())) cached |= o.server == pb->origin.server;
  EXPECT_TRUE(cached);
  EXPECT_FALSE(b.local->pinned("live/s1", Proto::rtmp, Proto::rtmp, monotonic_ms()).ok());
  ASSERT_TRUE(b.client->confirm("live/s1", pb->origin.server, monotonic_ms()).ok());
  auto local = b.local->pinned("live/s1", Proto::rtmp, Proto::rtmp, monotonic_ms());
  ASSERT_TRUE(local.ok()) << local.error();
  EXPECT_EQ(local->origin.server, pb->origin.server);

  // The cluster view lists the stream with each proxy's clients.
  b.client->add_client("live/s1", Proto::rtmp, 2, monotonic_ms());
  a.client->add_client("live/s1", Proto::rtmp, 1, monotonic_ms());
  std::optional<Result<std::vector<ClusterStreamView>>> streams;
  ASSERT_TRUE(loop.run_until([&] {
    std::optional<Result<std::vector<ClusterStreamView>>> got;
    RegistryCall c = a.client->cluster_streams(monotonic_ms(), [&](auto r) { got.emplace(std::move(r)); });
    loop.run_until([&] { return got.has_value(); });
    if (!got || !got->ok() || (*got)->size() != 1 || (**got)[0].holders.size() != 2) return false;
    streams = std::move(got);
    return true;
  }));
  const ClusterStreamView& s = (**streams)[0];
  EXPECT_EQ(s.view.key, "live/s1");
  EXPECT_EQ(s.view.clients[int(Proto::rtmp)], 3u);
}

TEST_F(RedisRegistryClientTest, OutageAnswersPinnedStreamsFromTheCacheAndQueuesRegistrations) {
  Loop loop;
  Proxy a = proxy(loop, "proxy-a");
  Proxy b = proxy(loop, "proxy-b");
  ASSERT_TRUE(registered(loop, a, origin("o1")).ok());
  auto p = picked(loop, a, "live/pinned");
  ASSERT_TRUE(p.ok()) << p.error();
  ASSERT_TRUE(a.client->confirm("live/pinned", p->origin.server, monotonic_ms()).ok());

  server_->stop();
  ASSERT_TRUE(loop.run_until([&] { return !a.client->reachable() && !b.client->reachable(); }));
  EXPECT_FALSE(a.client->backend_state().reachable);

  auto cached = picked(loop, a, "live/pinned");
  ASSERT_TRUE(cached.ok()) << cached.error();
  EXPECT_EQ(cached->origin.server, "o1");
  auto fresh = picked(loop, a, "live/new");
  ASSERT_FALSE(fresh.ok());
  EXPECT_EQ(fresh.kind(), ErrorKind::unavailable);
  EXPECT_NE(fresh.error().find("live/new"), std::string::npos) << fresh.error();

  // Accepted locally, written when Redis is back (B then sees it).
  ASSERT_TRUE(registered(loop, a, origin("o9")).ok());
  EXPECT_EQ(a.client->queued_registrations(), 1u);
  ASSERT_EQ(server_->start(), "");
  ASSERT_TRUE(loop.run_until([&] { return a.client->reachable() && b.client->reachable(); }, 5000));
  ASSERT_TRUE(loop.run_until([&] {
    std::optional<Result<std::vector<OriginView>>> got;
    RegistryCall c = b.client->origins(monotonic_ms(), [&](auto r) { got.emplace(std::move(r)); });
    loop.run_until([&] { return got.has_value(); });
    if (!got || !got->ok()) return false;
    for (const OriginView& o : **got) {
      if (o.server == "o9") return true;
    }
    return false;
  }));
  EXPECT_EQ(a.client->queued_registrations(), 0u);
}

// A restarted Redis without persistence has lost every pin: once it is back
// (and the origins re-registered by their heartbeats), the API worker's tick
// pins again the streams this host holds clients of, to the origin they are
// on, so another proxy's new client of the stream reaches that origin.
TEST_F(RedisRegistryClientTest, RestartedRedisGetsTheHeldStreamsPinnedAgain) {
  Loop loop;
  Proxy a = proxy(loop, "proxy-a");
  Proxy b = proxy(loop, "proxy-b");
  ASSERT_TRUE(registered(loop, a, origin("o1")).ok());
  ASSERT_TRUE(registered(loop, a, origin("o2")).ok());
  auto held = picked(loop, a, "live/held");
  ASSERT_TRUE(held.ok()) << held.error();
  ASSERT_TRUE(a.client->confirm("live/held", held->origin.server, monotonic_ms()).ok());
  a.client->add_client("live/held", Proto::rtmp, 1, monotonic_ms());
  auto idle = picked(loop, a, "live/idle");
  ASSERT_TRUE(idle.ok()) << idle.error();
  ASSERT_TRUE(a.client->confirm("live/idle", idle->origin.server, monotonic_ms()).ok());

  server_->stop();
  ASSERT_TRUE(loop.run_until([&] { return !a.client->reachable() && !b.client->reachable(); }));
  ASSERT_EQ(server_->start(), "");  // empty: no persistence
  ASSERT_TRUE(loop.run_until([&] { return a.client->reachable() && b.client->reachable(); }, 5000));
  ASSERT_TRUE(registered(loop, b, origin("o1")).ok());
  ASSERT_TRUE(registered(loop, b, origin("o2")).ok());

  std::vector<StreamView> listed;
  ASSERT_TRUE(loop.run_until([&] {
    a.client->tick(monotonic_ms());
    std::optional<Result<std::vector<StreamView>>> got;
    RegistryCall c = b.client->streams(monotonic_ms(), [&](auto r) { got.emplace(std::move(r)); });
    loop.run_until([&] { return got.has_value(); });
    if (!got || !got->ok() || (*got)->empty()) return false;
    listed = std::move(**got);
    return true;
  }, 5000));
  ASSERT_EQ(listed.size(), 1u);  // the idle stream (no clients here) is not pinned again
  EXPECT_EQ(listed[0].key, "live/held");
  EXPECT_EQ(listed[0].origin_server, held->origin.server);
  // Another proxy's new client of the stream goes to the same origin.
  for (int i = 0; i < 3; i++) {
    auto again = picked(loop, b, "live/held");
    ASSERT_TRUE(again.ok()) << again.error();
    EXPECT_EQ(again->origin.server, held->origin.server);
  }
}

TEST_F(RedisRegistryClientTest, SilentRedisTimesOutAndDroppedCallsAreNeverAnswered) {
  Loop loop;
  Proxy a = proxy(loop, "proxy-a", 200);
  ASSERT_TRUE(registered(loop, a, origin("o1")).ok());

  bool dropped_ran = false;
  {
    RegistryCall c = a.client->pick("live/x", Proto::rtmp, monotonic_ms(), [&](Result<Pick>) { dropped_ran = true; });
    EXPECT_TRUE(c.pending());
  }
  server_->pause();
  int64_t t0 = monotonic_ms();
  auto r = picked(loop, a, "live/y");
  int64_t waited = monotonic_ms() - t0;
  server_->resume();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.kind(), ErrorKind::timeout) << r.error();
  EXPECT_GE(waited, 150);
  EXPECT_LT(waited, 2000);
  loop.run_until([] { return false; }, 300);
  EXPECT_FALSE(dropped_ran);
}

}  // namespace
}  // namespace sp
