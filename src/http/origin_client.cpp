// HTTP requests to origins: see origin_client.h.
#include "http/origin_client.h"

#include <algorithm>
#include <cstring>

#include "core/net_addr.h"

namespace sp {

namespace {

// Origin input kept before the handler takes it; the handler pauses us when
// its own output is full, so this is the most one origin buffers here.
constexpr size_t kOriginReadHighWater = 256 * 1024;
constexpr size_t kMaxResponseHead = kHttpMaxRequestLine + kHttpMaxHeaderBytes + 4;

}  // namespace

OriginClient::OriginClient(event_base* base, std::string ctx, Handler* handler)
    : base_(base), ctx_(std::move(ctx)), handler_(handler), out_(evbuffer_new()) {}

OriginClient::~OriginClient() {
  bev_.reset();
  evbuffer_free(out_);
}

Status OriginClient::start(const Request& req, Timeouts timeouts) {
  timeouts_ = timeouts;
  method_ = req.method;
  auto addr = make_sock_addr(req.host, req.port);
  address_ = addr.ok() ? addr->to_string() : req.host + ":" + std::to_string(req.port);
  if (!addr.ok()) return Status::Error("bad origin address " + address_ + ": " + addr.error());
  bev_.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
  if (!bev_) return Status::Error("bufferevent_socket_new failed");
  bufferevent_setcb(bev_.get(), &OriginClient::on_read, nullptr, &OriginClient::on_event, this);
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, kOriginReadHighWater);
  timeval tv = ms_to_timeval(timeouts.connect_ms);
  bufferevent_set_timeouts(bev_.get(), &tv, &tv);

  std::string text = req.method + " " + req.target + " HTTP/1.1\r\nHost: " + req.host_header + "\r\n";
  for (const auto& [name, value] : req.headers.fields()) text += name + ": " + value + "\r\n";
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
    text += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  }
  text += "Connection: close\r\n\r\n";
  text += req.body;
  bufferevent_write(bev_.get(), text.data(), text.size());
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
  if (bufferevent_socket_connect(bev_.get(), addr->sa(), int(addr->len)) != 0) {
    bev_.reset();
    finished_ = true;
    return Status::Error("cannot connect to origin " + address_ + ": " + strerror(errno));
  }
  return Status::Ok();
}

void OriginClient::pause() {
  if (bev_) bufferevent_disable(bev_.get(), EV_READ);
}

void OriginClient::resume() {
  if (!bev_) return;
  bufferevent_enable(bev_.get(), EV_READ);
  // Bytes that arrived before the pause are still waiting in the input.
  if (got_head_ && evbuffer_get_length(bufferevent_get_input(bev_.get())) > 0) read_body();
}

void OriginClient::abort() {
  bev_.reset();
  finished_ = true;
}

void OriginClient::on_read(bufferevent*, void* arg) {
  auto* self = static_cast<OriginClient*>(arg);
  if (!self->got_head_) {
    self->read_head();
  } else {
    self->read_body();
  }
}

void OriginClient::read_head() {
  evbuffer* in = bufferevent_get_input(bev_.get());
  size_t len = evbuffer_get_length(in);
  size_t look = std::min(len, kMaxResponseHead + 1);
  auto* data = reinterpret_cast<const char*>(evbuffer_pullup(in, ev_ssize_t(look)));
  auto parsed = parse_http_response_head(std::string_view(data, look));
  if (parsed.state == HttpParseState::kIncomplete) {
    if (look > kMaxResponseHead) finish(Status::Error("origin response head too large"));
    return;
  }
  if (parsed.state == HttpParseState::kError) return finish(Status::Error("bad origin response: " + parsed.error));
  evbuffer_drain(in, parsed.consumed);
  if (parsed.head.status / 100 == 1) return read_head();  // 100 Continue and friends: skip
  auto framing = http_response_framing(method_, parsed.head);
  if (!framing.ok()) return finish(Status::Error("bad origin response: " + framing.error()));
  framing_ = *framing;
  remaining_ = framing_.length;
  got_head_ = true;
  timeval idle = ms_to_timeval(timeouts_.idle_ms);
  bufferevent_set_timeouts(bev_.get(), &idle, &idle);
  handler_->on_origin_head(*this, parsed.head);
  if (!bev_) return;  // the handler aborted
  if (framing_.kind == HttpBodyFraming::kNone || (framing_.kind == HttpBodyFraming::kLength && remaining_ == 0)) {
    return finish(Status::Ok());
  }
  read_body();
}

void OriginClient::read_body() {
  evbuffer* in = bufferevent_get_input(bev_.get());
  switch (framing_.kind) {
    case HttpBodyFraming::kNone:
      return;
    case HttpBodyFraming::kClose:
      evbuffer_add_buffer(out_, in);
      break;
    case HttpBodyFraming::kLength: {
      size_t n = size_t(std::min<uint64_t>(remaining_, evbuffer_get_length(in)));
      evbuffer_remove_buffer(in, out_, n);
      remaining_ -= n;
      break;
    }
    case HttpBodyFraming::kChunked:
      while (!chunked_.done() && evbuffer_get_length(in) > 0) {
        if (uint64_t pending = chunked_.data_pending()) {
          size_t n = size_t(std::min<uint64_t>(pending, evbuffer_get_length(in)));
          evbuffer_remove_buffer(in, out_, n);
          chunked_.take_data(n);
          continue;
        }
        size_t look = std::min<size_t>(evbuffer_get_length(in), 4200);
        auto* data = reinterpret_cast<const char*>(evbuffer_pullup(in, ev_ssize_t(look)));
        auto step = chunked_.parse_framing(std::string_view(data, look));
        if (step.kind == ChunkedDecoder::Step::kError) return finish(Status::Error("bad chunked body: " + step.error));
        if (step.kind == ChunkedDecoder::Step::kNeedMore) break;
        evbuffer_drain(in, step.consumed);
      }
      break;
  }
  deliver();
  if (!bev_) return;
  bool complete = (framing_.kind == HttpBodyFraming::kLength && remaining_ == 0) ||
                  (framing_.kind == HttpBodyFraming::kChunked && chunked_.done());
  if (complete) finish(Status::Ok());
}

void OriginClient::deliver() {
  size_t n = evbuffer_get_length(out_);
  if (n == 0) return;
  body_bytes_ += n;
  handler_->on_origin_body(*this, out_);
  evbuffer_drain(out_, evbuffer_get_length(out_));
}

void OriginClient::on_event(bufferevent*, short what, void* arg) {
  auto* self = static_cast<OriginClient*>(arg);
  if (what & BEV_EVENT_CONNECTED) {
    self->connected_ = true;
    return;
  }
  if (what & BEV_EVENT_EOF) {
    if (self->got_head_) {
      self->read_body();  // whatever came with the FIN
      if (!self->bev_) return;
      if (self->framing_.kind == HttpBodyFraming::kClose) return self->finish(Status::Ok());
      return self->finish(Status::Error("origin closed in the middle of the body"));
    }
    return self->finish(Status::Error("origin closed without a complete answer"));
  }
  if (what & BEV_EVENT_TIMEOUT) {
    if (!self->connected_) return self->finish(Status::Error("origin connect timed out"));
    if (!self->got_head_) return self->finish(Status::Error("origin sent no answer within connect_timeout"));
    return self->finish(Status::Error("origin sent nothing for idle_timeout"));
  }
  int err = EVUTIL_SOCKET_ERROR();
  std::string why = self->connected_ ? "origin connection error: " : "cannot connect to origin: ";
  self->finish(Status::Error(why + evutil_socket_error_to_string(err)));
}

void OriginClient::finish(const Status& st) {
  if (finished_) return;
  finished_ = true;
  bev_.reset();
  handler_->on_origin_end(*this, st);
}

}  // namespace sp
