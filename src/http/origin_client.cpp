// HTTP requests to origins: see origin_client.h.
#include "http/origin_client.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/net_addr.h"

namespace sp {

namespace {

constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kMaxResponseHead = kHttpMaxRequestLine + kHttpMaxHeaderBytes + 4;
// The most a connection carries between reads: a head one byte over its
// limit (then refused); a chunk framing line is far shorter.
constexpr size_t kMaxCarry = kMaxResponseHead + 1;

// Every origin connection of the worker reads here, after its carry; what
// the handler is given is used before the callback returns.
char g_read_buffer[kMaxCarry + kReadChunk];
// The body pieces of one read, handed over together (one writev).
std::vector<std::string_view> g_pieces;

}  // namespace

OriginClient::OriginClient(event_base* base, std::string ctx, Handler* handler)
    : base_(base), ctx_(std::move(ctx)), handler_(handler) {}

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
  // Nothing read waits here: every body byte went to the handler as it
  // came (the carry is only an incomplete framing line, needing more).
}

void OriginClient::abort() {
  close_socket();
  finished_ = true;
}

void OriginClient::on_readable(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<OriginClient*>(arg);
  if (what & EV_TIMEOUT) return self->on_timeout();
  if (self->splice_ && self->got_head_ && self->carry_.empty() && self->body_.identity()) {
    return self->splice_body();
  }
  size_t pre = self->carry_.size();
  memcpy(g_read_buffer, self->carry_.data(), pre);
  ssize_t n;
  do {
    n = recv(self->fd_, g_read_buffer + pre, kReadChunk, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n < 0) {
    return self->finish(
        Status::Error(ErrorKind::unavailable, "origin connection error: " + std::string(strerror(errno))));
  }
  self->carry_.clear();
  self->consume(std::string_view(g_read_buffer, pre + size_t(n)));
  if (n == 0 && !self->finished_) self->on_eof();
}

// An identity body moved by the handler (splice); when it declines, the
// bytes are read and handed over like any others.
void OriginClient::splice_body() {
  uint64_t max = kReadChunk;
  if (framing_.kind == HttpBodyFraming::kLength) max = std::min<uint64_t>(max, body_.remaining());
  ssize_t n = handler_->on_origin_splice(*this, fd_, size_t(max));
  if (finished_) return;  // the handler aborted
  if (n == Handler::kNoSplice) {
    splice_ = false;
    return on_readable(fd_, EV_READ, this);
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n < 0) {
    return finish(Status::Error(ErrorKind::unavailable, "origin connection error: " + std::string(strerror(errno))));
  }
  if (n == 0) return on_eof();
  count_body(uint64_t(n));
  body_.skip(uint64_t(n));
  if (body_.done()) finish(Status::Ok());
}

void OriginClient::on_eof() {
  if (got_head_) {
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

void OriginClient::consume(std::string_view in) {
  while (!got_head_) {
    if (in.empty()) return;
    size_t look = std::min(in.size(), kMaxResponseHead + 1);
    auto parsed = parse_http_response_head(in.substr(0, look));
    if (parsed.state == HttpParseState::kIncomplete) {
      if (look > kMaxResponseHead) {
        head_too_large_ = true;
        return finish(Status::Error(ErrorKind::upstream, "origin response head too large"));
      }
      carry_.assign(in);
      return;
    }
    if (parsed.state == HttpParseState::kError) {
      head_too_large_ = parsed.over_limit;
      return finish(Status::Error(ErrorKind::upstream, "bad origin response: " + parsed.error));
    }
    in.remove_prefix(parsed.consumed);
    if (parsed.head.status / 100 == 1) continue;  // 100 Continue and friends: skip
    auto framing = http_response_framing(method_, parsed.head);
    if (!framing.ok()) return finish(Status::Error(ErrorKind::upstream, "bad origin response: " + framing.error()));
    framing_ = *framing;
    body_ = BodyReader(framing_);
    got_head_ = true;
    if (!paused_) {
      timeval idle = ms_to_timeval(timeouts_.idle_ms);
      event_add(rev_.get(), &idle);
    }
    handler_->on_origin_head(*this, parsed.head);
    if (finished_) return;  // the handler aborted
  }
  read_body(in);
}

void OriginClient::read_body(std::string_view in) {
  g_pieces.clear();
  BodyReader::Piece p;
  for (;;) {
    p = body_.next(in);
    if (p.kind != BodyReader::Piece::kData) break;
    in.remove_prefix(p.consumed);
    if (p.data.empty()) continue;
    // Chunks cut by nothing but framing make one piece.
    if (!g_pieces.empty() && g_pieces.back().data() + g_pieces.back().size() == p.data.data()) {
      g_pieces.back() = std::string_view(g_pieces.back().data(), g_pieces.back().size() + p.data.size());
    } else {
      g_pieces.push_back(p.data);
    }
    count_body(p.data.size());
  }
  if (p.kind == BodyReader::Piece::kNeedMore) carry_.assign(in);  // an incomplete framing line (or nothing)
  if (!g_pieces.empty()) {
    // The handler may start another request (a redirect): hand it a copy
    // of the list, not the shared one.
    std::vector<std::string_view> pieces;
    pieces.swap(g_pieces);
    handler_->on_origin_body(*this, pieces);
    pieces.clear();
    if (g_pieces.capacity() < pieces.capacity()) g_pieces.swap(pieces);
    if (finished_) return;  // the handler aborted
  }
  if (p.kind == BodyReader::Piece::kError) {
    return finish(Status::Error(ErrorKind::upstream, "bad chunked body: " + p.error));
  }
  if (p.kind == BodyReader::Piece::kDone) finish(Status::Ok());
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
