// A whole, bounded answer from an origin: see origin_fetch.h.
#include "http/origin_fetch.h"

namespace sp {

OriginFetch::OriginFetch(event_base* base, std::string ctx, size_t max_body, Done done)
    : max_body_(max_body), done_(std::move(done)), client_(base, std::move(ctx), this) {}

Status OriginFetch::start(const OriginClient::Request& req, OriginClient::Timeouts timeouts) {
  return client_.start(req, timeouts);
}

void OriginFetch::on_origin_head(OriginClient& origin, const HttpResponseHead& head) {
  // An announced length over the limit is refused before any body is read.
  if (origin.framing().kind == HttpBodyFraming::kLength && origin.framing().length > max_body_) {
    origin.abort();
    return complete(Outcome::kTooLarge, "answer body of " + std::to_string(origin.framing().length) + " bytes");
  }
  head_ = head;
}

void OriginFetch::on_origin_body(OriginClient& origin, std::span<const std::string_view> pieces) {
  for (std::string_view data : pieces) {
    if (body_.size() + data.size() > max_body_) {
      origin.abort();
      return complete(Outcome::kTooLarge, "answer body over " + std::to_string(max_body_) + " bytes");
    }
    body_.append(data);
  }
}

void OriginFetch::on_origin_end(OriginClient& origin, const Status& result) {
  if (result.ok()) return complete(Outcome::kAnswered, "");
  if (origin.head_too_large()) return complete(Outcome::kTooLarge, result.message());
  complete(origin.got_head() ? Outcome::kBroken : Outcome::kNoAnswer, result.message());
}

void OriginFetch::complete(Outcome outcome, std::string error) {
  if (outcome_ != Outcome::kPending) return;
  outcome_ = outcome;
  error_ = std::move(error);
  done_(*this);
}

}  // namespace sp
