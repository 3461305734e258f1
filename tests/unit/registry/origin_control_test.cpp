// Tests for operator control and load-based picks in the shared-memory
// registry (issue 16): drain skips new picks but keeps live streams sticky
// and survives heartbeats and restarts; weights split new streams exactly
// (the rule is deterministic: lowest load / weight, ties to the smallest
// server id); live clients count in the load, refreshed every
// kLoadRefreshMs; overload with hysteresis; removal with its bounded
// tombstones, their expiry and the new-service-id bypass.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>

#include "registry/registry.h"

namespace sp {
namespace {

constexpr int64_t kForever = 1000 * 1000 * 1000;

std::unique_ptr<Registry> make(int64_t remove_ms = 60 * 1000, int cpu_limit = 90) {
  RegistryTtls t;
  t.origin_ttl_ms = kForever;
  t.session_ttl_ms = kForever;
  t.origin_remove_ms = remove_ms;
  t.cpu_limit = cpu_limit;
  auto r = Registry::create(1024 * 1024, t);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? std::move(*r) : nullptr;
}

OriginSpec origin(const std::string& server, int weight = 1, double cpu = -1, const std::string& service = "svc") {
  OriginSpec s;
  s.server = server;
  s.service = service;
  s.pid = "100";
  s.ip = "10.0.0.1";
  s.endpoints[int(Proto::rtmp)] = {Endpoint{"", 1935}};
  s.endpoints[int(Proto::http)] = {Endpoint{"", 8080}};
  s.weight = weight;
  s.cpu_percent = cpu;
  return s;
}

// A copy: callers pass the temporary listing of r->origins(now).
std::optional<OriginView> find(const std::vector<OriginView>& all, const std::string& server) {
  auto it = std::find_if(all.begin(), all.end(), [&](const OriginView& o) { return o.server == server; });
  if (it == all.end()) return std::nullopt;
  return *it;
}

std::string picked(Registry& r, const std::string& key, int64_t now) {
  auto p = r.pick(key, Proto::rtmp, now);
  return p.ok() ? p->origin.server : "error: " + p.error();
}

TEST(OriginControl, OverloadHysteresis) {
  EXPECT_FALSE(next_overloaded(false, 90, 90));  // at the limit: not above it
  EXPECT_TRUE(next_overloaded(false, 90.5, 90));
  EXPECT_TRUE(next_overloaded(true, 85, 90));   // within the margin: stays
  EXPECT_TRUE(next_overloaded(true, 80, 90));
  EXPECT_FALSE(next_overloaded(true, 79.9, 90));  // 10 points below: recovered
  EXPECT_FALSE(next_overloaded(false, 85, 90));   // never entered from below
  EXPECT_FALSE(next_overloaded(true, 99, 0));     // 0 = off
  EXPECT_FALSE(next_overloaded(true, -1, 90));    // no report
}

TEST(OriginControl, LoadComparisonIsExact) {
  EXPECT_TRUE(load_below(0, 1, 1, 3));
  EXPECT_FALSE(load_below(1, 1, 3, 3));  // equal
  EXPECT_FALSE(load_below(3, 3, 1, 1));
  EXPECT_TRUE(load_below(2, 3, 1, 1));
}

TEST(OriginControl, DrainSkipsNewStreamsKeepsLiveOnes) {
  auto r = make();
  ASSERT_TRUE(r->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(r->register_origin(origin("b"), 0).ok());
  EXPECT_EQ(picked(*r, "live/1", 1), "a");  // equal load: smallest server id
  ASSERT_TRUE(r->confirm("live/1", "a", 1).ok());
  r->add_client("live/1", Proto::rtmp, 2, 1);
  EXPECT_EQ(picked(*r, "live/idle", 1), "b");
  ASSERT_TRUE(r->confirm("live/idle", "b", 1).ok());

  ASSERT_TRUE(r->control_origin("a", OriginOp::drain, 0, 2).ok());
  for (int i = 0; i < 10; i++) EXPECT_EQ(picked(*r, "new/" + std::to_string(i), 3), "b") << i;
  EXPECT_EQ(picked(*r, "live/1", 3), "a");  // live stream: sticky
  // A heartbeat and a restart (new service id) keep the drain.
  ASSERT_TRUE(r->register_origin(origin("a"), 4).ok());
  ASSERT_TRUE(r->register_origin(origin("a", 1, -1, "svc2"), 5).ok());
  auto list = r->origins(5);
  std::optional<OriginView> a = find(list, "a");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->draining);
  EXPECT_EQ(a->clients, 2u);
  EXPECT_FALSE(find(list, "b")->draining);
  EXPECT_EQ(picked(*r, "new/x", 6), "b");

  // Its clients leave: an idle stream of a draining origin moves.
  r->add_client("live/1", Proto::rtmp, -2, 7);
  EXPECT_EQ(picked(*r, "live/1", 8), "b");

  ASSERT_TRUE(r->control_origin("a", OriginOp::undrain, 0, 9).ok());
  EXPECT_EQ(picked(*r, "after/undrain", 9), "a");  // far less loaded
  EXPECT_FALSE(find(r->origins(9), "a")->draining);

  // Every origin draining: nothing takes new streams.
  ASSERT_TRUE(r->control_origin("a", OriginOp::drain, 0, 10).ok());
  ASSERT_TRUE(r->control_origin("b", OriginOp::drain, 0, 10).ok());
  auto none = r->pick("nobody/home", Proto::rtmp, 10);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.kind(), ErrorKind::unavailable);
}

TEST(OriginControl, UnknownOriginAndBadWeight) {
  auto r = make();
  ASSERT_TRUE(r->register_origin(origin("a"), 0).ok());
  EXPECT_EQ(r->control_origin("zz", OriginOp::drain, 0, 1).kind(), ErrorKind::not_found);
  EXPECT_EQ(r->control_origin("zz", OriginOp::remove, 0, 1).kind(), ErrorKind::not_found);
  EXPECT_EQ(r->control_origin("a", OriginOp::set_weight, 101, 1).kind(), ErrorKind::bad_input);
  EXPECT_EQ(r->control_origin("a", OriginOp::set_weight, -1, 1).kind(), ErrorKind::bad_input);
}

// Deterministic rule: 300 picks at weights 1 and 3 give exactly 75 and 225.
TEST(OriginControl, WeightsSplitNewStreamsExactly) {
  auto r = make();
  ASSERT_TRUE(r->register_origin(origin("light", 1), 0).ok());
  ASSERT_TRUE(r->register_origin(origin("heavy", 3), 0).ok());
  std::map<std::string, int> n;
  for (int i = 0; i < 300; i++) n[picked(*r, "w/" + std::to_string(i), 100 + i)]++;
  EXPECT_EQ(n["light"], 75);
  EXPECT_EQ(n["heavy"], 225);
  auto list = r->origins(500);
  EXPECT_EQ(find(list, "heavy")->weight, 3);
  EXPECT_EQ(find(list, "light")->load, 75u);
}

TEST(OriginControl, WeightOverrideOutlivesHeartbeats) {
  auto r = make();
  ASSERT_TRUE(r->register_origin(origin("a", 1), 0).ok());
  ASSERT_TRUE(r->register_origin(origin("b", 1), 0).ok());
  ASSERT_TRUE(r->control_origin("b", OriginOp::set_weight, 3, 1).ok());
  ASSERT_TRUE(r->register_origin(origin("b", 1), 2).ok());  // heartbeat says 1
  ASSERT_TRUE(r->register_origin(origin("b", 1, -1, "new-svc"), 3).ok());  // and a restart
  std::map<std::string, int> n;
  for (int i = 0; i < 40; i++) n[picked(*r, "o/" + std::to_string(i), 10)]++;
  EXPECT_EQ(n["a"], 10);
  EXPECT_EQ(n["b"], 30);
  std::optional<OriginView> b = find(r->origins(10), "b");
  EXPECT_EQ(b->weight, 3);
  EXPECT_EQ(b->registered_weight, 1);
  EXPECT_EQ(b->weight_override, 3);
  // 0 clears the override: the registered weight applies again.
  ASSERT_TRUE(r->control_origin("b", OriginOp::set_weight, 0, 11).ok());
  EXPECT_EQ(find(r->origins(11), "b")->weight, 1);
}

// A stream's load is its live clients (at least 1), seen at the next refresh.
TEST(OriginControl, ClientsCountInTheLoadAfterARefresh) {
  auto r = make();
  ASSERT_TRUE(r->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(r->register_origin(origin("b"), 0).ok());
  EXPECT_EQ(picked(*r, "big", 1), "a");
  ASSERT_TRUE(r->confirm("big", "a", 1).ok());
  r->add_client("big", Proto::http, 50, 1);
  // Within the refresh interval the figure is still 1 per stream.
  EXPECT_EQ(picked(*r, "s/0", 2), "b");
  EXPECT_EQ(picked(*r, "s/1", 3), "a");
  // After it, "big" weighs 50: the next 48 new streams all go to b.
  int64_t later = 1 + kLoadRefreshMs;
  std::map<std::string, int> n;
  for (int i = 2; i < 50; i++) n[picked(*r, "s/" + std::to_string(i), later)]++;
  EXPECT_EQ(n["b"], 48);
  EXPECT_EQ(n["a"], 0);
  EXPECT_EQ(find(r->origins(later), "a")->load, 51u);
}

TEST(OriginControl, OverloadedOriginGetsNoNewStreamsUntilItRecovers) {
  auto r = make();
  ASSERT_TRUE(r->register_origin(origin("a", 1, 95), 0).ok());
  ASSERT_TRUE(r->register_origin(origin("b", 1, 20), 0).ok());
  auto list = r->origins(0);
  EXPECT_TRUE(find(list, "a")->overloaded);
  EXPECT_DOUBLE_EQ(find(list, "a")->cpu_percent, 95);
  for (int i = 0; i < 5; i++) EXPECT_EQ(picked(*r, "x/" + std::to_string(i), 1), "b");
  ASSERT_TRUE(r->register_origin(origin("a", 1, 85), 2).ok());  // inside the margin
  EXPECT_TRUE(find(r->origins(2), "a")->overloaded);
  EXPECT_EQ(picked(*r, "x/5", 2), "b");
  ASSERT_TRUE(r->register_origin(origin("a", 1, 70), 3).ok());
  EXPECT_FALSE(find(r->origins(3), "a")->overloaded);
  EXPECT_EQ(picked(*r, "x/6", 3), "a");
  // Every origin overloaded: they are still used rather than refuse all.
  ASSERT_TRUE(r->register_origin(origin("a", 1, 99), 4).ok());
  ASSERT_TRUE(r->register_origin(origin("b", 1, 99), 4).ok());
  EXPECT_TRUE(r->pick("x/7", Proto::rtmp, 4).ok());
  // No summaries: no longer overloaded (the CPU is unknown).
  ASSERT_TRUE(r->register_origin(origin("a", 1, -1), 5).ok());
  EXPECT_FALSE(find(r->origins(5), "a")->overloaded);
}

TEST(OriginControl, OverloadOff) {
  auto r = make(60 * 1000, 0);
  ASSERT_TRUE(r->register_origin(origin("a", 1, 100), 0).ok());
  EXPECT_FALSE(find(r->origins(0), "a")->overloaded);
}

TEST(OriginControl, RemoveForgetsTheOriginUntilANewServiceOrTheTime) {
  auto r = make(/*remove_ms=*/10 * 1000);
  ASSERT_TRUE(r->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(r->register_origin(origin("b"), 0).ok());
  EXPECT_EQ(picked(*r, "s/1", 1), "a");
  ASSERT_TRUE(r->confirm("s/1", "a", 1).ok());
  r->add_client("s/1", Proto::rtmp, 1, 1);
  ASSERT_TRUE(r->control_origin("a", OriginOp::remove, 0, 2).ok());
  auto list = r->origins(2);
  EXPECT_FALSE(find(list, "a"));
  auto streams = r->streams(2);
  EXPECT_TRUE(std::none_of(streams.begin(), streams.end(), [](const StreamView& s) { return s.origin_server == "a"; }));
  // Heartbeats of the same service are refused, for every check.
  Status st = r->register_origin(origin("a"), 3);
  EXPECT_EQ(st.kind(), ErrorKind::not_found);
  EXPECT_NE(st.message().find("removed"), std::string::npos) << st.message();
  EXPECT_FALSE(find(r->origins(3), "a"));
  EXPECT_EQ(picked(*r, "s/1", 3), "b");  // its stream moved
  // Until origin_remove_time passes.
  EXPECT_FALSE(r->register_origin(origin("a"), 2 + 10 * 1000 - 1).ok());
  EXPECT_TRUE(r->register_origin(origin("a"), 2 + 10 * 1000).ok());
  // A new service id registers at once.
  ASSERT_TRUE(r->control_origin("b", OriginOp::remove, 0, 20000).ok());
  EXPECT_FALSE(r->register_origin(origin("b"), 20001).ok());
  EXPECT_TRUE(r->register_origin(origin("b", 1, -1, "restarted"), 20002).ok());
  EXPECT_TRUE(find(r->origins(20002), "b"));
}

TEST(OriginControl, RemovalsAreBoundedOldestForgottenFirst) {
  auto r = make();
  for (int i = 0; i <= kTombstones; i++) {
    std::string s = "o" + std::to_string(i);
    ASSERT_TRUE(r->register_origin(origin(s), i).ok()) << s;
    ASSERT_TRUE(r->control_origin(s, OriginOp::remove, 0, i).ok()) << s;
  }
  // o0's removal was replaced by the 65th; o1's still holds.
  EXPECT_TRUE(r->register_origin(origin("o0"), 1000).ok());
  EXPECT_FALSE(r->register_origin(origin("o1"), 1000).ok());
  EXPECT_FALSE(r->register_origin(origin("o" + std::to_string(kTombstones)), 1000).ok());
}

// The load is kept as counts change (no scan of the pins): a dead
// process's clients and a moved stream leave it.
TEST(OriginControl, LoadFollowsClientsMovesAndDeadProcesses) {
  auto r = make();
  ASSERT_TRUE(r->register_origin(origin("a"), 0).ok());
  EXPECT_EQ(picked(*r, "s", 1), "a");
  ASSERT_TRUE(r->confirm("s", "a", 1).ok());
  r->add_client("s", Proto::rtmp, 10, 1, /*holder=*/4242);
  int64_t t = 1 + kLoadRefreshMs;
  EXPECT_EQ(find(r->origins(t), "a")->load, 10u);
  r->drop_process(4242, t);
  t += kLoadRefreshMs;
  EXPECT_EQ(find(r->origins(t), "a")->load, 1u);  // the pin alone
  ASSERT_TRUE(r->register_origin(origin("b"), t).ok());
  ASSERT_TRUE(r->control_origin("a", OriginOp::drain, 0, t).ok());
  EXPECT_EQ(picked(*r, "s", t), "b");  // idle: moves off the draining origin
  t += kLoadRefreshMs;
  auto list = r->origins(t);
  EXPECT_EQ(find(list, "a")->load, 0u);
  EXPECT_EQ(find(list, "b")->load, 1u);
}

}  // namespace
}  // namespace sp
