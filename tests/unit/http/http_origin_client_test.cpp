// OriginClient over real loopback sockets against a scripted origin thread:
// each answer is sent in pieces (TCP_NODELAY, a pause between pieces) so the
// client meets heads and chunk framing split at awkward places. Also the
// failure paths: refused connection, no answer (timeout), malformed answer,
// and pause/resume.
#include "http/origin_client.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/event_ptr.h"

using namespace sp;

namespace {

// Listens on 127.0.0.1:0; serves one connection: reads the request head,
// then sends `pieces` with a pause between them, then closes.
class ScriptedOrigin {
 public:
  explicit ScriptedOrigin(std::vector<std::string> pieces, bool answer = true) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 1);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, pieces = std::move(pieces), answer] {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      int one = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      char buf[4096];
      while (request_.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        request_.append(buf, size_t(n));
      }
      if (answer) {
        for (const std::string& p : pieces) {
          send(c, p.data(), p.size(), MSG_NOSIGNAL);
          std::this_thread::sleep_for(std::chrono::milliseconds(3));
        }
      } else {
        while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      close(c);
    });
  }
  ~ScriptedOrigin() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  const std::string& request() const { return request_; }

 private:
  int fd_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::string request_;
  std::atomic<bool> stop_{false};
};

std::vector<std::string> bytewise(const std::string& s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}

struct Collector : OriginClient::Handler {
  event_base* base;
  int status = 0;
  std::string content_type;
  std::string body;
  bool ended = false;
  Status result;
  bool pause_on_first_body = false;
  OriginClient* paused = nullptr;

  void on_origin_head(OriginClient&, const HttpResponseHead& head) override {
    status = head.status;
    if (auto ct = head.headers.get("Content-Type")) content_type = std::string(*ct);
  }
  void on_origin_body(OriginClient& o, std::span<const std::string_view> pieces) override {
    for (std::string_view data : pieces) body += data;
    if (pause_on_first_body && !paused) {
      paused = &o;
      o.pause();
    }
  }
  void on_origin_end(OriginClient&, const Status& st) override {
    ended = true;
    result = st;
    event_base_loopexit(base, nullptr);
  }
};

struct OriginRun {
  EventBasePtr base{event_base_new()};
  Collector c;
  std::unique_ptr<OriginClient> client;

  Status start(uint16_t port, int64_t connect_ms = 2000, int64_t idle_ms = 2000) {
    c.base = base.get();
    client = std::make_unique<OriginClient>(base.get(), "test", &c);
    OriginClient::Request r;
    r.host = "127.0.0.1";
    r.port = port;
    r.target = "/live/s.flv?token=1";
    r.host_header = "origin:8080";
    r.headers.add("User-Agent", "unit");
    return client->start(r, {connect_ms, idle_ms});
  }
  void loop() {
    timeval guard = ms_to_timeval(10000);
    event_base_loopexit(base.get(), &guard);
    event_base_dispatch(base.get());
  }
};

const std::string kChunked =
    "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3\r\nFLV\r\n10;ext=x\r\n0123456789abcdef\r\n0\r\nX-Trailer: y\r\n\r\n";

}  // namespace

TEST(HttpOriginClientTest, ChunkedBodySplitAnywhere) {
  ScriptedOrigin origin(bytewise(kChunked));
  OriginRun run;
  ASSERT_TRUE(run.start(origin.port()).ok());
  run.loop();
  ASSERT_TRUE(run.c.ended);
  EXPECT_TRUE(run.c.result.ok()) << run.c.result.message();
  EXPECT_EQ(run.c.status, 200);
  EXPECT_EQ(run.c.content_type, "video/x-flv");
  EXPECT_EQ(run.c.body, "FLV0123456789abcdef");
  EXPECT_EQ(origin.request(),
            "GET /live/s.flv?token=1 HTTP/1.1\r\nHost: origin:8080\r\nUser-Agent: unit\r\nConnection: close\r\n\r\n");
}

TEST(HttpOriginClientTest, ContentLengthAndCloseDelimited) {
  {
    ScriptedOrigin origin({"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nno", "pe", "!EXTRA"});
    OriginRun run;
    ASSERT_TRUE(run.start(origin.port()).ok());
    run.loop();
    EXPECT_TRUE(run.c.result.ok());
    EXPECT_EQ(run.c.status, 404);
    EXPECT_EQ(run.c.body, "nope!");  // nothing past the length
  }
  {
    ScriptedOrigin origin({"HTTP/1.0 200 OK\r\n\r\n", "live ", "bytes"});
    OriginRun run;
    ASSERT_TRUE(run.start(origin.port()).ok());
    run.loop();
    EXPECT_TRUE(run.c.result.ok());
    EXPECT_EQ(run.c.body, "live bytes");
  }
}

TEST(HttpOriginClientTest, TruncatedBodiesAreErrors) {
  ScriptedOrigin origin({"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"});
  OriginRun run;
  ASSERT_TRUE(run.start(origin.port()).ok());
  run.loop();
  EXPECT_FALSE(run.c.result.ok());
  EXPECT_NE(run.c.result.message().find("middle of the body"), std::string::npos);
  EXPECT_EQ(run.c.result.kind(), ErrorKind::upstream);
}

TEST(HttpOriginClientTest, MalformedAnswers) {
  for (std::string bad : {"ICY 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    ScriptedOrigin origin({bad});
    OriginRun run;
    ASSERT_TRUE(run.start(origin.port()).ok());
    run.loop();
    ASSERT_TRUE(run.c.ended) << bad;
    EXPECT_FALSE(run.c.result.ok()) << bad;
    EXPECT_EQ(run.c.result.kind(), ErrorKind::upstream) << bad;
  }
}

TEST(HttpOriginClientTest, RefusedAndSilentOrigins) {
  uint16_t closed_port;
  {
    ScriptedOrigin gone({});
    closed_port = gone.port();
  }
  OriginRun refused;
  Status st = refused.start(closed_port);
  if (st.ok()) {
    refused.loop();
    EXPECT_FALSE(refused.c.result.ok());
    EXPECT_NE(refused.c.result.message().find("connect"), std::string::npos) << refused.c.result.message();
    EXPECT_EQ(refused.c.result.kind(), ErrorKind::unavailable) << refused.c.result.message();
  } else {
    EXPECT_EQ(st.kind(), ErrorKind::unavailable) << st.message();
  }
  ScriptedOrigin silent({}, /*answer=*/false);
  OriginRun timed;
  ASSERT_TRUE(timed.start(silent.port(), /*connect_ms=*/200).ok());
  auto t0 = std::chrono::steady_clock::now();
  timed.loop();
  EXPECT_FALSE(timed.c.result.ok());
  EXPECT_NE(timed.c.result.message().find("no answer within connect_timeout"), std::string::npos);
  EXPECT_EQ(timed.c.result.kind(), ErrorKind::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(HttpOriginClientTest, BodyGapLongerThanIdleTimeout) {
  // Head and a first piece, then the origin goes quiet (the thread sleeps
  // before its last piece for longer than idle_timeout).
  std::vector<std::string> pieces = {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst"};
  for (int i = 0; i < 200; i++) pieces.emplace_back();  // ~600 ms of 3 ms pauses
  pieces.emplace_back("later");
  ScriptedOrigin origin(pieces);
  OriginRun run;
  ASSERT_TRUE(run.start(origin.port(), 2000, /*idle_ms=*/150).ok());
  run.loop();
  EXPECT_EQ(run.c.body, "first");
  EXPECT_FALSE(run.c.result.ok());
  EXPECT_NE(run.c.result.message().find("idle_timeout"), std::string::npos) << run.c.result.message();
  // After the head every failure is the origin's.
  EXPECT_EQ(run.c.result.kind(), ErrorKind::upstream);
}

TEST(HttpOriginClientTest, PauseStopsDeliveryUntilResume) {
  ScriptedOrigin origin({"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc", "def"});
  OriginRun run;
  run.c.pause_on_first_body = true;
  ASSERT_TRUE(run.start(origin.port()).ok());
  // Let the origin send everything while paused; nothing more is delivered.
  timeval t = ms_to_timeval(200);
  event_base_loopexit(run.base.get(), &t);
  event_base_dispatch(run.base.get());
  ASSERT_TRUE(run.c.paused);
  EXPECT_EQ(run.c.body, "abc");
  EXPECT_FALSE(run.c.ended);
  run.c.paused->resume();
  run.loop();
  EXPECT_TRUE(run.c.result.ok());
  EXPECT_EQ(run.c.body, "abcdef");
}
