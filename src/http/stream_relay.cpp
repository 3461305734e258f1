// Origin answers streamed to the client (see stream_relay.h).
#include "http/stream_relay.h"

#include <strings.h>

#include <cstdlib>

#include "core/clock.h"
#include "core/log.h"
#include "http/stream_service.h"

namespace sp {

namespace {
// SP_HTTP_SPLICE=0 (srs-proxy(8) ENVIRONMENT): identity bodies are copied
// through user space like chunked ones, for diagnosis and bench/http_flv.
const bool g_splice = [] {
  const char* v = getenv("SP_HTTP_SPLICE");
  return !(v && v[0] == '0');
}();
}  // namespace

void StreamRelay::on_origin_head(OriginClient& origin, const HttpResponseHead& head) {
  report(Status::Ok());
  HttpStreamService& svc = req_.svc();
  HttpConn& conn = req_.conn();
  HttpHeaders h;
  bool cors = svc.conf().cors;
  for (const auto& [name, value] : head.headers.fields()) {
    if (http_is_hop_by_hop(name)) continue;
    if (name.size() == 6 && strcasecmp(name.c_str(), "server") == 0) continue;
    if (cors && strncasecmp(name.c_str(), "access-control-", 15) == 0) continue;
    h.add(name, value);
  }
  req_.add_cors(&h);
  std::optional<uint64_t> length;
  const HttpBodyFraming& f = origin.framing();
  if (f.kind == HttpBodyFraming::kLength) length = f.length;
  if (f.kind == HttpBodyFraming::kNone) {
    length = 0;
    // HEAD: announce the origin's length.
    if (auto cl = head.headers.get("Content-Length"); cl && req_.method() == "HEAD") {
      length = strtoull(std::string(*cl).c_str(), nullptr, 10);
    }
  }
  conn.begin_response(head.status, h, length);
  if (head.status / 100 == 2 && !live_key_.empty()) {
    // The origin has the stream: its pin lasts and this client counts.
    Status st = req_.registry().confirm(live_key_, live_server_, monotonic_ms());
    if (!st.ok()) SP_WARN(req_.ctx(), "http: stream %s not pinned: %s", live_key_.c_str(), st.message().c_str());
    req_.count_client(live_key_);
    live_key_.clear();
  }
  if (head.status == 200 && req_.counted()) {
    SP_INFO(req_.ctx(), "http: stream start %s %s %s key=%s origin=%s", conn.peer().to_string().c_str(),
            req_.method().c_str(), req_.target().c_str(), req_.counted_key().c_str(), req_.origin_desc().c_str());
  }
}

void StreamRelay::on_origin_body(OriginClient& origin, std::span<const std::string_view> pieces) {
  req_.conn().write(pieces);
  pause_if_full(origin);
}

ssize_t StreamRelay::on_origin_splice(OriginClient& origin, int fd, size_t max) {
  if (!g_splice) return OriginClient::Handler::kNoSplice;
  HttpConn& conn = req_.conn();
  ssize_t n = conn.splice_from(fd, max);
  if (n == HttpConn::kNoSplice) return OriginClient::Handler::kNoSplice;
  int err = errno;
  pause_if_full(origin);
  errno = err;
  return n;
}

void StreamRelay::pause_if_full(OriginClient& origin) {
  if (!paused_ && req_.conn().output_full()) {
    paused_ = true;
    origin.pause();
  }
}

void StreamRelay::on_client_drain() {
  if (paused_ && origin_) {
    paused_ = false;
    origin_->resume();
  }
}

void StreamRelay::on_origin_end(OriginClient& origin, const Status& result) {
  bool had_head = origin.got_head();
  if (!had_head) {
    report(result);
    bool retried = !live_key_.empty() && next_origin(live_key_, "", [this, result](std::optional<Pick> pick) {
      if (!pick) return req_.fail(result.kind(), "origin " + req_.origin_desc() + ": " + result.message());
      live_server_ = pick->origin.server;
      start(pick->host, pick->port, req_.target());
    });
    if (retried) return;
  }
  drop();
  if (!had_head) {
    return req_.fail(result.kind(), "origin " + req_.origin_desc() + ": " + result.message());
  }
  if (result.ok()) {
    req_.conn().end_response();
    return req_.end("");
  }
  HttpConn& conn = req_.conn();
  req_.end(result.message());
  conn.close("origin: " + result.message());
}

}  // namespace sp
