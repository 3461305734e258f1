// Tests for the Redis registry store. The pure parts (addresses, endpoint
// encoding, key names, reply decoding) need no server. The rest runs against
// a real redis-server the fixture starts on a free loopback port (a missing
// redis-server fails these tests loudly): registration and expiry by Redis
// TTLs, sticky picks, pending pin expiry and confirm(), down-marks seen by
// another proxy, client counts vanishing with their proxy, sessions and the
// caps, reconnection after a Redis restart (EVALSHA falling back to EVAL),
// a unix socket address, per-call timeouts,
// AUTH + SELECT, and the race: 10,000 concurrent first picks for 1,000 new
// streams from 4 proxies (threads, each with its own connection) with 3
// origins, which must give every stream exactly one origin.
#include "registry/redis_store.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/event_ptr.h"
#include "registry/redis_server_fixture.h"

namespace sp {
namespace {

// ---------------------------------------------------------------- pure parts

TEST(RedisPure, ParsesAddresses) {
  auto a = parse_redis_address("127.0.0.1:6380");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6380);
  a = parse_redis_address("redis.local");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 6379);
  a = parse_redis_address("[::1]:7000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 7000);
  EXPECT_EQ(a->to_string(), "[::1]:7000");
  a = parse_redis_address("unix:/run/redis.sock");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->unix_path, "/run/redis.sock");
  a = parse_redis_address("/tmp/r.sock");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->unix_path, "/tmp/r.sock");
  EXPECT_FALSE(parse_redis_address("").ok());
  EXPECT_FALSE(parse_redis_address("host:").ok());
  EXPECT_FALSE(parse_redis_address("host:0").ok());
  EXPECT_FALSE(parse_redis_address("host:70000").ok());
  EXPECT_FALSE(parse_redis_address("::1").ok());
  EXPECT_FALSE(parse_redis_address("[::1").ok());
  EXPECT_FALSE(parse_redis_address(":6379").ok());
}

TEST(RedisPure, ErrorRepliesKeepTheRegistryKinds) {
  EXPECT_EQ(redis_error_kind("registry full: 3 sessions"), ErrorKind::full);
  EXPECT_EQ(redis_error_kind("no alive origin serves rtmp"), ErrorKind::unavailable);
  EXPECT_EQ(redis_error_kind("origin o1 is gone"), ErrorKind::unavailable);
  EXPECT_EQ(redis_error_kind("origin o1 holds stream s and has no srt endpoint"), ErrorKind::unavailable);
  EXPECT_EQ(redis_error_kind("NOSCRIPT No matching script"), ErrorKind::internal);
  EXPECT_EQ(redis_error_kind("OOM command not allowed"), ErrorKind::internal);
  EXPECT_EQ(redis_error_kind(""), ErrorKind::internal);
}

TEST(RedisPure, ScriptSha1) {
  RedisScript s("empty", "");
  EXPECT_EQ(s.sha1(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(RedisPure, EndpointsRoundTrip) {
  std::vector<Endpoint> eps{{"", 1935}, {"10.0.0.2", 1936}, {"::1", 8000}};
  std::string text = encode_endpoints(eps);
  EXPECT_EQ(text, "1935/ 1936/10.0.0.2 8000/::1");
  auto back = decode_endpoints(text);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, eps);
  EXPECT_TRUE(decode_endpoints("")->empty());
  EXPECT_FALSE(decode_endpoints("x/host").ok());
  EXPECT_FALSE(decode_endpoints("1935").ok());
  EXPECT_FALSE(decode_endpoints("0/").ok());
}

TEST(RedisPure, KeyNames) {
  EXPECT_EQ(redis_origin_key("sp:", "o1"), "sp:o:o1");
  EXPECT_EQ(redis_origin_alive_key("sp:", "o1"), "sp:oa:o1");
  EXPECT_EQ(redis_pin_key("sp:", "live/a"), "sp:p:live/a");
  EXPECT_EQ(redis_proxy_alive_key("sp:", "px1"), "sp:px:px1");
  EXPECT_EQ(redis_proxy_counts_key("sp:", "px1"), "sp:pc:px1");
  EXPECT_EQ(redis_session_key("sp:", SessionKind::hls_client, "ab"), "sp:s:3:ab");
}

TEST(RedisPure, ChecksSpecs) {
  OriginSpec s;
  EXPECT_FALSE(check_origin_spec(s).ok());
  s.server = "o1";
  EXPECT_TRUE(check_origin_spec(s).ok());
  s.endpoints[0].push_back(Endpoint{"a b", 1});
  EXPECT_FALSE(check_origin_spec(s).ok());
  s.endpoints[0] = {Endpoint{"", 1}, Endpoint{"", 2}, Endpoint{"", 3}, Endpoint{"", 4}, Endpoint{"", 5}};
  EXPECT_FALSE(check_origin_spec(s).ok());
  s.endpoints[0].clear();
  s.server = std::string(kServerIdMax + 1, 'x');
  EXPECT_FALSE(check_origin_spec(s).ok());
}

RedisValue S(std::string s) { return RedisValue::of_string(std::move(s)); }
RedisValue I(int64_t n) { return RedisValue::of_integer(n); }
RedisValue A(std::vector<RedisValue> e) { return RedisValue::of_array(std::move(e)); }

RedisValue origin_value(const std::string& server, int64_t hb_alive, int64_t down) {
  return A({S(server), S("svc"), S("42"), S("dev"), S("10.0.0.9"), S("1935/"), S("8080/10.0.0.7"), S(""), S(""),
            S("8000/"), I(hb_alive), I(down), S(down ? "refused" : ""), I(down ? 900 : 0), I(1), I(5000), I(120),
            I(1700000000000), A({S("live/a"), S("live/b")}), I(1), I(0), S("95.500"), S("-1"), I(3), I(0), I(7),
            I(12), I(250000)});
}

TEST(RedisPure, DecodesOrigin) {
  auto o = decode_origin(origin_value("o1", 1, 1));
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_EQ(o->server, "o1");
  EXPECT_EQ(o->pid, "42");
  EXPECT_TRUE(o->heartbeat_alive);
  EXPECT_TRUE(o->down);
  EXPECT_FALSE(o->alive);
  EXPECT_EQ(o->down_reason, "refused");
  EXPECT_EQ(o->down_for_ms, 900);
  EXPECT_EQ(o->heartbeat_interval_ms, 5000);
  EXPECT_EQ(o->age_ms, 120);
  ASSERT_EQ(o->endpoints[int(Proto::http)].size(), 1u);
  EXPECT_EQ(o->endpoints[int(Proto::http)][0].host, "10.0.0.7");
  EXPECT_EQ(o->streams, (std::vector<std::string>{"live/a", "live/b"}));
  EXPECT_TRUE(o->draining);
  EXPECT_FALSE(o->overloaded);
  EXPECT_DOUBLE_EQ(o->cpu_percent, 95.5);
  EXPECT_LT(o->load_1m, 0);  // not reported
  EXPECT_EQ(o->bytes_per_sec, 250000u);
  EXPECT_EQ(o->weight, 3);
  EXPECT_EQ(o->weight_override, 0);
  EXPECT_EQ(o->load, 7u);
  EXPECT_EQ(o->clients, 12u);
  EXPECT_FALSE(decode_origin(A({S("o1")})).ok());
  EXPECT_FALSE(decode_origin(S("o1")).ok());
}

TEST(RedisPure, DecodesPick) {
  auto p = decode_pick(A({S("sticky"), origin_value("o1", 1, 0)}), Proto::rtmp);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->how, RedisPick::How::sticky);
  EXPECT_EQ(p->pick.host, "10.0.0.9");  // wildcard endpoint: the origin's ip
  EXPECT_EQ(p->pick.port, 1935);
  p = decode_pick(A({S("new"), origin_value("o1", 1, 0)}), Proto::http);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->how, RedisPick::How::fresh);
  EXPECT_EQ(p->pick.host, "10.0.0.7");  // specific endpoint host
  EXPECT_FALSE(decode_pick(A({S("new"), origin_value("o1", 1, 0)}), Proto::srt).ok());
  EXPECT_FALSE(decode_pick(A({S("what"), origin_value("o1", 1, 0)}), Proto::rtmp).ok());
}

TEST(RedisPure, DecodesStreamsSummingLiveProxies) {
  RedisValue v = A({A({A({S("live/a"), S("o1"), S("c"), I(5)}), A({S("live/b"), S("o2"), S("p"), I(6)})}),
                    A({A({S("px1"), A({S("0|live/a"), S("2"), S("1|live/a"), S("1"), S("0|gone"), S("9")})}),
                       A({S("px2"), A({S("0|live/a"), S("3"), S("bad"), S("1")})})})});
  auto s = decode_streams(v);
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_EQ(s->size(), 2u);
  const RedisStreamView& a = (*s)[0];
  EXPECT_EQ(a.view.key, "live/a");
  EXPECT_EQ(a.view.origin_server, "o1");
  EXPECT_FALSE(a.pending);
  EXPECT_EQ(a.view.clients[int(Proto::rtmp)], 5u);
  EXPECT_EQ(a.view.clients[int(Proto::http)], 1u);
  ASSERT_EQ(a.holders.size(), 2u);
  EXPECT_TRUE((*s)[1].pending);
  EXPECT_TRUE((*s)[1].holders.empty());
}

TEST(RedisPure, DecodesSessionsAndUsage) {
  auto l = decode_sessions(A({A({S("3:fp"), S("live/a"), S("o1"), S("sid"), I(4)}), A({S("bad"), S(""), S(""), S(""), I(0)})}));
  ASSERT_TRUE(l.ok()) << l.error();
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].kind, SessionKind::hls_client);
  EXPECT_EQ((*l)[0].id, "fp");
  EXPECT_EQ((*l)[0].data, "sid");
  auto u = decode_usage(A({I(5), I(2), I(7), I(3), I(11), I(12)}));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->streams, 5u);
  EXPECT_EQ(u->pending_streams, 2u);
  EXPECT_EQ(u->sessions, 7u);
  EXPECT_EQ(u->hls_clients, 3u);
  EXPECT_EQ(u->evicted_streams, 11u);
  EXPECT_EQ(u->evicted_sessions, 12u);
  EXPECT_FALSE(decode_usage(A({I(1)})).ok());
}

TEST(RedisPure, DecodesSession) {
  auto s = decode_session(SessionKind::rtc, "u1", A({S("live/a"), S("o1"), S("data"), I(7)}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->stream_key, "live/a");
  EXPECT_EQ(s->data, "data");
  EXPECT_EQ(s->age_ms, 7);
  EXPECT_FALSE(decode_session(SessionKind::rtc, "u1", RedisValue()).ok());
}

// ---------------------------------------------------------- a real server

OriginSpec spec(const std::string& server, const std::string& pid = "100", bool rtc = false) {
  OriginSpec s;
  s.server = server;
  s.service = "svc";
  s.pid = pid;
  s.ip = "127.0.0.1";
  s.endpoints[int(Proto::rtmp)].push_back(Endpoint{"", 1935});
  s.endpoints[int(Proto::http)].push_back(Endpoint{"", 8080});
  if (rtc) {
    s.endpoints[int(Proto::api)].push_back(Endpoint{"", 1985});
    s.endpoints[int(Proto::rtc)].push_back(Endpoint{"", 8000});
  }
  return s;
}

class RedisLive : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new RedisServer(free_port());
    start_error_ = new std::string(server_->start());
  }
  static void TearDownTestSuite() {
    delete server_;
    delete start_error_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(start_error_->empty()) << "these tests need a real redis-server: " << *start_error_;
    // A prefix per test: tests never see each other's keys.
    prefix_ = std::string("t:") + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ":";
  }
  std::unique_ptr<RedisClient> client(Loop& loop, RedisClientOptions o = {}) {
    if (o.address == RedisClientOptions().address) o.address = server_->address();
    auto c = RedisClient::create(loop.base.get(), o);
    EXPECT_TRUE(c.ok()) << c.error();
    (*c)->start();
    EXPECT_TRUE(loop.run_until([&] { return (*c)->connected(); })) << "no connection to " << o.address;
    return std::move(*c);
  }
  RedisStoreOptions store_options(const std::string& proxy, RegistryTtls ttls = {}) {
    RedisStoreOptions o;
    o.prefix = prefix_;
    o.proxy_id = proxy;
    o.ttls = ttls;
    return o;
  }
  static RedisServer* server_;
  static std::string* start_error_;
  std::string prefix_;
};
RedisServer* RedisLive::server_ = nullptr;
std::string* RedisLive::start_error_ = nullptr;

using Reg = Result<RedisRegistration>;

TEST_F(RedisLive, RegisterHeartbeatRestartAndExpire) {
  Loop loop;
  auto c = client(loop);
  RegistryTtls ttls;
  ttls.origin_ttl_ms = 400;
  RedisStore st(*c, store_options("px1", ttls));
  auto r = loop.call<RedisRegistration>([&](auto done) { st.register_origin(spec("o1"), done); });
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->what, "registered");
  EXPECT_EQ(r->dead_after_ms, 400);
  r = loop.call<RedisRegistration>([&](auto done) { st.register_origin(spec("o1"), done); });
  EXPECT_EQ(r->what, "heartbeat");
  r = loop.call<RedisRegistration>([&](auto done) { st.register_origin(spec("o1", "101"), done); });
  EXPECT_EQ(r->what, "restarted");
  EXPECT_FALSE(loop.call<RedisRegistration>([&](auto done) { st.register_origin(OriginSpec{}, done); }).ok());

  auto list = loop.call<std::vector<OriginView>>([&](auto done) { st.origins(done); });
  ASSERT_TRUE(list.ok()) << list.error();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].pid, "101");
  EXPECT_TRUE((*list)[0].alive);
  ASSERT_EQ((*list)[0].endpoints[int(Proto::http)].size(), 1u);
  EXPECT_EQ((*list)[0].endpoints[int(Proto::http)][0].port, 8080);
  // The liveness mark carries the TTL: Redis says when it dies.
  long long pttl = server_->integer("PTTL " + redis_origin_alive_key(prefix_, "o1"));
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 400);

  // No more heartbeats: dead within the TTL (checked every 20 ms).
  int64_t start = monotonic_ms();
  bool dead = false;
  while (!dead && monotonic_ms() - start < 3000) {
    auto l = loop.call<std::vector<OriginView>>([&](auto done) { st.origins(done); });
    ASSERT_TRUE(l.ok());
    dead = l->size() == 1 && !(*l)[0].alive;
    if (!dead) loop.run_until([] { return false; }, 20);
  }
  EXPECT_TRUE(dead);
  EXPECT_GE(monotonic_ms() - start, 250);
  // A pick now finds nobody alive.
  auto p = loop.call<RedisPick>([&](auto done) { st.pick("live/x", Proto::rtmp, std::nullopt, done); });
  EXPECT_FALSE(p.ok());
  EXPECT_NE(p.error().find("no alive origin"), std::string::npos) << p.error();
  // And the entry itself goes origin_ttl later.
  EXPECT_TRUE(loop.run_until(
      [&] { return server_->integer("EXISTS " + redis_origin_key(prefix_, "o1")) == 0; }, 3000));
}

TEST_F(RedisLive, LearnedHeartbeatIntervalShortensLiveness) {
  Loop loop;
  auto c = client(loop);
  RedisStore st(*c, store_options("px1"));  // origin_ttl 300 s, heartbeat_misses 3
  auto reg = [&] { return loop.call<RedisRegistration>([&](auto d) { st.register_origin(spec("o1"), d); }); };
  EXPECT_EQ(reg()->dead_after_ms, 300 * 1000);
  EXPECT_EQ(reg()->dead_after_ms, 300 * 1000);  // the gap since the registration is no sample
  // The next gap (clamped to at least 1 s) is: dead after 3 intervals.
  auto r = reg();
  EXPECT_EQ(r->what, "heartbeat");
  EXPECT_EQ(r->dead_after_ms, 3000);
  long long pttl = server_->integer("PTTL " + redis_origin_alive_key(prefix_, "o1"));
  EXPECT_GT(pttl, 2000);
  EXPECT_LE(pttl, 3000);
  auto list = loop.call<std::vector<OriginView>>([&](auto d) { st.origins(d); });
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)[0].heartbeat_interval_ms, 1000);
  // A restart keeps the learned interval.
  r = loop.call<RedisRegistration>([&](auto d) { st.register_origin(spec("o1", "777"), d); });
  EXPECT_EQ(r->what, "restarted");
  EXPECT_EQ(r->dead_after_ms, 3000);
}

TEST_F(RedisLive, StickyPickLeastLoadedAndAlso) {
  Loop loop;
  auto c = client(loop);
  RedisStore a(*c, store_options("pxA"));
  RedisStore b(*c, store_options("pxB"));
  ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { a.register_origin(spec("o1"), d); }).ok());
  ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { a.register_origin(spec("o2", "100", true), d); }).ok());
  auto p1 = loop.call<RedisPick>([&](auto d) { a.pick("live/1", Proto::rtmp, std::nullopt, d); });
  ASSERT_TRUE(p1.ok()) << p1.error();
  EXPECT_EQ(p1->how, RedisPick::How::fresh);
  EXPECT_EQ(p1->pick.port, 1935);
  // Another proxy gets the same origin: sticky.
  auto again = loop.call<RedisPick>([&](auto d) { b.pick("live/1", Proto::http, std::nullopt, d); });
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->how, RedisPick::How::sticky);
  EXPECT_EQ(again->pick.origin.server, p1->pick.origin.server);
  EXPECT_EQ(again->pick.port, 8080);
  // The next new stream goes to the other, less loaded origin.
  auto p2 = loop.call<RedisPick>([&](auto d) { b.pick("live/2", Proto::rtmp, std::nullopt, d); });
  ASSERT_TRUE(p2.ok());
  EXPECT_NE(p2->pick.origin.server, p1->pick.origin.server);
  // WebRTC needs api + rtc: only o2 has both.
  for (int i = 0; i < 4; i++) {
    auto w = loop.call<RedisPick>(
        [&](auto d) { a.pick("rtc/" + std::to_string(i), Proto::rtc, Proto::api, d); });
    ASSERT_TRUE(w.ok()) << w.error();
    EXPECT_EQ(w->pick.origin.server, "o2");
    EXPECT_EQ(w->pick.port, 8000);
  }
  EXPECT_FALSE(loop.call<RedisPick>([&](auto d) { a.pick("live/s", Proto::srt, std::nullopt, d); }).ok());
  auto origins = loop.call<std::vector<OriginView>>([&](auto d) { a.origins(d); });
  ASSERT_TRUE(origins.ok());
  size_t pinned = 0;
  for (const auto& o : *origins) pinned += o.streams.size();
  EXPECT_EQ(pinned, 6u);
}

TEST_F(RedisLive, PendingPinExpiresConfirmMakesItLast) {
  Loop loop;
  auto c = client(loop);
  RegistryTtls ttls;
  ttls.session_ttl_ms = 300;  // pending pins live min(30 s, session_ttl)
  RedisStore st(*c, store_options("px1", ttls));
  ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { st.register_origin(spec("o1"), d); }).ok());
  auto p = loop.call<RedisPick>([&](auto d) { st.pick("live/p", Proto::rtmp, std::nullopt, d); });
  ASSERT_TRUE(p.ok()) << p.error();
  std::string pin = redis_pin_key(prefix_, "live/p");
  EXPECT_EQ(server_->text("HGET " + pin + " st"), "p");
  long long pttl = server_->integer("PTTL " + pin);
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 300);
  EXPECT_TRUE(loop.run_until([&] { return server_->integer("EXISTS " + pin) == 0; }, 3000)) << "pending pin kept";

  // confirm() after expiry makes the pin again, for this origin.
  auto cf = loop.call<RedisConfirm>([&](auto d) { st.confirm("live/p", "o1", d); });
  ASSERT_TRUE(cf.ok()) << cf.error();
  EXPECT_EQ(cf->what, "remade");
  EXPECT_EQ(server_->text("HGET " + pin + " st"), "c");
  cf = loop.call<RedisConfirm>([&](auto d) { st.confirm("live/p", "o1", d); });
  EXPECT_EQ(cf->what, "used");
  // A pin naming another origin stays.
  ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { st.register_origin(spec("o2"), d); }).ok());
  cf = loop.call<RedisConfirm>([&](auto d) { st.confirm("live/p", "o2", d); });
  ASSERT_TRUE(cf.ok());
  EXPECT_EQ(cf->what, "moved");
  EXPECT_EQ(cf->origin_server, "o1");
  EXPECT_FALSE(loop.call<RedisConfirm>([&](auto d) { st.confirm("live/p", "nobody", d); }).ok());

  // A confirmed pin with a client of a live proxy outlives session_ttl
  // while the proxy heartbeats; once the client leaves it expires.
  ASSERT_TRUE(loop.call<int64_t>([&](auto d) { st.add_client("live/p", Proto::rtmp, 1, d); }).ok());
  int64_t until = monotonic_ms() + 700;
  while (monotonic_ms() < until) {
    ASSERT_TRUE(loop.call<int64_t>([&](auto d) { st.proxy_heartbeat(d); }).ok());
    ASSERT_EQ(server_->integer("EXISTS " + pin), 1) << "a pin with clients expired";
    loop.run_until([] { return false; }, 50);
  }
  auto n = loop.call<int64_t>([&](auto d) { st.add_client("live/p", Proto::rtmp, -1, d); });
  EXPECT_EQ(*n, 0);
  EXPECT_TRUE(loop.run_until([&] { return server_->integer("EXISTS " + pin) == 0; }, 3000));
}

TEST_F(RedisLive, DownMarkSeenByEveryProxy) {
  Loop loop;
  auto ca = client(loop);
  auto cb = client(loop);
  RegistryTtls ttls;
  ttls.max_fails = 2;
  ttls.fail_timeout_ms = 60 * 1000;
  RedisStore a(*ca, store_options("pxA", ttls));
  RedisStore b(*cb, store_options("pxB", ttls));
  ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { a.register_origin(spec("o1"), d); }).ok());
  ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { b.register_origin(spec("o2"), d); }).ok());
  EXPECT_EQ(*loop.call<std::string>([&](auto d) { a.report_failure("o1", "connect refused", d); }), "counted");
  EXPECT_EQ(*loop.call<std::string>([&](auto d) { b.report_failure("o1", "connect refused", d); }), "down");
  EXPECT_EQ(*loop.call<std::string>([&](auto d) { b.report_failure("nobody", "x", d); }), "ignored");
  auto list = loop.call<std::vector<OriginView>>([&](auto d) { a.origins(d); });
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE((*list)[0].down);
  EXPECT_EQ((*list)[0].down_reason, "connect refused");
  EXPECT_GT((*list)[0].down_for_ms, 50 * 1000);
  // New streams avoid it, from either proxy.
  for (int i = 0; i < 6; i++) {
    auto p = loop.call<RedisPick>(
        [&](auto d) { (i % 2 ? a : b).pick("live/d" + std::to_string(i), Proto::rtmp, std::nullopt, d); });
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->pick.origin.server, "o2");
  }
  EXPECT_EQ(*loop.call<std::string>([&](auto d) { a.report_success("o1", d); }), "up");
  list = loop.call<std::vector<OriginView>>([&](auto d) { b.origins(d); });
  EXPECT_FALSE((*list)[0].down);
  // A down origin still holding a stream with clients keeps it.
  ASSERT_TRUE(loop.call<RedisConfirm>([&](auto d) { a.confirm("live/keep", "o1", d); }).ok());
  ASSERT_TRUE(loop.call<int64_t>([&](auto d) { a.add_client("live/keep", Proto::rtmp, 1, d); }).ok());
  loop.call<std::string>([&](auto d) { a.report_failure("o1", "reset", d); });
  loop.call<std::string>([&](auto d) { a.report_failure("o1", "reset", d); });
  auto keep = loop.call<RedisPick>([&](auto d) { b.pick("live/keep", Proto::rtmp, std::nullopt, d); });
  ASSERT_TRUE(keep.ok());
  EXPECT_EQ(keep->pick.origin.server, "o1");
  EXPECT_EQ(keep->how, RedisPick::How::sticky);
  // Without clients it moves.
  ASSERT_TRUE(loop.call<int64_t>([&](auto d) { a.add_client("live/keep", Proto::rtmp, -1, d); }).ok());
  auto moved = loop.call<RedisPick>([&](auto d) { b.pick("live/keep", Proto::rtmp, std::nullopt, d); });
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->pick.origin.server, "o2");
  EXPECT_EQ(moved->how, RedisPick::How::moved);
}

TEST_F(RedisLive, ClientCountsVanishWithTheirProxy) {
  Loop loop;
  auto c = client(loop);
  RedisStoreOptions oa = store_options("pxA");
  oa.proxy_ttl_ms = 300;
  RedisStore a(*c, oa);
  RedisStore b(*c, store_options("pxB"));  // 10 s
  ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { a.register_origin(spec("o1"), d); }).ok());
  ASSERT_TRUE(loop.call<RedisPick>([&](auto d) { a.pick("live/c", Proto::rtmp, std::nullopt, d); }).ok());
  ASSERT_TRUE(loop.call<RedisConfirm>([&](auto d) { a.confirm("live/c", "o1", d); }).ok());
  EXPECT_EQ(*loop.call<int64_t>([&](auto d) { a.add_client("live/c", Proto::rtmp, 2, d); }), 2);
  EXPECT_EQ(*loop.call<int64_t>([&](auto d) { b.add_client("live/c", Proto::http, 1, d); }), 1);
  EXPECT_EQ(*loop.call<int64_t>([&](auto d) { b.add_client("live/c", Proto::http, -5, d); }), 0);  // never below 0
  EXPECT_EQ(*loop.call<int64_t>([&](auto d) { b.add_client("live/c", Proto::http, 1, d); }), 1);
  auto s = loop.call<std::vector<RedisStreamView>>([&](auto d) { b.streams(d); });
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].view.clients[int(Proto::rtmp)], 2u);
  EXPECT_EQ((*s)[0].view.clients[int(Proto::http)], 1u);
  EXPECT_EQ((*s)[0].holders.size(), 2u);
  // pxA stops heartbeating: its counts vanish when its key expires; pxB's stay.
  int64_t start = monotonic_ms();
  EXPECT_TRUE(loop.run_until(
      [&] {
        auto v = loop.call<std::vector<RedisStreamView>>([&](auto d) { b.streams(d); });
        return v.ok() && v->size() == 1 && (*v)[0].view.clients[int(Proto::rtmp)] == 0 &&
               (*v)[0].view.clients[int(Proto::http)] == 1;
      },
      3000));
  EXPECT_GE(monotonic_ms() - start, 200);
  EXPECT_EQ(server_->integer("EXISTS " + redis_proxy_counts_key(prefix_, "pxA")), 0);
}

// A heartbeat with the host's counts replaces the proxy's counts in Redis:
// counts Redis lost come back, stale ones (a crashed worker's) go.
TEST_F(RedisLive, HeartbeatCountsReplaceTheProxysCounts) {
  Loop loop;
  auto c = client(loop);
  RedisStore a(*c, store_options("pxA"));
  ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { a.register_origin(spec("o1"), d); }).ok());
  for (const char* k : {"live/x", "live/y"}) {
    ASSERT_TRUE(loop.call<RedisPick>([&](auto d) { a.pick(k, Proto::rtmp, std::nullopt, d); }).ok());
    ASSERT_TRUE(loop.call<RedisConfirm>([&](auto d) { a.confirm(k, "o1", d); }).ok());
  }
  EXPECT_EQ(*loop.call<int64_t>([&](auto d) { a.add_client("live/x", Proto::rtmp, 5, d); }), 5);
  auto counts = [&](const std::string& key, Proto p) -> int {
    auto v = loop.call<std::vector<RedisStreamView>>([&](auto d) { a.streams(d); });
    if (!v.ok()) return -1;
    for (const RedisStreamView& s : *v) {
      if (s.view.key == key) return int(s.view.clients[int(p)]);
    }
    return -2;
  };
  // The host holds 2 rtmp clients of x (3 were a crashed worker's) and 4 http
  // clients of y that Redis never heard of.
  std::vector<RedisStore::ClientCount> host{{"live/x", Proto::rtmp, 2}, {"live/y", Proto::http, 4}};
  ASSERT_TRUE(loop.call<int64_t>([&](auto d) { a.proxy_heartbeat(&host, d); }).ok());
  EXPECT_EQ(counts("live/x", Proto::rtmp), 2);
  EXPECT_EQ(counts("live/y", Proto::http), 4);
  EXPECT_EQ(server_->integer("SISMEMBER " + prefix_ + "ph:live/y pxA"), 1);
  // Deltas go on from there; an empty snapshot clears every count and holder mark.
  EXPECT_EQ(*loop.call<int64_t>([&](auto d) { a.add_client("live/x", Proto::rtmp, 1, d); }), 3);
  std::vector<RedisStore::ClientCount> none;
  ASSERT_TRUE(loop.call<int64_t>([&](auto d) { a.proxy_heartbeat(&none, d); }).ok());
  EXPECT_EQ(counts("live/x", Proto::rtmp), 0);
  EXPECT_EQ(counts("live/y", Proto::http), 0);
  EXPECT_EQ(server_->integer("SISMEMBER " + prefix_ + "ph:live/x pxA"), 0);
  EXPECT_EQ(server_->integer("SISMEMBER " + prefix_ + "ph:live/y pxA"), 0);
}

TEST_F(RedisLive, SessionsAndCaps) {
  Loop loop;
  auto c = client(loop);
  RegistryTtls ttls;
  ttls.session_ttl_ms = 400;
  RedisStoreOptions o = store_options("px1", ttls);
  o.max_sessions = 3;
  RedisStore st(*c, o);
  auto put = [&](SessionKind k, const std::string& id) {
    return loop.call_status([&](auto d) { st.put_session(k, id, "live/s", "o1", "data-" + id, d); });
  };
  ASSERT_TRUE(put(SessionKind::hls, "h1").ok());
  auto g = loop.call<SessionView>([&](auto d) { st.get_session(SessionKind::hls, "h1", d); });
  ASSERT_TRUE(g.ok()) << g.error();
  EXPECT_EQ(g->stream_key, "live/s");
  EXPECT_EQ(g->origin_server, "o1");
  EXPECT_EQ(g->data, "data-h1");
  EXPECT_FALSE(loop.call<SessionView>([&](auto d) { st.get_session(SessionKind::rtc, "h1", d); }).ok());
  // Cap 3: an hls_client goes first, then nothing touched within 30 s goes.
  ASSERT_TRUE(put(SessionKind::hls_client, "c1").ok());
  ASSERT_TRUE(put(SessionKind::rtc, "r1").ok());
  ASSERT_TRUE(put(SessionKind::rtc, "r2").ok());
  EXPECT_FALSE(loop.call<SessionView>([&](auto d) { st.get_session(SessionKind::hls_client, "c1", d); }).ok());
  Status full = put(SessionKind::rtc, "r3");
  EXPECT_FALSE(full.ok());
  EXPECT_EQ(full.kind(), ErrorKind::full) << full.message();
  auto all = loop.call<std::vector<SessionView>>([&](auto d) { st.sessions(d); });
  ASSERT_TRUE(all.ok()) << all.error();
  ASSERT_EQ(all->size(), 3u);
  std::set<std::string> ids_seen;
  for (const auto& v : *all) ids_seen.insert(std::to_string(int(v.kind)) + ":" + v.id + "=" + v.data);
  EXPECT_EQ(ids_seen, (std::set<std::string>{"1:h1=data-h1", "2:r1=data-r1", "2:r2=data-r2"}));
  auto u = loop.call<Registry::Usage>([&](auto d) { st.usage(d); });
  ASSERT_TRUE(u.ok()) << u.error();
  EXPECT_EQ(u->sessions, 3u);
  EXPECT_EQ(u->hls_clients, 0u);
  EXPECT_EQ(u->evicted_sessions, 1u);
  // touch answers the ids gone; remove removes.
  std::vector<std::string> ids{"r1", "nope"};
  auto gone = loop.call<std::vector<std::string>>([&](auto d) { st.touch_sessions(SessionKind::rtc, ids, d); });
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, std::vector<std::string>{"nope"});
  EXPECT_TRUE(*loop.call<bool>([&](auto d) { st.remove_session(SessionKind::rtc, "r1", d); }));
  EXPECT_FALSE(*loop.call<bool>([&](auto d) { st.remove_session(SessionKind::rtc, "r1", d); }));
  // Idle sessions expire by their Redis TTL (watched without touching it).
  std::string key = redis_session_key(prefix_, SessionKind::rtc, "r2");
  long long pttl = server_->integer("PTTL " + key);
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 400);
  EXPECT_TRUE(loop.run_until([&] { return server_->integer("EXISTS " + key) == 0; }, 3000));
  EXPECT_FALSE(loop.call<SessionView>([&](auto d) { st.get_session(SessionKind::rtc, "r2", d); }).ok());
}

TEST_F(RedisLive, PinCapEvictsPendingThenIdleNeverLive) {
  Loop loop;
  auto c = client(loop);
  RedisStoreOptions o = store_options("px1");
  o.max_streams = 2;
  RedisStore st(*c, o);
  ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { st.register_origin(spec("o1"), d); }).ok());
  auto pick = [&](const std::string& s) {
    return loop.call<RedisPick>([&](auto d) { st.pick(s, Proto::rtmp, std::nullopt, d); });
  };
  ASSERT_TRUE(pick("a").ok());
  ASSERT_TRUE(loop.call<RedisConfirm>([&](auto d) { st.confirm("a", "o1", d); }).ok());
  ASSERT_TRUE(pick("b").ok());  // pending
  ASSERT_TRUE(pick("c").ok());  // evicts pending b
  EXPECT_EQ(server_->integer("EXISTS " + redis_pin_key(prefix_, "b")), 0);
  EXPECT_EQ(server_->integer("EXISTS " + redis_pin_key(prefix_, "a")), 1);
  ASSERT_TRUE(loop.call<RedisConfirm>([&](auto d) { st.confirm("c", "o1", d); }).ok());
  ASSERT_TRUE(loop.call<int64_t>([&](auto d) { st.add_client("c", Proto::rtmp, 1, d); }).ok());
  ASSERT_TRUE(pick("d").ok());  // evicts idle a, never c (clients)
  EXPECT_EQ(server_->integer("EXISTS " + redis_pin_key(prefix_, "a")), 0);
  ASSERT_TRUE(loop.call<RedisConfirm>([&](auto d) { st.confirm("d", "o1", d); }).ok());
  ASSERT_TRUE(loop.call<int64_t>([&](auto d) { st.add_client("d", Proto::rtmp, 1, d); }).ok());
  auto u = loop.call<Registry::Usage>([&](auto d) { st.usage(d); });
  ASSERT_TRUE(u.ok()) << u.error();
  EXPECT_EQ(u->streams, 2u);
  EXPECT_EQ(u->pending_streams, 0u);
  EXPECT_EQ(u->evicted_streams, 2u);
  auto full = pick("e");
  EXPECT_FALSE(full.ok());
  EXPECT_EQ(full.kind(), ErrorKind::full) << full.error();
}

TEST_F(RedisLive, ReconnectsAfterRestartAndReloadsScripts) {
  RedisServer own(free_port());
  ASSERT_EQ(own.start(), "");
  Loop loop;
  RedisClientOptions o;
  o.address = own.address();
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 100;
  auto c = client(loop, o);
  int changes = 0;
  c->set_on_state([&](bool) { changes++; });
  RedisStoreOptions so;
  so.prefix = prefix_;
  so.proxy_id = "px1";
  RedisStore st(*c, so);
  ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { st.register_origin(spec("o1"), d); }).ok());
  own.stop();
  EXPECT_TRUE(loop.run_until([&] { return !c->connected(); }));
  auto down = loop.call<RedisRegistration>([&](auto d) { st.register_origin(spec("o1"), d); });
  EXPECT_FALSE(down.ok());
  EXPECT_NE(down.error().find("not connected"), std::string::npos) << down.error();
  // Back (empty, no scripts loaded): reconnected and EVALSHA falls back to EVAL.
  ASSERT_EQ(own.start(), "");
  EXPECT_TRUE(loop.run_until([&] { return c->connected(); }));
  EXPECT_EQ(changes, 2);
  auto again = loop.call<RedisRegistration>([&](auto d) { st.register_origin(spec("o1"), d); });
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->what, "registered");
}

TEST_F(RedisLive, AuthAndSelect) {
  RedisServer own(free_port(), "s3cret");
  ASSERT_EQ(own.start(), "");
  Loop loop;
  RedisClientOptions bad;
  bad.address = own.address();
  bad.password = "wrong";
  bad.backoff_min_ms = 20;
  auto b = RedisClient::create(loop.base.get(), bad);
  ASSERT_TRUE(b.ok());
  (*b)->start();
  EXPECT_FALSE(loop.run_until([&] { return (*b)->connected(); }, 300));
  RedisClientOptions good = bad;
  good.password = "s3cret";
  good.db = 3;
  auto c = client(loop, good);
  ASSERT_TRUE(c->connected());
  auto r = loop.call<RedisValue>([&](auto d) { c->command({"SET", "k", "v"}, d); });
  ASSERT_TRUE(r.ok()) << r.error();
  freeReplyObject(own.sync("SELECT 3"));
  EXPECT_EQ(own.text("GET k"), "v");
  freeReplyObject(own.sync("SELECT 0"));
  EXPECT_EQ(own.text("GET k"), "");
}

TEST_F(RedisLive, UnixSocket) {
  std::string path = "/tmp/sp-redis-test-" + std::to_string(getpid()) + ".sock";
  RedisServer own(free_port(), "", path);
  ASSERT_EQ(own.start(), "");
  Loop loop;
  RedisClientOptions o;
  o.address = "unix:" + path;
  auto c = client(loop, o);
  auto r = loop.call<RedisValue>([&](auto d) { c->command({"SET", "via", "unix"}, d); });
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(own.text("GET via"), "unix");
  c.reset();
  own.stop();
  unlink(path.c_str());
}

TEST_F(RedisLive, CommandTimeout) {
  Loop loop;
  auto c = client(loop);
  // CLIENT PAUSE (from the test's own connection) holds the call longer
  // than its timeout.
  ASSERT_EQ(server_->text("CLIENT PAUSE 300 ALL"), "OK");
  auto r = loop.call<RedisValue>([&](auto d) { c->command({"PING"}, d, 50); });
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("timed out"), std::string::npos) << r.error();
  auto p = loop.call<RedisValue>([&](auto d) { c->command({"PING"}, d); });
  EXPECT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(c->in_flight(), 0u);
}

// 4 proxies (threads, each with its own event loop and connection) fire
// 10,000 first picks for 1,000 new streams at once against 3 origins.
TEST_F(RedisLive, ConcurrentFirstPicksNeverSplitAStream) {
  constexpr int kProxies = 4, kStreams = 1000, kPicks = 10000;
  {
    Loop loop;
    auto c = client(loop);
    RedisStore st(*c, store_options("setup"));
    for (const char* o : {"o1", "o2", "o3"}) {
      ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { st.register_origin(spec(o), d); }).ok());
    }
  }
  std::mutex mu;
  std::map<std::string, std::set<std::string>> seen;
  std::atomic<int> answers{0}, errors{0}, fresh{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kProxies; t++) {
    threads.emplace_back([&, t] {
      Loop loop;
      RedisClientOptions o;
      o.address = server_->address();
      o.command_timeout_ms = 20000;
      auto c = RedisClient::create(loop.base.get(), o);
      (*c)->start();
      if (!loop.run_until([&] { return (*c)->connected(); })) {
        errors += kPicks / kProxies;
        ready++;
        return;
      }
      RedisStore st(**c, store_options("px" + std::to_string(t)));
      std::vector<int> order(kPicks / kProxies);
      for (size_t i = 0; i < order.size(); i++) order[i] = int(i % kStreams);
      std::shuffle(order.begin(), order.end(), std::mt19937(t));
      ready++;
      while (ready.load() < kProxies) std::this_thread::yield();  // start together
      int mine = 0;
      for (int s : order) {
        std::string key = "race/" + std::to_string(s);
        st.pick(key, Proto::rtmp, std::nullopt, [&, key](Result<RedisPick> r) {
          mine++;
          answers++;
          if (!r.ok()) {
            errors++;
            return;
          }
          if (r->how == RedisPick::How::fresh) fresh++;
          std::lock_guard<std::mutex> l(mu);
          seen[key].insert(r->pick.origin.server);
        });
      }
      loop.run_until([&] { return mine == int(order.size()); }, 30000);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(answers.load(), kPicks);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(fresh.load(), kStreams);  // exactly one first pick per stream
  ASSERT_EQ(seen.size(), size_t(kStreams));
  int splits = 0;
  std::map<std::string, int> per_origin;
  for (const auto& [key, origins] : seen) {
    if (origins.size() != 1) splits++;
    per_origin[*origins.begin()]++;
    EXPECT_EQ(server_->text("HGET " + redis_pin_key(prefix_, key) + " o"), *origins.begin()) << key;
  }
  EXPECT_EQ(splits, 0);
  // Least loaded: the three origins share the streams evenly.
  for (const auto& [o, n] : per_origin) {
    EXPECT_GE(n, kStreams / 3 - 1) << o;
    EXPECT_LE(n, kStreams / 3 + 1) << o;
  }
}

// Issue 16: the Redis pick script and the memory registry apply one rule
// (eligible = alive, not draining, not overloaded; lowest load / weight;
// ties to the smallest server id), so the same registrations, controls and
// picks give the same origin for every stream, in the same order.
TEST_F(RedisLive, PickRuleMatchesTheMemoryRegistry) {
  Loop loop;
  auto c = client(loop);
  RegistryTtls ttls;  // origin_cpu_limit 90
  RedisStore st(*c, store_options("px1", ttls));
  auto mem = Registry::create(1024 * 1024, ttls);
  ASSERT_TRUE(mem.ok()) << mem.error();
  Registry& m = **mem;
  const int64_t now = 1000;  // the memory clock stays within one load refresh
  auto both = [&](const std::string& server, int weight, double cpu, const std::string& service = "svc") {
    OriginSpec s = spec(server);
    s.service = service;
    s.weight = weight;
    s.cpu_percent = cpu;
    Status ms = m.register_origin(s, now);
    auto rs = loop.call<RedisRegistration>([&](auto d) { st.register_origin(s, d); });
    EXPECT_EQ(ms.ok(), rs.ok()) << server << ": " << ms.message() << " / " << (rs.ok() ? "" : rs.error());
    if (!ms.ok() && !rs.ok()) {
      EXPECT_EQ(ms.kind(), rs.kind());
    }
    return ms.ok();
  };
  auto control = [&](const std::string& server, OriginOp op, int w = 0) {
    Status ms = m.control_origin(server, op, w, now);
    Status rs = loop.call_status([&](auto d) { st.control_origin(server, op, w, d); });
    EXPECT_EQ(ms.ok(), rs.ok()) << server;
    if (!ms.ok() && !rs.ok()) {
      EXPECT_EQ(ms.kind(), rs.kind());
    }
  };
  std::map<std::string, int> counts;
  auto picks = [&](const std::string& prefix, int n) {
    counts.clear();
    for (int i = 0; i < n; i++) {
      std::string key = prefix + std::to_string(i);
      auto mp = m.pick(key, Proto::rtmp, now);
      auto rp = loop.call<RedisPick>([&](auto d) { st.pick(key, Proto::rtmp, std::nullopt, d); });
      ASSERT_EQ(mp.ok(), rp.ok()) << key;
      if (!mp.ok()) continue;
      ASSERT_EQ(mp->origin.server, rp->pick.origin.server) << key;
      counts[mp->origin.server]++;
    }
  };
  ASSERT_TRUE(both("o1", 1, 10));
  ASSERT_TRUE(both("o2", 3, -1));
  ASSERT_TRUE(both("o3", 2, 50));
  ASSERT_TRUE(both("o4", 5, 95));  // overloaded
  ASSERT_TRUE(both("o5", 4, -1));
  control("o5", OriginOp::drain);
  control("nope", OriginOp::drain);  // not_found on both
  picks("a/", 120);
  EXPECT_EQ(counts["o1"], 20);
  EXPECT_EQ(counts["o2"], 60);
  EXPECT_EQ(counts["o3"], 40);
  EXPECT_EQ(counts["o4"], 0);
  EXPECT_EQ(counts["o5"], 0);
  // a/0 went to o1 (all at 0: the smallest id); its clients show in the listing.
  ASSERT_TRUE(loop.call<int64_t>([&](auto d) { st.add_client("a/0", Proto::rtmp, 5, d); }).ok());
  auto listed = loop.call<std::vector<OriginView>>([&](auto d) { st.origins(d); });
  ASSERT_TRUE(listed.ok());
  for (const OriginView& o : *listed) {
    if (o.server == "o1") {
      EXPECT_EQ(o.clients, 5u);
    }
    if (o.server == "o5") {
      EXPECT_TRUE(o.draining);
    }
    if (o.server == "o4") {
      EXPECT_TRUE(o.overloaded);
      EXPECT_DOUBLE_EQ(o.cpu_percent, 95);
    }
    if (o.server == "o2") {
      EXPECT_EQ(o.load, 60u);
    }
  }
  // (Gone again, so a load refresh in Redis counts a/0 as 1, as the memory
  // registry, whose clock stays put, does.)
  ASSERT_TRUE(loop.call<int64_t>([&](auto d) { st.add_client("a/0", Proto::rtmp, -5, d); }).ok());
  // A restart (new service id) keeps the drain in both.
  ASSERT_TRUE(both("o5", 4, -1, "svc-restarted"));
  picks("r/", 8);
  EXPECT_EQ(counts["o5"], 0);
  // Undrain o5 (weight 4, no load yet), override o1's weight, drain o2.
  control("o5", OriginOp::undrain);
  control("o1", OriginOp::set_weight, 6);
  control("o2", OriginOp::drain);
  ASSERT_TRUE(both("o1", 1, 10));  // a heartbeat keeps the override
  ASSERT_TRUE(both("o4", 5, 85));  // still overloaded (hysteresis)
  picks("b/", 100);
  EXPECT_EQ(counts["o2"], 0);
  EXPECT_EQ(counts["o4"], 0);
  EXPECT_GT(counts["o5"], 0);
  // Removal: the same service is refused by both, a new one accepted.
  control("o3", OriginOp::remove);
  EXPECT_FALSE(both("o3", 2, 50));
  EXPECT_TRUE(both("o3", 2, 50, "svc-new"));
  picks("c/", 60);
}

// The bytes term of the pick load (issue 16) gives the same answers in both
// backends: the rates two proxies report with their heartbeats are summed
// (the memory registry gets the sum), scaled by pick_bytes_per_client, and
// ignored when that is 0. Rates are sent before the first pick so both take
// them at their first load refresh.
TEST_F(RedisLive, PickRuleWithRatesMatchesTheMemoryRegistry) {
  Loop loop;
  auto c = client(loop);
  for (int64_t u : {int64_t(125000), int64_t(0)}) {
    SCOPED_TRACE("pick_bytes_per_client " + std::to_string(u));
    RegistryTtls ttls;
    ttls.bytes_per_client = u;
    RedisStoreOptions o1 = store_options("px1", ttls), o2 = store_options("px2", ttls);
    o1.prefix = o2.prefix = prefix_ + std::to_string(u) + ":";
    RedisStore st(*c, o1), st2(*c, o2);
    auto mem = Registry::create(1024 * 1024, ttls);
    ASSERT_TRUE(mem.ok()) << mem.error();
    Registry& m = **mem;
    const int64_t now = 1000;
    const std::map<std::string, int> weights{{"o1", 1}, {"o2", 1}, {"o3", 2}};
    for (const auto& [server, w] : weights) {
      OriginSpec s = spec(server);
      s.weight = w;
      ASSERT_TRUE(m.register_origin(s, now).ok());
      ASSERT_TRUE(loop.call<RedisRegistration>([&](auto d) { st.register_origin(s, d); }).ok());
    }
    // px1: o1 2 MB/s, o3 500 kB/s; px2: o1 500 kB/s, o2 250 kB/s.
    std::vector<OriginRate> r1{{-1, "o1", 2000000}, {-1, "o3", 500000}};
    std::vector<OriginRate> r2{{-1, "o1", 500000}, {-1, "o2", 250000}};
    ASSERT_TRUE(loop.call<int64_t>([&](auto d) { st.proxy_heartbeat(nullptr, &r1, d); }).ok());
    ASSERT_TRUE(loop.call<int64_t>([&](auto d) { st2.proxy_heartbeat(nullptr, &r2, d); }).ok());
    const std::map<std::string, uint64_t> sums{{"o1", 2500000}, {"o2", 250000}, {"o3", 500000}};
    std::vector<uint64_t> by_slot(8, 0);
    for (const OriginView& o : m.origins(now)) by_slot[size_t(o.slot)] = sums.at(o.server);
    m.set_origin_rates(by_slot);
    const int64_t later = now + kLoadRefreshMs;  // the memory registry's next refresh takes them
    std::map<std::string, int> counts;
    for (int i = 0; i < 40; i++) {
      std::string key = "k/" + std::to_string(i);
      auto mp = m.pick(key, Proto::rtmp, later);
      auto rp = loop.call<RedisPick>([&](auto d) { st.pick(key, Proto::rtmp, std::nullopt, d); });
      ASSERT_TRUE(mp.ok() && rp.ok()) << key;
      ASSERT_EQ(mp->origin.server, rp->pick.origin.server) << key;
      counts[mp->origin.server]++;
    }
    if (u > 0) {
      // Units: o1 20, o2 2, o3 4 at weight 2: o1 gets what is left after the
      // others pass 20 (o2 from 2, o3 from 2 per weight).
      EXPECT_EQ(counts["o1"], 0);
      EXPECT_EQ(counts["o2"] + counts["o3"], 40);
      EXPECT_GT(counts["o3"], counts["o2"]);
    } else {
      EXPECT_EQ(counts["o1"], 10);
      EXPECT_EQ(counts["o2"], 10);
      EXPECT_EQ(counts["o3"], 20);
    }
    auto listed = loop.call<std::vector<OriginView>>([&](auto d) { st.origins(d); });
    ASSERT_TRUE(listed.ok());
    for (const OriginView& o : *listed) EXPECT_EQ(o.bytes_per_sec, sums.at(o.server)) << o.server;
    for (const OriginView& o : m.origins(later)) EXPECT_EQ(o.bytes_per_sec, sums.at(o.server)) << o.server;
  }
}

}  // namespace
}  // namespace sp
