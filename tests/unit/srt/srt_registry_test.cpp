// SrtRegistry: the SRT threads' door to the loop thread's RegistryClient.
// Queued (a backend that answers later): nothing reaches the registry before
// the loop thread runs the queue, answers come back by ticket, a cancelled
// look-up is never answered and writes keep their order with the picks.
// Direct (memory): everything happens before the call returns.
#include "srt/srt_registry.h"

#include <gtest/gtest.h>

#include "registry/deferred_registry_client.h"

namespace sp {
namespace {

OriginSpec srt_origin(const std::string& server, uint16_t port) {
  OriginSpec s;
  s.server = server;
  s.service = "svc";
  s.pid = "100";
  s.ip = "127.0.0.1";
  s.endpoints[int(Proto::srt)] = {Endpoint{"", port}};
  return s;
}

std::unique_ptr<Registry> table() {
  auto r = Registry::create(Registry::minimum_size() * 4, RegistryTtls{});
  EXPECT_TRUE(r.ok()) << r.error();
  return std::move(*r);
}

uint32_t srt_clients(Registry& r, const std::string& key) {
  for (const StreamView& s : r.streams(0))
    if (s.key == key) return s.clients[int(Proto::srt)];
  return 0;
}

TEST(SrtRegistry, QueuedPickIsAnsweredThroughTheLoopThread) {
  auto reg = table();
  ASSERT_TRUE(reg->register_origin(srt_origin("a", 10080), 0).ok());
  test::DeferredRegistryClient client(*reg);
  int wakes = 0;
  SrtRegistry bridge(client, false, [&] { wakes++; });
  EXPECT_FALSE(bridge.direct());
  EXPECT_FALSE(bridge.pick_now("__defaultVhost__/live/s", 0).has_value());  // the listen callback cannot wait

  uint64_t t = bridge.pick("__defaultVhost__/live/s", 0);
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(client.waiting(), 0u);  // not asked before the loop thread runs the queue
  EXPECT_EQ(bridge.run_queued(), 1u);
  EXPECT_EQ(client.waiting(), 1u);
  EXPECT_EQ(bridge.in_flight(), 1u);
  EXPECT_TRUE(bridge.take_answers().empty());  // Redis has not answered yet

  EXPECT_EQ(client.deliver_all(), 1u);
  EXPECT_EQ(bridge.in_flight(), 0u);
  auto answers = bridge.take_answers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].ticket, t);
  ASSERT_TRUE(answers[0].pick.ok()) << answers[0].pick.error();
  EXPECT_EQ(answers[0].pick->origin.server, "a");
  EXPECT_EQ(answers[0].pick->port, 10080);
}

TEST(SrtRegistry, FailedLookUpComesBackWithItsKind) {
  auto reg = table();
  test::DeferredRegistryClient client(*reg);
  SrtRegistry bridge(client, false, [] {});
  uint64_t t = bridge.pick("__defaultVhost__/live/s", 0);
  bridge.run_queued();
  EXPECT_EQ(client.fail_all(ErrorKind::timeout, "redis call timed out"), 1u);
  auto answers = bridge.take_answers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].ticket, t);
  ASSERT_FALSE(answers[0].pick.ok());
  EXPECT_EQ(answers[0].pick.kind(), ErrorKind::timeout);
}

TEST(SrtRegistry, CancelledLookUpIsNeverAnswered) {
  auto reg = table();
  ASSERT_TRUE(reg->register_origin(srt_origin("a", 10080), 0).ok());
  test::DeferredRegistryClient client(*reg);
  SrtRegistry bridge(client, false, [] {});
  uint64_t gone = bridge.pick("__defaultVhost__/live/gone", 0);
  uint64_t kept = bridge.pick("__defaultVhost__/live/kept", 0);
  bridge.run_queued();
  bridge.cancel(gone);  // the caller closed while waiting
  bridge.run_queued();
  EXPECT_EQ(bridge.in_flight(), 1u);
  EXPECT_EQ(client.deliver_all(), 1u);
  auto answers = bridge.take_answers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].ticket, kept);
}

TEST(SrtRegistry, CancelledBeforeTheLoopRanIsNeverAsked) {
  auto reg = table();
  test::DeferredRegistryClient client(*reg);
  SrtRegistry bridge(client, false, [] {});
  uint64_t t = bridge.pick("__defaultVhost__/live/s", 0);
  bridge.cancel(t);
  bridge.run_queued();
  EXPECT_EQ(client.deliver_all(), 0u);
  EXPECT_TRUE(bridge.take_answers().empty());
}

TEST(SrtRegistry, WritesWaitForTheLoopAndKeepTheirOrder) {
  auto reg = table();
  ASSERT_TRUE(reg->register_origin(srt_origin("a", 10080), 0).ok());
  test::DeferredRegistryClient client(*reg);
  SrtRegistry bridge(client, false, [] {});
  const std::string key = "__defaultVhost__/live/s";
  bridge.pick(key, 0);  // the caller's first pick pins the stream (pending)
  bridge.run_queued();
  client.deliver_all();
  ASSERT_EQ(bridge.take_answers().size(), 1u);
  bridge.add_client(key, +1, 0);
  bridge.confirm("ctx", key, "a", 0);
  EXPECT_EQ(srt_clients(*reg, key), 0u);  // nothing before the loop thread runs
  bridge.run_queued();
  EXPECT_EQ(srt_clients(*reg, key), 1u);
  // The retry's "-1, pick, +1", applied in that order.
  bridge.add_client(key, -1, 0);
  bridge.pick(key, 0);
  bridge.add_client(key, +1, 0);
  EXPECT_EQ(srt_clients(*reg, key), 1u);
  bridge.run_queued();
  EXPECT_EQ(srt_clients(*reg, key), 1u);
  client.deliver_all();
  ASSERT_EQ(bridge.take_answers().size(), 1u);
}

TEST(SrtRegistry, DestroyedWithALookUpInFlightIsNeverAnswered) {
  auto reg = table();
  test::DeferredRegistryClient client(*reg);
  {
    SrtRegistry bridge(client, false, [] {});
    bridge.pick("__defaultVhost__/live/s", 0);
    bridge.run_queued();
    EXPECT_EQ(bridge.in_flight(), 1u);
  }
  EXPECT_EQ(client.deliver_all(), 0u);  // would have written into a freed bridge
}

TEST(SrtRegistry, DirectAnswersBeforeTheCallReturns) {
  auto reg = table();
  ASSERT_TRUE(reg->register_origin(srt_origin("a", 10080), 0).ok());
  MemoryRegistryClient client(*reg);
  EXPECT_TRUE(SrtRegistry::answers_inline(client));
  int wakes = 0;
  SrtRegistry bridge(client, true, [&] { wakes++; });
  auto now = bridge.pick_now("__defaultVhost__/live/s", 0);
  ASSERT_TRUE(now.has_value());
  ASSERT_TRUE(now->ok());
  EXPECT_EQ((*now)->origin.server, "a");
  auto none = SrtRegistry(client, true, [] {}).pick_now("__defaultVhost__/live/x", 0);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->ok());  // "a" has an srt endpoint for every key
  uint64_t t = bridge.pick("__defaultVhost__/live/s", 0);
  auto answers = bridge.take_answers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].ticket, t);
  bridge.add_client("__defaultVhost__/live/s", +1, 0);
  EXPECT_EQ(srt_clients(*reg, "__defaultVhost__/live/s"), 1u);
  EXPECT_EQ(wakes, 0);  // nothing for the loop thread
  EXPECT_EQ(bridge.run_queued(), 0u);
}

TEST(SrtRegistry, DirectWithNoOriginRefusesAtOnce) {
  auto reg = table();
  MemoryRegistryClient client(*reg);
  SrtRegistry bridge(client, true, [] {});
  auto now = bridge.pick_now("__defaultVhost__/live/s", 0);
  ASSERT_TRUE(now.has_value());
  ASSERT_FALSE(now->ok());
  EXPECT_EQ(now->kind(), ErrorKind::unavailable);
}

TEST(SrtRegistry, OnlyTheMemoryBackendIsCalledInline) {
  auto reg = table();
  test::DeferredRegistryClient deferred(*reg);
  EXPECT_FALSE(SrtRegistry::answers_inline(deferred));
}

}  // namespace
}  // namespace sp
