// HTTP requests to origins: see origin_client.h.
#include "http/origin_client.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/net_addr.h"

namespace sp {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Reads per readiness callback before yielding to other connections.
constexpr int kReadsPerWakeup = 4;
constexpr size_t kMaxResponseHead = kHttpMaxRequestLine + kHttpMaxHeaderBytes + 4;

}  // namespace

OriginClient::OriginClient(event_base* base, std::string ctx, Handler* handler)
    : base_(base), ctx_(std::move(ctx)), handler_(handler), in_(evbuffer_new()), out_(evbuffer_new()) {}

OriginClient::~OriginClient() { close_socket(); }

void OriginClient::close_socket() {
  rev_.reset();
  wev_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status OriginClient::start(const Request& req, Timeouts timeouts) {
  timeouts_ = timeouts;
  method_ = req.method;
  auto addr = make_sock_addr(req.host, req.port);
  address_ = addr.ok() ? addr->to_string() : req.host + ":" + std::to_string(req.port);
  finished_ = true;  // until the connect is under way
  if (!addr.ok()) return Status::Error(ErrorKind::unavailable, "bad origin address " + address_ + ": " + addr.error());

  request_ = req.method + " " + req.target + " HTTP/1.1\r\nHost: " + req.host_header + "\r\n";
  for (const auto& [name, value] : req.headers.fields()) request_ += name + ": " + value + "\r\n";
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
    request_ += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  }
  request_ += "Connection: close\r\n\r\n";
  request_ += req.body;

  fd_ = socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Status::Error(ErrorKind::unavailable, std::string("socket() failed: ") + strerror(errno));
  if (connect(fd_, addr->sa(), addr->len) != 0 && errno != EINPROGRESS) {
    int err = errno;
    close_socket();
    return Status::Error(ErrorKind::unavailable, "cannot connect to origin " + address_ + ": " + strerror(err));
  }
  wev_.reset(event_new(base_, fd_, EV_WRITE, &OriginClient::on_writable, this));
  rev_.reset(event_new(base_, fd_, EV_READ | EV_PERSIST, &OriginClient::on_readable, this));
  if (!wev_ || !rev_) {
    close_socket();
    return Status::Error(ErrorKind::unavailable, "event_new failed");
  }
  finished_ = false;
  timeval tv = ms_to_timeval(timeouts.connect_ms);
  event_add(wev_.get(), &tv);
  return Status::Ok();
}

void OriginClient::on_writable(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<OriginClient*>(arg);
  if (what & EV_TIMEOUT) return self->on_timeout();
  if (!self->connected_) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return self->finish(
          Status::Error(ErrorKind::unavailable, "cannot connect to origin: " + std::string(strerror(err))));
    }
    self->connected_ = true;
  }
  self->send_request();
}

void OriginClient::send_request() {
  while (!request_.empty()) {
    ssize_t n = send(fd_, request_.data(), request_.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {
      return finish(Status::Error(ErrorKind::unavailable, "origin connection error: " + std::string(strerror(errno))));
    }
    request_.erase(0, size_t(n));
  }
  // The whole exchange up to the response head is bounded by connect_timeout.
  timeval tv = ms_to_timeval(timeouts_.connect_ms);
  if (!request_.empty()) {
    event_add(wev_.get(), &tv);
    return;
  }
  if (!paused_) event_add(rev_.get(), &tv);
}

void OriginClient::pause() {
  paused_ = true;
  if (rev_) event_del(rev_.get());
}

void OriginClient::resume() {
  if (closed() || !paused_) return;
  paused_ = false;
  timeval tv = ms_to_timeval(got_head_ ? timeouts_.idle_ms : timeouts_.connect_ms);
  if (request_.empty()) event_add(rev_.get(), &tv);
  // Bytes read before the pause are still waiting.
  if (got_head_ && evbuffer_get_length(in_.get()) > 0) read_body();
}

void OriginClient::abort() {
  close_socket();
  finished_ = true;
}

void OriginClient::on_readable(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<OriginClient*>(arg);
  if (what & EV_TIMEOUT) return self->on_timeout();
  bool eof = false;
  for (int i = 0; i < kReadsPerWakeup; i++) {
    evbuffer_iovec vec[2];
    int nvec = evbuffer_reserve_space(self->in_.get(), kReadChunk, vec, 2);
    if (nvec <= 0) return self->finish(Status::Error(ErrorKind::internal, "out of memory"));
    ssize_t n = readv(self->fd_, reinterpret_cast<iovec*>(vec), nvec);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {
      return self->finish(
          Status::Error(ErrorKind::unavailable, "origin connection error: " + std::string(strerror(errno))));
    }
    if (n == 0) {
      eof = true;
      break;
    }
    // Commit exactly what was read, across the reserved vectors.
    size_t left = size_t(n);
    for (int v = 0; v < nvec; v++) {
      size_t take = std::min(left, vec[v].iov_len);
      vec[v].iov_len = take;
      left -= take;
    }
    evbuffer_commit_space(self->in_.get(), vec, nvec);
    if (size_t(n) < kReadChunk) break;  // drained the socket
  }
  if (!self->got_head_) {
    self->read_head();
  } else {
    self->read_body();
  }
  if (eof && !self->finished_) self->on_eof();
}

void OriginClient::on_eof() {
  if (got_head_) {
    read_body();  // whatever came with the FIN
    if (finished_) return;
    if (framing_.kind == HttpBodyFraming::kClose) return finish(Status::Ok());
    return finish(Status::Error(ErrorKind::upstream, "origin closed in the middle of the body"));
  }
  finish(Status::Error(ErrorKind::upstream, "origin closed without a complete answer"));
}

void OriginClient::on_timeout() {
  if (!connected_) return finish(Status::Error(ErrorKind::timeout, "origin connect timed out"));
  if (!got_head_) return finish(Status::Error(ErrorKind::timeout, "origin sent no answer within connect_timeout"));
  finish(Status::Error(ErrorKind::timeout, "origin sent nothing for idle_timeout"));
}

void OriginClient::read_head() {
  size_t len = evbuffer_get_length(in_.get());
  if (len == 0) return;
  size_t look = std::min(len, kMaxResponseHead + 1);
  auto* data = reinterpret_cast<const char*>(evbuffer_pullup(in_.get(), ev_ssize_t(look)));
  auto parsed = parse_http_response_head(std::string_view(data, look));
  if (parsed.state == HttpParseState::kIncomplete) {
    if (look > kMaxResponseHead) {
      head_too_large_ = true;
      finish(Status::Error(ErrorKind::upstream, "origin response head too large"));
    }
    return;
  }
  if (parsed.state == HttpParseState::kError) {
    head_too_large_ = parsed.over_limit;
    return finish(Status::Error(ErrorKind::upstream, "bad origin response: " + parsed.error));
  }
  evbuffer_drain(in_.get(), parsed.consumed);
  if (parsed.head.status / 100 == 1) return read_head();  // 100 Continue and friends: skip
  auto framing = http_response_framing(method_, parsed.head);
  if (!framing.ok()) return finish(Status::Error(ErrorKind::upstream, "bad origin response: " + framing.error()));
  framing_ = *framing;
  remaining_ = framing_.length;
  got_head_ = true;
  if (!paused_) {
    timeval idle = ms_to_timeval(timeouts_.idle_ms);
    event_add(rev_.get(), &idle);
  }
  handler_->on_origin_head(*this, parsed.head);
  if (finished_) return;  // the handler aborted
  if (framing_.kind == HttpBodyFraming::kNone || (framing_.kind == HttpBodyFraming::kLength && remaining_ == 0)) {
    return finish(Status::Ok());
  }
  read_body();
}

void OriginClient::read_body() {
  switch (framing_.kind) {
    case HttpBodyFraming::kNone:
      return;
    case HttpBodyFraming::kClose:
      evbuffer_add_buffer(out_.get(), in_.get());
      break;
    case HttpBodyFraming::kLength: {
      size_t n = size_t(std::min<uint64_t>(remaining_, evbuffer_get_length(in_.get())));
      evbuffer_remove_buffer(in_.get(), out_.get(), n);
      remaining_ -= n;
      break;
    }
    case HttpBodyFraming::kChunked:
      while (!chunked_.done() && evbuffer_get_length(in_.get()) > 0) {
        if (uint64_t pending = chunked_.data_pending()) {
          size_t n = size_t(std::min<uint64_t>(pending, evbuffer_get_length(in_.get())));
          evbuffer_remove_buffer(in_.get(), out_.get(), n);
          chunked_.take_data(n);
          continue;
        }
        size_t look = std::min<size_t>(evbuffer_get_length(in_.get()), 4200);
        auto* data = reinterpret_cast<const char*>(evbuffer_pullup(in_.get(), ev_ssize_t(look)));
        auto step = chunked_.parse_framing(std::string_view(data, look));
        if (step.kind == ChunkedDecoder::Step::kError) {
          return finish(Status::Error(ErrorKind::upstream, "bad chunked body: " + step.error));
        }
        if (step.kind == ChunkedDecoder::Step::kNeedMore) break;
        evbuffer_drain(in_.get(), step.consumed);
      }
      break;
  }
  deliver();
  if (finished_) return;
  bool complete = (framing_.kind == HttpBodyFraming::kLength && remaining_ == 0) ||
                  (framing_.kind == HttpBodyFraming::kChunked && chunked_.done());
  if (complete) finish(Status::Ok());
}

void OriginClient::deliver() {
  size_t n = evbuffer_get_length(out_.get());
  if (n == 0) return;
  body_bytes_ += n;
  handler_->on_origin_body(*this, out_.get());
  evbuffer_drain(out_.get(), evbuffer_get_length(out_.get()));
}

void OriginClient::finish(const Status& st) {
  if (finished_) return;
  finished_ = true;
  close_socket();
  // Once the origin started answering, any failure is its own.
  if (got_head_ && !st.ok() && st.kind() != ErrorKind::internal) {
    return handler_->on_origin_end(*this, Status::Error(ErrorKind::upstream, st.message()));
  }
  handler_->on_origin_end(*this, st);
}

}  // namespace sp
