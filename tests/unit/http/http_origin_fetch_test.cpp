// OriginFetch (http/origin_fetch.h) over loopback against a scripted origin
// thread: a whole answer, answers over the body limit (announced or
// streamed), a head over the parser's limits, a refused connection and an
// answer broken off mid-body, each with the outcome a caller acts on.
#include "http/origin_fetch.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "core/event_ptr.h"

using namespace sp;

namespace {

// Listens on 127.0.0.1:0, serves one connection: reads the request head,
// sends `answer`, closes.
class OneShotOrigin {
 public:
  explicit OneShotOrigin(std::string answer) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 1);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, answer = std::move(answer)] {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      while (request_.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        request_.append(buf, size_t(n));
      }
      send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      close(c);
    });
  }
  ~OneShotOrigin() {
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
};

struct FetchRun {
  EventBasePtr base{event_base_new()};
  std::unique_ptr<OriginFetch> fetch;
  int done_calls = 0;

  Status start(uint16_t port, size_t max_body) {
    fetch = std::make_unique<OriginFetch>(base.get(), "test", max_body, [this](OriginFetch&) {
      done_calls++;
      event_base_loopexit(base.get(), nullptr);
    });
    OriginClient::Request r;
    r.host = "127.0.0.1";
    r.port = port;
    r.method = "POST";
    r.target = "/rtc/v1/whip/?app=live&stream=s";
    r.host_header = "127.0.0.1:" + std::to_string(port);
    r.headers.add("Content-Type", "application/sdp");
    r.body = "v=0\r\n";
    return fetch->start(r, {2000, 2000});
  }
  void loop() {
    timeval guard = ms_to_timeval(10000);
    event_base_loopexit(base.get(), &guard);
    event_base_dispatch(base.get());
  }
};

TEST(OriginFetch, CollectsAWholeAnswer) {
  OneShotOrigin origin("HTTP/1.1 201 Created\r\nContent-Type: application/sdp\r\nLocation: /r/1\r\n"
                       "Content-Length: 7\r\n\r\nanswer!");
  FetchRun run;
  ASSERT_TRUE(run.start(origin.port(), 1024).ok());
  run.loop();
  EXPECT_EQ(run.done_calls, 1);
  ASSERT_EQ(run.fetch->outcome(), OriginFetch::Outcome::kAnswered) << run.fetch->error();
  EXPECT_EQ(run.fetch->head().status, 201);
  EXPECT_EQ(run.fetch->head().headers.get("Location").value_or(""), "/r/1");
  EXPECT_EQ(run.fetch->body(), "answer!");
  EXPECT_NE(origin.request().find("Content-Length: 5\r\n"), std::string::npos) << origin.request();
}

TEST(OriginFetch, AnnouncedLengthOverTheLimitIsRefusedUnread) {
  OneShotOrigin origin("HTTP/1.1 201 Created\r\nContent-Length: 100000000\r\n\r\nxxxx");
  FetchRun run;
  ASSERT_TRUE(run.start(origin.port(), 1024).ok());
  run.loop();
  EXPECT_EQ(run.done_calls, 1);
  EXPECT_EQ(run.fetch->outcome(), OriginFetch::Outcome::kTooLarge);
  EXPECT_TRUE(run.fetch->body().empty());
}

TEST(OriginFetch, StreamedBodyOverTheLimitStops) {
  OneShotOrigin origin("HTTP/1.1 201 Created\r\nConnection: close\r\n\r\n" + std::string(5000, 'y'));
  FetchRun run;
  ASSERT_TRUE(run.start(origin.port(), 1024).ok());
  run.loop();
  EXPECT_EQ(run.done_calls, 1);
  EXPECT_EQ(run.fetch->outcome(), OriginFetch::Outcome::kTooLarge);
  EXPECT_LE(run.fetch->body().size(), 1024u);
}

TEST(OriginFetch, HeadOverTheParserLimitsIsTooLarge) {
  OneShotOrigin origin("HTTP/1.1 201 Created\r\nX-Filler: " + std::string(40 * 1024, 'h') + "\r\n\r\n");
  FetchRun run;
  ASSERT_TRUE(run.start(origin.port(), 1024).ok());
  run.loop();
  EXPECT_EQ(run.fetch->outcome(), OriginFetch::Outcome::kTooLarge) << run.fetch->error();
}

TEST(OriginFetch, RefusedConnectionIsNoAnswer) {
  uint16_t port;
  {
    OneShotOrigin gone("");
    port = gone.port();
  }  // closed: nothing listens there now
  FetchRun run;
  Status st = run.start(port, 1024);
  if (st.ok()) run.loop();
  EXPECT_EQ(run.fetch->outcome(), st.ok() ? OriginFetch::Outcome::kNoAnswer : OriginFetch::Outcome::kPending);
}

TEST(OriginFetch, BodyBrokenOffIsBroken) {
  OneShotOrigin origin("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  FetchRun run;
  ASSERT_TRUE(run.start(origin.port(), 1024).ok());
  run.loop();
  EXPECT_EQ(run.fetch->outcome(), OriginFetch::Outcome::kBroken);
  EXPECT_FALSE(run.fetch->error().empty());
}

}  // namespace
