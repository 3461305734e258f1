// RegistryClient: the memory backend answers before the call returns; a
// dropped RegistryCall cancels an answer not yet given (checked with the
// deferred test client the protocols' waiting-state tests use).
#include "registry/registry_client.h"

#include <gtest/gtest.h>

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
