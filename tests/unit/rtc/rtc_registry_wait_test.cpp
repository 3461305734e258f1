// WebRTC's "waiting for the registry" states, with the deferred test client
// (registry/deferred_registry_client.h) standing for a registry that answers
// later (Redis): the UDP relay's session look-up of a binding request (held
// while it waits, further datagrams dropped and counted, a bounded number of
// look-ups in flight, failures counted), its per-tick session refresh, and
// the WHIP/WHEP signalling requests (the pick, the session and origin
// look-ups of DELETE; 503 on a registry failure; a client that leaves
// cancels the look-up; a look-up never answered is given up). Real loopback
// sockets and a real event loop.
#include <arpa/inet.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/connection_limiter.h"
#include "core/event_ptr.h"
#include "http/http_conf.h"
#include "module/listeners.h"
#include "registry/deferred_registry_client.h"
#include "rtc/rtc_api.h"
#include "rtc/signaling.h"
#include "rtc/udp_relay.h"
#include "rtc/webrtc_conf.h"

namespace sp {
namespace {

std::unique_ptr<Registry> table() {
  auto r = Registry::create(Registry::minimum_size() * 4, RegistryTtls{});
  EXPECT_TRUE(r.ok()) << r.error();
  return std::move(*r);
}

OriginSpec rtc_origin(const std::string& server, uint16_t api_port) {
  OriginSpec s;
  s.server = server;
  s.service = "svc";
  s.pid = "1";
  s.ip = "127.0.0.1";
  s.endpoints[int(Proto::rtmp)] = {Endpoint{"", 1935}};
  s.endpoints[int(Proto::api)] = {Endpoint{"", api_port}};
  s.endpoints[int(Proto::rtc)] = {Endpoint{"", 8000}};
  return s;
}

int udp_socket(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

void send_to(int fd, uint16_t port, const std::vector<uint8_t>& d) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  ASSERT_EQ(sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a)), ssize_t(d.size()));
}

// A STUN binding request with only a USERNAME (no integrity: the session
// records below carry no ice-pwd, so the relay does not check it).
std::vector<uint8_t> binding_request(const std::string& username, uint8_t tx = 1) {
  std::vector<uint8_t> d = {0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42};
  for (int i = 0; i < 12; i++) d.push_back(uint8_t(tx + i));
  size_t padded = (username.size() + 3) / 4 * 4;
  d.push_back(0x00);
  d.push_back(0x06);
  d.push_back(uint8_t(username.size() >> 8));
  d.push_back(uint8_t(username.size()));
  d.insert(d.end(), username.begin(), username.end());
  d.resize(d.size() + padded - username.size(), 0);
  size_t body = d.size() - 20;
  d[2] = uint8_t(body >> 8);
  d[3] = uint8_t(body);
  return d;
}

// Runs `base` until `done` holds or `ms` pass; the final check's value.
bool run_until(event_base* base, const std::function<bool()>& done, int64_t ms = 3000) {
  int64_t end = monotonic_ms() + ms;
  while (!done() && monotonic_ms() < end) {
    event_base_loop(base, EVLOOP_NONBLOCK);
    usleep(1000);
  }
  return done();
}

// ---- the UDP relay ----

class RtcRelayWait : public ::testing::Test {
 protected:
  void SetUp() override {
    base_.reset(event_base_new());
    reg_ = table();
    client_ = std::make_unique<test::DeferredRegistryClient>(*reg_);
    listen_fd_ = udp_socket(&listen_port_);
    origin_fd_ = udp_socket(&origin_port_);
    relay_ = std::make_unique<UdpRelay>(base_.get(), conf_, *client_, limiter_);
    ASSERT_TRUE(relay_->start({listen_fd_}).ok());
  }
  void TearDown() override {
    relay_.reset();
    close(listen_fd_);
    close(origin_fd_);
    for (int fd : clients_) close(fd);
  }
  // A session record pointing at this test's origin socket.
  void record(const std::string& id) {
    RtcSessionData d;
    d.origin_host = "127.0.0.1";
    d.origin_port = origin_port_;
    ASSERT_TRUE(client_->put_session(SessionKind::rtc, id, "__defaultVhost__/live/s", "o1",
                                     encode_rtc_session_data(d, kSessionDataMax), monotonic_ms())
                    .ok());
  }
  int new_client() {
    uint16_t port = 0;
    clients_.push_back(udp_socket(&port));
    return clients_.back();
  }
  // What the origin socket received, in order.
  std::vector<std::vector<uint8_t>> origin_got() {
    std::vector<std::vector<uint8_t>> out;
    uint8_t buf[2048];
    ssize_t n;
    while ((n = recv(origin_fd_, buf, sizeof(buf), MSG_DONTWAIT)) > 0) out.emplace_back(buf, buf + n);
    return out;
  }

  Config conf_;
  EventBasePtr base_;
  std::unique_ptr<Registry> reg_;
  std::unique_ptr<test::DeferredRegistryClient> client_;
  ConnectionLimiter limiter_{1000};
  int listen_fd_ = -1, origin_fd_ = -1;
  uint16_t listen_port_ = 0, origin_port_ = 0;
  std::vector<int> clients_;
  std::unique_ptr<UdpRelay> relay_;
};

TEST_F(RtcRelayWait, BindingRequestWaitsForTheLookUpAndOtherDatagramsAreDropped) {
  record("ans1:off1");
  int c = new_client();
  auto req = binding_request("ans1:off1");
  send_to(c, listen_port_, req);
  ASSERT_TRUE(run_until(base_.get(), [&] { return relay_->pending_lookups() == 1; }));
  EXPECT_EQ(client_->waiting(), 1u);
  EXPECT_EQ(relay_->active_sessions(), 0u);
  // While it waits: a DTLS-looking datagram and a retransmitted binding
  // request from the same address are dropped and counted, not relayed.
  send_to(c, listen_port_, {22, 254, 253, 0, 0});
  send_to(c, listen_port_, binding_request("ans1:off1", 7));
  // The same session's request from another address does not start a second look-up.
  send_to(new_client(), listen_port_, binding_request("ans1:off1", 9));
  ASSERT_TRUE(run_until(base_.get(), [&] { return relay_->counters().waiting_drops == 3; }))
      << relay_->counters().waiting_drops;
  EXPECT_EQ(client_->waiting(), 1u);
  EXPECT_EQ(relay_->counters().lookup_waits, 1u);
  EXPECT_TRUE(origin_got().empty());

  // The answer: the session starts and the held request reaches the origin.
  EXPECT_EQ(client_->deliver_all(), 1u);
  EXPECT_EQ(relay_->pending_lookups(), 0u);
  EXPECT_EQ(relay_->active_sessions(), 1u);
  auto got = origin_got();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], req);
  // From then on the client's datagrams are relayed.
  send_to(c, listen_port_, {22, 254, 253, 1, 1});
  std::vector<std::vector<uint8_t>> later;
  ASSERT_TRUE(run_until(base_.get(), [&] {
    for (auto& d : origin_got()) later.push_back(d);
    return !later.empty();
  }));
  EXPECT_EQ(later[0], (std::vector<uint8_t>{22, 254, 253, 1, 1}));
}

TEST_F(RtcRelayWait, UnknownAndFailedLookUpsStartNothing) {
  int c = new_client();
  send_to(c, listen_port_, binding_request("nobody:here"));
  ASSERT_TRUE(run_until(base_.get(), [&] { return relay_->pending_lookups() == 1; }));
  EXPECT_EQ(client_->deliver_all(), 1u);
  EXPECT_EQ(relay_->counters().unknown_username, 1u);
  EXPECT_EQ(relay_->active_sessions(), 0u);

  record("ans2:off2");
  send_to(c, listen_port_, binding_request("ans2:off2"));
  ASSERT_TRUE(run_until(base_.get(), [&] { return relay_->pending_lookups() == 1; }));
  EXPECT_EQ(client_->fail_all(ErrorKind::timeout, "registry call timed out"), 1u);
  EXPECT_EQ(relay_->counters().lookup_failed, 1u);
  EXPECT_EQ(relay_->active_sessions(), 0u);
  EXPECT_TRUE(origin_got().empty());
  // The client is no longer "waiting": its retransmission is looked up again.
  send_to(c, listen_port_, binding_request("ans2:off2", 5));
  ASSERT_TRUE(run_until(base_.get(), [&] { return relay_->pending_lookups() == 1; }));
  EXPECT_EQ(client_->deliver_all(), 1u);
  EXPECT_EQ(relay_->active_sessions(), 1u);
}

TEST_F(RtcRelayWait, AFloodOfUnknownUsernamesIsCapped) {
  const size_t extra = 6;
  for (size_t i = 0; i < UdpRelay::kMaxLookups + extra; i++) {
    send_to(new_client(), listen_port_, binding_request("flood" + std::to_string(i) + ":x"));
  }
  ASSERT_TRUE(run_until(base_.get(), [&] {
    return relay_->counters().lookup_waits + relay_->counters().lookup_refused == UdpRelay::kMaxLookups + extra;
  }));
  EXPECT_EQ(relay_->pending_lookups(), UdpRelay::kMaxLookups);
  EXPECT_EQ(client_->waiting(), UdpRelay::kMaxLookups);
  EXPECT_EQ(relay_->counters().lookup_refused, extra);
  EXPECT_EQ(client_->fail_all(ErrorKind::unavailable, "redis unreachable"), UdpRelay::kMaxLookups);
  EXPECT_EQ(relay_->pending_lookups(), 0u);
  EXPECT_EQ(relay_->counters().lookup_failed, UdpRelay::kMaxLookups);
}

TEST_F(RtcRelayWait, ALookUpNeverAnsweredIsGivenUp) {
  // A backend that never answers cannot hold a slot of kMaxLookups forever.
  record("ans5:off5");
  int c = new_client();
  send_to(c, listen_port_, binding_request("ans5:off5"));
  ASSERT_TRUE(run_until(base_.get(), [&] { return relay_->pending_lookups() == 1; }));
  int64_t t0 = monotonic_ms();
  ASSERT_TRUE(run_until(base_.get(), [&] { return relay_->pending_lookups() == 0; },
                        UdpRelay::kLookupTimeoutMs + 2000));
  EXPECT_GE(monotonic_ms() - t0, UdpRelay::kLookupTimeoutMs - 1000);
  EXPECT_EQ(relay_->counters().lookup_failed, 1u);
  EXPECT_EQ(client_->deliver_all(), 0u);  // given up: the late answer is not delivered
  EXPECT_EQ(relay_->active_sessions(), 0u);
}

TEST_F(RtcRelayWait, ARelayThatGoesAwayCancelsItsLookUps) {
  record("ans3:off3");
  send_to(new_client(), listen_port_, binding_request("ans3:off3"));
  ASSERT_TRUE(run_until(base_.get(), [&] { return relay_->pending_lookups() == 1; }));
  relay_.reset();
  EXPECT_EQ(client_->deliver_all(), 0u);  // cancelled: nothing ran
}

TEST_F(RtcRelayWait, TheTickRefreshWaitsAndEndsDeletedSessions) {
  record("ans4:off4");
  send_to(new_client(), listen_port_, binding_request("ans4:off4"));
  ASSERT_TRUE(run_until(base_.get(), [&] { return relay_->pending_lookups() == 1; }));
  client_->deliver_all();
  ASSERT_EQ(relay_->active_sessions(), 1u);
  // DELETE through another worker or proxy removed the record.
  client_->remove_session(SessionKind::rtc, "ans4:off4");
  // The next tick (1 s) asks for the refresh; the session lives until the answer.
  ASSERT_TRUE(run_until(base_.get(), [&] { return client_->waiting() == 1; }, 3000));
  EXPECT_EQ(relay_->active_sessions(), 1u);
  EXPECT_EQ(client_->deliver_all(), 1u);
  EXPECT_EQ(relay_->active_sessions(), 0u);
}

TEST(RtcRelayMemory, TheMemoryBackendStartsTheSessionWithoutWaiting) {
  EventBasePtr base(event_base_new());
  auto reg = table();
  MemoryRegistryClient client(*reg);
  ConnectionLimiter limiter(10);
  Config conf;
  uint16_t lport = 0, oport = 0, cport = 0;
  int lfd = udp_socket(&lport), ofd = udp_socket(&oport), cfd = udp_socket(&cport);
  RtcSessionData d;
  d.origin_host = "127.0.0.1";
  d.origin_port = oport;
  ASSERT_TRUE(
      client.put_session(SessionKind::rtc, "m:n", "k/a/s", "o1", encode_rtc_session_data(d, kSessionDataMax), 0).ok());
  {
    UdpRelay relay(base.get(), conf, client, limiter);
    ASSERT_TRUE(relay.start({lfd}).ok());
    send_to(cfd, lport, binding_request("m:n"));
    ASSERT_TRUE(run_until(base.get(), [&] { return relay.active_sessions() == 1; }));
    EXPECT_EQ(relay.counters().lookup_waits, 0u);
    EXPECT_EQ(relay.pending_lookups(), 0u);
  }
  close(lfd);
  close(ofd);
  close(cfd);
}

// ---- signalling ----

// Sends one raw request and returns the whole response (the server closes).
std::string raw_exchange(uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return "connect failed";
  }
  (void)!write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, size_t(n));
  close(fd);
  return out;
}

const char kOffer[] =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 0.0.0.0\r\na=ice-ufrag:offr\r\na=ice-pwd:0123456789012345678901\r\n";

std::string whip_request() {
  return std::string("POST /rtc/v1/whip/?app=live&stream=s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Type: application/sdp\r\nContent-Length: ") +
         std::to_string(sizeof(kOffer) - 1) + "\r\n\r\n" + kOffer;
}

std::string delete_request(const std::string& sid) {
  return "DELETE /rtc/v1/whip/?app=live&stream=s&spsid=" + sid + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
}

bool status_is(const std::string& response, int code) {
  return response.rfind("HTTP/1.1 " + std::to_string(code) + " ", 0) == 0;
}

class RtcApiWait : public ::testing::Test {
 protected:
  void SetUp() override {
    base_.reset(event_base_new());
    reg_ = table();
    client_ = std::make_unique<test::DeferredRegistryClient>(*reg_);
    auto any = make_sock_addr("127.0.0.1", 0);
    ASSERT_TRUE(any.ok());
    conf_.module<HttpApiConf>().listen.push_back(ListenConf{*any, "127.0.0.1:0"});
    conf_.module<HttpApiConf>().connect_timeout_ms = 1000;
    conf_.module<WebrtcConf>().listen.push_back(ListenConf{*any, "127.0.0.1:0"});
    auto set = ListenerSet::open(conf_, nullptr);
    ASSERT_TRUE(set.ok()) << set.error();
    listeners_ = std::move(*set);
    for (const Listener& l : listeners_.items()) {
      if (l.kind != "http_api") continue;
      sockaddr_in a{};
      socklen_t len = sizeof(a);
      getsockname(l.fd, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    }
    ASSERT_NE(port_, 0);
    api_ = std::make_unique<RtcApi>(base_.get(), conf_, *client_, limiter_);
    ASSERT_TRUE(api_->start(listeners_).ok());
  }
  void TearDown() override { api_.reset(); }

  // Sends `request` from a thread; `step` runs on the loop's side once the
  // request waits for the registry; returns the response.
  std::string exchange_waiting(const std::string& request, const std::function<void()>& step) {
    auto answer = std::async(std::launch::async, raw_exchange, port_, request);
    bool stepped = false;
    while (answer.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      if (!stepped && api_->waiting_for_registry() == 1) {
        stepped = true;
        step();
      }
      usleep(1000);
    }
    EXPECT_TRUE(stepped);
    return answer.get();
  }

  Config conf_;
  EventBasePtr base_;
  std::unique_ptr<Registry> reg_;
  std::unique_ptr<test::DeferredRegistryClient> client_;
  ConnectionLimiter limiter_{1000};
  ListenerSet listeners_;
  uint16_t port_ = 0;
  std::unique_ptr<RtcApi> api_;
};

TEST_F(RtcApiWait, ARegistryTimeoutIs503WithTheReason) {
  std::string r = exchange_waiting(whip_request(), [&] {
    EXPECT_EQ(client_->waiting(), 1u);
    EXPECT_EQ(client_->fail_all(ErrorKind::timeout, "registry call timed out after 500 ms"), 1u);
  });
  EXPECT_TRUE(status_is(r, 503)) << r;
  EXPECT_NE(r.find("registry call timed out after 500 ms"), std::string::npos) << r;
  EXPECT_EQ(api_->active_requests(), 0u);
}

TEST_F(RtcApiWait, TheOfferGoesOnWithThePickAndItsRetryWaitsToo) {
  // The picked origin refuses connections: the offer's retry asks the
  // registry again, and with no other origin the client gets 502.
  uint16_t dead_port = 0;
  int dead = udp_socket(&dead_port);  // a port no TCP listener holds
  ASSERT_TRUE(reg_->register_origin(rtc_origin("o1", dead_port), monotonic_ms()).ok());
  int answers = 0;
  std::string r = exchange_waiting(whip_request(), [&] {
    answers += int(client_->deliver_all());
    ASSERT_TRUE(run_until(base_.get(), [&] { return api_->waiting_for_registry() == 1; }));
    answers += int(client_->deliver_all());
  });
  close(dead);
  EXPECT_EQ(answers, 2);
  EXPECT_TRUE(status_is(r, 502)) << r;
  EXPECT_NE(r.find("did not answer"), std::string::npos) << r;
  EXPECT_EQ(api_->active_requests(), 0u);
}

TEST_F(RtcApiWait, AClientThatLeavesCancelsTheLookUp) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port_);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  std::string req = whip_request();
  ASSERT_EQ(write(fd, req.data(), req.size()), ssize_t(req.size()));
  ASSERT_TRUE(run_until(base_.get(), [&] { return api_->waiting_for_registry() == 1; }));
  close(fd);
  ASSERT_TRUE(run_until(base_.get(), [&] { return api_->active_requests() == 0; }));
  EXPECT_EQ(client_->deliver_all(), 0u);  // nothing left to answer
  EXPECT_TRUE(reg_->streams(monotonic_ms()).empty());  // and no pin was made
}

TEST_F(RtcApiWait, ALookUpNeverAnsweredEndsAtConnectTimeout) {
  int64_t t0 = monotonic_ms();
  std::string r = exchange_waiting(whip_request(), [] {});
  EXPECT_TRUE(status_is(r, 503)) << r;
  EXPECT_NE(r.find("the registry did not answer within 1000 ms"), std::string::npos) << r;
  EXPECT_GE(monotonic_ms() - t0, 900);
  EXPECT_EQ(client_->deliver_all(), 0u);  // given up: the late answer is not delivered
}

TEST_F(RtcApiWait, DeleteWaitsForTheSessionThenItsOrigin) {
  RtcSessionData d;
  d.origin_host = "127.0.0.1";
  d.origin_port = 8000;
  ASSERT_TRUE(client_->put_session(SessionKind::rtc, "a:b", "x/live/s", "gone-origin",
                                   encode_rtc_session_data(d, kSessionDataMax), monotonic_ms())
                  .ok());
  std::string r = exchange_waiting(delete_request("a:b"), [&] {
    EXPECT_EQ(client_->deliver_all(), 1u);  // the session
    ASSERT_TRUE(run_until(base_.get(), [&] { return client_->waiting() == 1; }));
    EXPECT_EQ(client_->deliver_all(), 1u);  // the origins
  });
  EXPECT_TRUE(status_is(r, 502)) << r;
  EXPECT_NE(r.find("origin gone-origin of the session is gone"), std::string::npos) << r;

  r = exchange_waiting(delete_request("a:b"), [&] { client_->fail_all(ErrorKind::unavailable, "redis unreachable"); });
  EXPECT_TRUE(status_is(r, 503)) << r;
  EXPECT_NE(r.find("registry look-up of session a:b failed: redis unreachable"), std::string::npos) << r;

  r = exchange_waiting(delete_request("no:such"), [&] { client_->deliver_all(); });
  EXPECT_TRUE(status_is(r, 404)) << r;
  EXPECT_NE(r.find("session no:such unknown or ended"), std::string::npos) << r;
}

}  // namespace
}  // namespace sp
