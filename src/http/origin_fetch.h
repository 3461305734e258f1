// One whole HTTP answer from an origin, for short exchanges (WebRTC
// signalling: an SDP offer out, an answer of a few KB back). Built on
// OriginClient, so it has the same connect timeout, response head limit
// (http_parser.h: 8 KiB status line, 16 KiB of headers) and socket handling
// as the stream relay; on top it collects the body up to `max_body` bytes and
// stops reading (and closes) the moment an answer passes it.
//
// The outcome tells a caller what it may do next: kNoAnswer (nothing usable
// came: refused, connect timeout, closed) may be retried on another origin;
// kTooLarge and kBroken came from an origin that did answer.
//
// Lifetime: `done` runs once, from inside the loop's callback; the owner
// must not destroy the fetch there (HttpServer::bury() it instead).
#pragma once

#include <event2/buffer.h>

#include <functional>
#include <string>

#include "http/origin_client.h"

namespace sp {

class OriginFetch : private OriginClient::Handler {
 public:
  enum class Outcome { kPending, kAnswered, kNoAnswer, kTooLarge, kBroken };
  using Done = std::function<void(OriginFetch&)>;

  OriginFetch(event_base* base, std::string ctx, size_t max_body, Done done);
  // Error at once for an address that cannot be used (done is not called).
  Status start(const OriginClient::Request& req, OriginClient::Timeouts timeouts);
  // Closes now; `done` is not called.
  void abort() { client_.abort(); }

  Outcome outcome() const { return outcome_; }
  // Valid when outcome() is kAnswered.
  const HttpResponseHead& head() const { return head_; }
  const std::string& body() const { return body_; }
  // Why it failed ("" when answered).
  const std::string& error() const { return error_; }
  size_t max_body() const { return max_body_; }

 private:
  void on_origin_head(OriginClient& origin, const HttpResponseHead& head) override;
  void on_origin_body(OriginClient& origin, std::span<const std::string_view> pieces) override;
  void on_origin_end(OriginClient& origin, const Status& result) override;
  void complete(Outcome outcome, std::string error);

  size_t max_body_;
  Done done_;
  Outcome outcome_ = Outcome::kPending;
  HttpResponseHead head_;
  std::string body_;
  std::string error_;
  OriginClient client_;  // last: destroyed first
};

}  // namespace sp
