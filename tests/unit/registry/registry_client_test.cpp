// RegistryClient: the memory backend answers before the call returns; a
// dropped RegistryCall cancels an answer not yet given (checked with the
// deferred test client the protocols' waiting-state tests use).
#include "registry/registry_client.h"

#include <gtest/gtest.h>

#include <map>

#include "registry/deferred_registry_client.h"

namespace sp {
namespace {

OriginSpec origin(const std::string& server) {
  OriginSpec s;
  s.server = server;
  s.service = "svc";
  s.pid = "100";
  s.ip = "10.0.0.1";
  s.endpoints[int(Proto::rtmp)] = {Endpoint{"", 19351}};
  s.endpoints[int(Proto::http)] = {Endpoint{"", 8081}};
  return s;
}

std::unique_ptr<Registry> table() {
  auto r = Registry::create(Registry::minimum_size() * 4, RegistryTtls{});
  EXPECT_TRUE(r.ok()) << r.error();
  return std::move(*r);
}

// The rate meter: bytes/s per origin from its byte counter's growth between
// passes (at most every kRateIntervalMs), 0 on the first pass and when a
// counter goes back (its slot now counts another origin); the registry's
// listing shows them after its next load refresh.
TEST(OriginRateMeter, MeasuresEachOriginsBytesPerSecond) {
  auto reg = table();
  MemoryRegistryClient c(*reg);
  ASSERT_TRUE(reg->register_origin(origin("a"), 0).ok());
  ASSERT_TRUE(reg->register_origin(origin("b"), 0).ok());
  std::map<std::string, uint64_t> bytes{{"a", 1000}, {"b", 50}};
  OriginRateMeter meter([&](int, std::string_view server) { return bytes[std::string(server)]; });
  auto shown = [&](int64_t now) {
    std::map<std::string, uint64_t> out;
    for (const OriginView& o : reg->origins(now)) out[o.server] = o.bytes_per_sec;
    return out;
  };
  meter.tick(c, 10000);  // first pass: no rate yet
  bytes["a"] += 8000000;  // 8 MB in 2 s
  bytes["b"] += 2000;
  meter.tick(c, 11000);  // too soon: nothing measured
  meter.tick(c, 12000);
  EXPECT_EQ(shown(12000), (std::map<std::string, uint64_t>{{"a", 4000000}, {"b", 1000}}));
  bytes["a"] = 10;  // went back: 0, never a huge figure
  meter.tick(c, 14000);
  EXPECT_EQ(shown(16000), (std::map<std::string, uint64_t>{{"a", 0}, {"b", 0}}));
}

TEST(RegistryClient, MemoryAnswersBeforeTheCallReturns) {
  auto reg = table();
  MemoryRegistryClient c(*reg);
  bool registered = false;
  RegistryCall call = c.register_origin(origin("a"), 0, [&](Status st) { registered = st.ok(); });
  EXPECT_TRUE(registered);
  EXPECT_FALSE(call.pending());
  std::string picked;
  call = c.pick("live/s", Proto::http, 0, [&](Result<Pick> p) { picked = p.ok() ? p->origin.server : p.error(); });
  EXPECT_EQ(picked, "a");
  EXPECT_FALSE(call.pending());
  ErrorKind kind = ErrorKind::internal;
  c.get_session(SessionKind::hls, "nope", 0, [&](Result<SessionView> s) { kind = s.ok() ? ErrorKind::internal : s.kind(); });
  EXPECT_EQ(kind, ErrorKind::not_found);
}

TEST(RegistryClient, ADroppedCallIsNeverAnswered) {
  auto reg = table();
  test::DeferredRegistryClient c(*reg);
  c.local().register_origin(origin("a"), 0);
  int answers = 0;
  RegistryCall kept = c.pick("live/kept", Proto::rtmp, 0, [&](Result<Pick> p) { answers += p.ok(); });
  {
    RegistryCall dropped = c.pick("live/dropped", Proto::rtmp, 0, [&](Result<Pick>) { answers += 100; });
    EXPECT_TRUE(dropped.pending());
  }
  EXPECT_TRUE(kept.pending());
  EXPECT_EQ(c.waiting(), 2u);
  EXPECT_EQ(c.deliver_all(), 1u);
  EXPECT_EQ(answers, 1);
  EXPECT_FALSE(kept.pending());
  // The dropped look-up left no pin behind.
  for (const StreamView& s : reg->streams(0)) EXPECT_NE(s.key, "live/dropped");
}

TEST(RegistryClient, AFailedLookUpCarriesItsKind) {
  auto reg = table();
  test::DeferredRegistryClient c(*reg);
  ErrorKind kind = ErrorKind::internal;
  RegistryCall call = c.pick("live/s", Proto::rtmp, 0, [&](Result<Pick> p) { kind = p.ok() ? ErrorKind::internal : p.kind(); });
  EXPECT_EQ(c.fail_all(ErrorKind::timeout, "registry call timed out"), 1u);
  EXPECT_EQ(kind, ErrorKind::timeout);
}

}  // namespace
}  // namespace sp
