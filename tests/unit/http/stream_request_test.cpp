// StreamRequest's "waiting for the registry" state, driven through a real
// StreamConn on a socketpair and a real loopback origin socket, with the
// registry's answers held back by DeferredRegistryClient (as Redis would
// answer later): a client that leaves while its pick or session look-up
// waits leaves no pin, count or session; a timeout answer is a 503 with a
// reason; no answer by the deadline is a 503 too; a late successful answer
// goes on to the origin, including an HLS session written by another proxy;
// the retry pick after a failed origin waits the same way.
#include "http/stream_request.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "http/hls_session.h"
#include "http/http_conf.h"
#include "http/stream_conn.h"
#include "http/stream_service.h"
#include "registry/deferred_registry_client.h"

namespace sp {
namespace {

class StreamRequestWait : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    auto r = Registry::create(Registry::minimum_size() * 4, RegistryTtls{});
    ASSERT_TRUE(r.ok()) << r.error();
    reg_ = std::move(*r);
    client_ = std::make_unique<test::DeferredRegistryClient>(*reg_);
    conf_.module<HttpStreamConf>().connect_timeout_ms = 5000;

    // The origin: a loopback listening socket the test accepts on itself.
    origin_listen_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(origin_listen_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(listen(origin_listen_, 8), 0);
    socklen_t len = sizeof(a);
    getsockname(origin_listen_, reinterpret_cast<sockaddr*>(&a), &len);
    origin_port_ = ntohs(a.sin_port);
    OriginSpec spec;
    spec.server = "o1";
    spec.service = "svc";
    spec.pid = "100";
    spec.ip = "127.0.0.1";
    spec.endpoints[int(Proto::rtmp)] = {Endpoint{"", 19351}};
    spec.endpoints[int(Proto::http)] = {Endpoint{"", origin_port_}};
    if (!dead_origin_first_) {
      ASSERT_TRUE(reg_->register_origin(spec, monotonic_ms()).ok());
    } else {
      live_origin_ = spec;
      // o0: a port nobody listens on (bound, then closed).
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in d{};
      d.sin_family = AF_INET;
      d.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&d), sizeof(d)), 0);
      len = sizeof(d);
      getsockname(fd, reinterpret_cast<sockaddr*>(&d), &len);
      close(fd);
      OriginSpec dead = spec;
      dead.server = "o0";
      dead.endpoints[int(Proto::http)] = {Endpoint{"", ntohs(d.sin_port)}};
      ASSERT_TRUE(reg_->register_origin(dead, monotonic_ms()).ok());
    }
  }

  void TearDown() override {
    conn_.reset();
    svc_.reset();
    ctx_.reset();
    for (int fd : {client_fd_, origin_fd_, origin_listen_}) {
      if (fd >= 0) close(fd);
    }
    event_base_free(base_);
  }

  // The service (made after the test set its configuration) and one client
  // connection on a socketpair.
  void connect() {
    ctx_ = std::make_unique<WorkerContext>(
        WorkerContext{base_, conf_, *reg_, *client_, listeners_, 0, limiter_, nullptr});
    svc_ = std::make_unique<HttpStreamService>(*ctx_);
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    client_fd_ = sv[1];
    BufferEventPtr bev(bufferevent_socket_new(base_, sv[0], BEV_OPT_CLOSE_ON_FREE));
    auto peer = make_sock_addr("127.0.0.1", 40000);
    ASSERT_TRUE(peer.ok());
    conn_ = std::make_unique<StreamConn>(*svc_, std::move(bev), *peer, false);
    conn_->start();
  }

  void send(const std::string& target) {
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n";
    ASSERT_EQ(write(client_fd_, req.data(), req.size()), ssize_t(req.size()));
  }

  // Runs the loop until `done` holds (false after 5 s). Waits in poll() on
  // the test's sockets between turns, not in sleeps.
  bool pump_until(const std::function<bool()>& done) {
    int64_t deadline = monotonic_ms() + 5000;
    while (monotonic_ms() < deadline) {
      event_base_loop(base_, EVLOOP_NONBLOCK);
      read_client();
      if (done()) return true;
      pollfd p[2] = {{client_fd_, POLLIN, 0}, {origin_fd_ >= 0 ? origin_fd_ : origin_listen_, POLLIN, 0}};
      poll(p, 2, 2);
    }
    return false;
  }

  void read_client() {
    char buf[4096];
    ssize_t n;
    while (client_fd_ >= 0 && (n = read(client_fd_, buf, sizeof(buf))) > 0) answer_.append(buf, size_t(n));
  }

  // The origin's side: accepts the proxy's connection and reads its request
  // head.
  bool origin_accepts() {
    if (origin_fd_ < 0) origin_fd_ = accept4(origin_listen_, nullptr, nullptr, SOCK_NONBLOCK);
    if (origin_fd_ < 0) return false;
    char buf[4096];
    ssize_t n;
    while ((n = read(origin_fd_, buf, sizeof(buf))) > 0) origin_got_.append(buf, size_t(n));
    return origin_got_.find("\r\n\r\n") != std::string::npos;
  }
  void origin_answers(const std::string& type, const std::string& body) {
    std::string a = "HTTP/1.1 200 OK\r\nContent-Type: " + type + "\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
    ASSERT_EQ(write(origin_fd_, a.data(), a.size()), ssize_t(a.size()));
  }

  bool nothing_left() {
    int64_t now = monotonic_ms();
    for (const StreamView& s : reg_->streams(now)) {
      ADD_FAILURE() << "stream left: " << s.key << " on " << s.origin_server;
      return false;
    }
    for (const SessionView& s : reg_->sessions(now)) {
      if (s.id == kept_session_) continue;
      ADD_FAILURE() << "session left: " << s.id;
      return false;
    }
    return true;
  }

  // The client leaves while its look-up waits: the look-up is dropped.
  void expect_client_gone_leaves_nothing(const std::string& target) {
    connect();
    send(target);
    ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
    EXPECT_TRUE(answer_.empty());
    close(client_fd_);
    client_fd_ = -1;
    ASSERT_TRUE(pump_until([&] { return conn_->closed(); }));
    EXPECT_EQ(client_->deliver_all(), 0u) << "a dropped look-up was answered";
    event_base_loop(base_, EVLOOP_NONBLOCK);
    EXPECT_TRUE(nothing_left());
    EXPECT_LT(accept4(origin_listen_, nullptr, nullptr, SOCK_NONBLOCK), 0) << "the origin was contacted";
  }

  // Another proxy's HLS session (with Redis the segment may arrive here
  // after the playlist went through another proxy).
  void put_foreign_session(const std::string& id) {
    kept_session_ = id;
    std::string data = hls_session_data(HlsSessionRoute{"127.0.0.1", origin_port_, {}, {}});
    ASSERT_TRUE(reg_->put_session(SessionKind::hls, id, "example.com/live/s", "o1", data, monotonic_ms()).ok());
  }

  bool dead_origin_first_ = false;  // set by a subclass before SetUp
  OriginSpec live_origin_;           // o1, registered later by such a test
  event_base* base_ = nullptr;
  std::unique_ptr<Registry> reg_;
  std::unique_ptr<test::DeferredRegistryClient> client_;
  Config conf_;
  ListenerSet listeners_;
  ConnectionLimiter limiter_{100};
  std::unique_ptr<WorkerContext> ctx_;
  std::unique_ptr<HttpStreamService> svc_;
  std::unique_ptr<StreamConn> conn_;
  int client_fd_ = -1, origin_listen_ = -1, origin_fd_ = -1;
  uint16_t origin_port_ = 0;
  std::string answer_, origin_got_, kept_session_;
};

TEST_F(StreamRequestWait, LiveClientGoneWhileThePickWaitsLeavesNothing) {
  expect_client_gone_leaves_nothing("/live/s.flv");
}

TEST_F(StreamRequestWait, NewHlsClientGoneWhileThePickWaitsLeavesNothing) {
  expect_client_gone_leaves_nothing("/live/s.m3u8");
}

TEST_F(StreamRequestWait, HlsSegmentClientGoneWhileTheSessionLookUpWaits) {
  put_foreign_session("0123456789abcdef");
  expect_client_gone_leaves_nothing("/live/s-1.ts?spbhid=0123456789abcdef");
}

TEST_F(StreamRequestWait, ATimeoutAnswerIs503WithAReason) {
  connect();
  send("/live/s.flv");
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  EXPECT_EQ(client_->fail_all(ErrorKind::timeout, "registry call timed out after 1000 ms"), 1u);
  ASSERT_TRUE(pump_until([&] { return answer_.find("timed out") != std::string::npos; }));
  EXPECT_EQ(answer_.rfind("HTTP/1.1 503 ", 0), 0u) << answer_;
  EXPECT_NE(answer_.find("example.com/live/s"), std::string::npos) << "the reason names the key: " << answer_;
  EXPECT_TRUE(nothing_left());
}

TEST_F(StreamRequestWait, AnUnavailableSessionLookUpIs503Not404) {
  put_foreign_session("0123456789abcdef");
  connect();
  send("/live/s-1.ts?spbhid=0123456789abcdef");
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  client_->fail_all(ErrorKind::unavailable, "redis unreachable");
  ASSERT_TRUE(pump_until([&] { return answer_.find("unreachable") != std::string::npos; }));
  EXPECT_EQ(answer_.rfind("HTTP/1.1 503 ", 0), 0u) << answer_;
  EXPECT_NE(answer_.find("0123456789abcdef"), std::string::npos) << answer_;
}

TEST_F(StreamRequestWait, NoAnswerByTheDeadlineIs503) {
  conf_.module<HttpStreamConf>().connect_timeout_ms = 100;
  connect();
  send("/live/s.flv");
  ASSERT_TRUE(pump_until([&] { return answer_.find("\r\n\r\n") != std::string::npos; }));
  EXPECT_EQ(answer_.rfind("HTTP/1.1 503 ", 0), 0u) << answer_;
  EXPECT_NE(answer_.find("did not answer"), std::string::npos) << answer_;
  EXPECT_EQ(client_->deliver_all(), 0u) << "the look-up given up was answered";
  EXPECT_TRUE(nothing_left());
}

TEST_F(StreamRequestWait, ALateAnswerGoesOnToTheOrigin) {
  connect();
  send("/live/s.flv");
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  EXPECT_FALSE(origin_accepts());
  EXPECT_EQ(client_->deliver_all(), 1u);
  ASSERT_TRUE(pump_until([&] { return origin_accepts(); }));
  EXPECT_EQ(origin_got_.rfind("GET /live/s.flv HTTP/1.1\r\n", 0), 0u) << origin_got_;
  origin_answers("video/x-flv", "FLV..");
  ASSERT_TRUE(pump_until([&] { return answer_.find("FLV..") != std::string::npos; }));
  EXPECT_EQ(answer_.rfind("HTTP/1.1 200 ", 0), 0u) << answer_;
  // The origin had the stream: its pin was confirmed.
  auto streams = reg_->streams(monotonic_ms());
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].origin_server, "o1");
}

TEST_F(StreamRequestWait, ASegmentOfAnotherProxysSessionIsRelayedOnceFound) {
  put_foreign_session("0123456789abcdef");
  connect();
  send("/live/s-1.ts?spbhid=0123456789abcdef&x=1");
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  EXPECT_EQ(client_->deliver_all(), 1u);
  ASSERT_TRUE(pump_until([&] { return origin_accepts(); }));
  EXPECT_EQ(origin_got_.rfind("GET /live/s-1.ts?x=1 HTTP/1.1\r\n", 0), 0u) << origin_got_;
  origin_answers("video/mp2t", "TS..");
  ASSERT_TRUE(pump_until([&] { return answer_.find("TS..") != std::string::npos; }));
  EXPECT_EQ(answer_.rfind("HTTP/1.1 200 ", 0), 0u) << answer_;
}

TEST_F(StreamRequestWait, AnUnknownSessionIs404OnceTheRegistryAnswers) {
  connect();
  send("/live/s-1.ts?spbhid=0123456789abcdef");
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  client_->deliver_all();
  ASSERT_TRUE(pump_until([&] { return answer_.find("\r\n\r\n") != std::string::npos; }));
  EXPECT_EQ(answer_.rfind("HTTP/1.1 404 ", 0), 0u) << answer_;
}

TEST_F(StreamRequestWait, ANewHlsViewerWaitsForEachLookUpThenGetsItsSession) {
  connect();
  send("/live/s.m3u8");
  // The pick, then the viewer's fingerprint: each answered late.
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  EXPECT_EQ(client_->deliver_all(), 1u);
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  EXPECT_EQ(client_->deliver_all(), 1u);
  ASSERT_TRUE(pump_until([&] { return origin_accepts(); }));
  EXPECT_EQ(origin_got_.rfind("GET /live/s.m3u8 HTTP/1.1\r\n", 0), 0u) << origin_got_;
  origin_answers("application/vnd.apple.mpegurl", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns-1.ts\n");
  ASSERT_TRUE(pump_until([&] { return answer_.find("s-1.ts") != std::string::npos; }));
  EXPECT_EQ(answer_.rfind("HTTP/1.1 200 ", 0), 0u) << answer_;
  EXPECT_NE(answer_.find("s-1.ts?spbhid="), std::string::npos) << answer_;
  int hls = 0, clients = 0;
  for (const SessionView& s : reg_->sessions(monotonic_ms())) {
    hls += s.kind == SessionKind::hls;
    clients += s.kind == SessionKind::hls_client;
  }
  EXPECT_EQ(hls, 1);
  EXPECT_EQ(clients, 1);
}

class StreamRequestRetryWait : public StreamRequestWait {
 protected:
  StreamRequestRetryWait() { dead_origin_first_ = true; }
};

TEST_F(StreamRequestRetryWait, TheRetryPickAfterAFailedOriginWaitsToo) {
  connect();
  send("/live/s.flv");
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  EXPECT_EQ(client_->deliver_all(), 1u);  // o0, whose connect is refused
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; })) << "no retry pick after the refusal";
  EXPECT_TRUE(answer_.empty());
  // o1 arrives while the retry waits (with Redis, registered at another
  // proxy): the late answer sends the request there.
  ASSERT_TRUE(reg_->register_origin(live_origin_, monotonic_ms()).ok());
  EXPECT_EQ(client_->deliver_all(), 1u);
  ASSERT_TRUE(pump_until([&] { return origin_accepts(); }));
  origin_answers("video/x-flv", "FLV..");
  ASSERT_TRUE(pump_until([&] { return answer_.find("FLV..") != std::string::npos; }));
  EXPECT_EQ(answer_.rfind("HTTP/1.1 200 ", 0), 0u) << answer_;
}

TEST_F(StreamRequestRetryWait, AClientGoneWhileTheRetryPickWaitsLeavesNothingCounted) {
  connect();
  send("/live/s.flv");
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  client_->deliver_all();
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  close(client_fd_);
  client_fd_ = -1;
  ASSERT_TRUE(pump_until([&] { return conn_->closed(); }));
  ASSERT_TRUE(reg_->register_origin(live_origin_, monotonic_ms()).ok());
  EXPECT_EQ(client_->deliver_all(), 0u);
  EXPECT_LT(accept4(origin_listen_, nullptr, nullptr, SOCK_NONBLOCK), 0) << "the origin was contacted";
  for (const StreamView& v : reg_->streams(monotonic_ms())) {
    for (uint32_t n : v.clients) EXPECT_EQ(n, 0u);
  }
}

TEST_F(StreamRequestRetryWait, ATimedOutRetryPickEndsWithTheOriginsError) {
  connect();
  send("/live/s.flv");
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  client_->deliver_all();
  ASSERT_TRUE(pump_until([&] { return client_->waiting() == 1; }));
  client_->fail_all(ErrorKind::timeout, "registry call timed out");
  ASSERT_TRUE(pump_until([&] { return answer_.find("\r\n\r\n") != std::string::npos; }));
  EXPECT_EQ(answer_.rfind("HTTP/1.1 503 ", 0), 0u) << answer_;
  EXPECT_NE(answer_.find("origin o0@"), std::string::npos) << answer_;
}

}  // namespace
}  // namespace sp
