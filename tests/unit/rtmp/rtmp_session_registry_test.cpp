// An RTMP session waiting for the registry (State::registry_wait), driven by
// a real event loop over a socketpair, with the DeferredRegistryClient
// holding the pick's answer back: the session waits after publish, a client
// that goes away cancels the look-up, a failed or missing answer reaches the
// client as an error onStatus naming the reason, and an answer resumes the
// state machine (the session connects to the picked origin).
#include <event2/event.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/clock.h"
#include "registry/deferred_registry_client.h"
#include "rtmp/chunk.h"
#include "rtmp/handshake.h"
#include "rtmp/message.h"
#include "rtmp/rtmp_session.h"

namespace sp::rtmp {
namespace {

constexpr const char* kKey = "__defaultVhost__/live/s";

std::unique_ptr<Registry> table() {
  auto r = Registry::create(Registry::minimum_size() * 4, RegistryTtls{});
  EXPECT_TRUE(r.ok()) << r.error();
  return std::move(*r);
}

OriginSpec rtmp_origin(const std::string& server, uint16_t port) {
  OriginSpec s;
  s.server = server;
  s.service = "svc";
  s.pid = "100";
  s.ip = "127.0.0.1";
  s.endpoints[int(Proto::rtmp)] = {Endpoint{"", port}};
  return s;
}

class RtmpRegistryWait : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    ASSERT_NE(base_, nullptr);
    reg_ = table();
    client_ = std::make_unique<test::DeferredRegistryClient>(*reg_);
    conf_.connect_timeout_ms = 2000;
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    peer_ = sv[0];
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(40000);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SessionEnv env{base_, conf_, *client_, budget_};
    session_ = std::make_unique<Session>(env, sv[1], SockAddr::from(reinterpret_cast<sockaddr*>(&sin), sizeof sin),
                                         [this](Session*) { done_ = true; });
    session_->start();
  }

  void TearDown() override {
    session_.reset();
    if (peer_ >= 0) ::close(peer_);
    client_.reset();
    if (base_) event_base_free(base_);
  }

  // Runs the loop until `cond` holds or `ms` pass.
  template <class Cond>
  bool pump_until(Cond cond, int ms = 2000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > end) return false;
      event_base_loop(base_, EVLOOP_NONBLOCK);
      drain_peer();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  // Reads what the session sent: handshake bytes first, then chunks.
  void drain_peer() {
    uint8_t buf[65536];
    for (;;) {
      ssize_t n = recv(peer_, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return;
      std::span<const uint8_t> in(buf, size_t(n));
      if (s0s1s2_.size() < handshake::kS0S1S2Size) {
        size_t take = std::min(in.size(), handshake::kS0S1S2Size - s0s1s2_.size());
        s0s1s2_.insert(s0s1s2_.end(), in.begin(), in.begin() + take);
        in = in.subspan(take);
      }
      if (!in.empty()) {
        ASSERT_TRUE(reader_.feed(in).ok());
      }
      Message m;
      while (reader_.next(&m)) {
        if (m.type_id != msg_type::kCommandAmf0) continue;
        Result<Command> c = decode_command(m);
        if (!c.ok() || c->name != "onStatus") continue;
        const amf0::Value* info = status_info(*c);
        if (info) statuses_.push_back(info->get_string("code") + " " + info->get_string("description"));
      }
    }
  }

  void send_bytes(std::span<const uint8_t> b) { ASSERT_EQ(::send(peer_, b.data(), b.size(), 0), ssize_t(b.size())); }
  void send_message(const Message& m) {
    std::vector<uint8_t> out;
    writer_.write(m, &out);
    send_bytes(out);
  }

  // Handshake, connect, createStream, publish: the session then asks the registry.
  void publish() {
    handshake::ClientHello hello = handshake::client_hello();
    send_bytes(hello.c0c1);
    ASSERT_TRUE(pump_until([&] { return s0s1s2_.size() == handshake::kS0S1S2Size; }));
    Result<std::vector<uint8_t>> c2 = handshake::client_c2(s0s1s2_, hello);
    ASSERT_TRUE(c2.ok()) << c2.error();
    send_bytes(*c2);
    amf0::Value props = amf0::Value::Object();
    props.set("app", amf0::Value::String("live"));
    props.set("tcUrl", amf0::Value::String("rtmp://127.0.0.1/live"));
    send_message(command_message(connect_command(1, props), 0));
    send_message(command_message(create_stream_command(2), 0));
    send_message(command_message(publish_command(3, "s", "live"), 1));
    ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; })) << "no pick asked";
  }

  event_base* base_ = nullptr;
  std::unique_ptr<Registry> reg_;
  std::unique_ptr<test::DeferredRegistryClient> client_;
  RtmpConf conf_;
  PreconnectBudget budget_{4 * 1024 * 1024};
  std::unique_ptr<Session> session_;
  int peer_ = -1;
  bool done_ = false;
  std::vector<uint8_t> s0s1s2_;
  ChunkReader reader_;
  ChunkWriter writer_;
  std::vector<std::string> statuses_;
};

TEST_F(RtmpRegistryWait, WaitsForTheAnswerWithoutProcessingMore) {
  publish();
  // More input while waiting stays in the chunk reader: no second pick, no end.
  send_message(command_message(create_stream_command(4), 0));
  pump_until([] { return false; }, 50);
  EXPECT_EQ(client_->waiting(), 1u);
  EXPECT_FALSE(done_);
  EXPECT_TRUE(statuses_.empty());
}

TEST_F(RtmpRegistryWait, ClientGoneCancelsTheLookUp) {
  publish();
  ::close(peer_);
  peer_ = -1;
  ASSERT_TRUE(pump_until([&] { return done_; })) << "the session did not see its client go";
  EXPECT_EQ(client_->deliver_all(), 0u);  // the dropped RegistryCall is never answered
}

TEST_F(RtmpRegistryWait, RegistryTimeoutIsAnErrorStatusWithTheReason) {
  publish();
  EXPECT_EQ(client_->fail_all(ErrorKind::timeout, "redis call timed out after 500 ms"), 1u);
  ASSERT_TRUE(pump_until([&] { return !statuses_.empty(); }));
  EXPECT_NE(statuses_[0].find(std::string(status::kPublishBadName)), std::string::npos) << statuses_[0];
  EXPECT_NE(statuses_[0].find("redis call timed out"), std::string::npos) << statuses_[0];
  EXPECT_NE(statuses_[0].find(kKey), std::string::npos) << statuses_[0];
  ::shutdown(peer_, SHUT_WR);
  EXPECT_TRUE(pump_until([&] { return done_; }));
}

TEST_F(RtmpRegistryWait, NoAnswerWithinConnectTimeoutEndsTheWait) {
  conf_.connect_timeout_ms = 200;
  publish();
  ASSERT_TRUE(pump_until([&] { return !statuses_.empty(); }, 3000));
  EXPECT_NE(statuses_[0].find("did not answer"), std::string::npos) << statuses_[0];
  EXPECT_EQ(client_->deliver_all(), 0u);  // given up: a late answer is not delivered
}

TEST_F(RtmpRegistryWait, NoOriginIsRefused) {
  publish();
  EXPECT_EQ(client_->deliver_all(), 1u);
  ASSERT_TRUE(pump_until([&] { return !statuses_.empty(); }));
  EXPECT_NE(statuses_[0].find("no origin for stream " + std::string(kKey)), std::string::npos) << statuses_[0];
}

TEST_F(RtmpRegistryWait, TheAnswerResumesTowardThePickedOrigin) {
  int lsn = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(lsn, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lsn, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(listen(lsn, 4), 0);
  socklen_t len = sizeof sin;
  ASSERT_EQ(getsockname(lsn, reinterpret_cast<sockaddr*>(&sin), &len), 0);
  ASSERT_TRUE(reg_->register_origin(rtmp_origin("a", ntohs(sin.sin_port)), monotonic_ms()).ok());

  publish();
  EXPECT_EQ(client_->deliver_all(), 1u);
  // The session connects to the origin and sends its C0+C1.
  int origin = -1;
  ASSERT_TRUE(pump_until([&] {
    if (origin < 0) origin = accept4(lsn, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (origin < 0) return false;
    uint8_t b[1];
    return recv(origin, b, 1, MSG_PEEK) == 1;
  }));
  uint8_t c0 = 0;
  EXPECT_EQ(recv(origin, &c0, 1, 0), 1);
  EXPECT_EQ(c0, handshake::kVersion);
  EXPECT_TRUE(statuses_.empty());
  EXPECT_FALSE(done_);
  ::close(origin);
  ::close(lsn);
}

}  // namespace
}  // namespace sp::rtmp
