// HTTP/1.1 server connections on bufferevents: see http_server.h.
#include "http/http_server.h"

#include <event2/bufferevent_ssl.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "http/tls.h"

namespace sp {

namespace {

constexpr size_t kPipeSize = 256 * 1024;

// Input kept while an answer is in progress (pipelined requests) and the
// most a request head may take: reading stops above it.
constexpr size_t kReadHighWater = 64 * 1024;

}  // namespace

Status HttpListener::add(int fd, SSL_CTX* tls) {
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return Status::Error(std::string("dup of listening socket failed: ") + strerror(errno));
  fcntl(own, F_SETFL, fcntl(own, F_GETFL) | O_NONBLOCK);
  auto item = std::make_unique<Item>();
  item->owner = this;
  item->tls = tls;
  // backlog 0: the master already called listen(); freeing closes only our dup.
  item->listener.reset(evconnlistener_new(base_, &HttpListener::on_accept, item.get(),
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, own));
  if (!item->listener) {
    close(own);
    return Status::Error("evconnlistener_new failed on socket " + std::to_string(fd));
  }
  item->backoff = std::make_unique<AcceptBackoff>(base_, item->listener.get(), name_);
  items_.push_back(std::move(item));
  return Status::Ok();
}

void HttpListener::on_accept(evconnlistener* l, evutil_socket_t fd, sockaddr* sa, int len, void* arg) {
  auto* item = static_cast<Item*>(arg);
  HttpListener* self = item->owner;
  SockAddr peer = SockAddr::from(sa, socklen_t(len));
  BufferEventPtr bev;
  if (item->tls) {
    SSL* ssl = SSL_new(item->tls);
    if (ssl) {
      bev.reset(bufferevent_openssl_socket_new(self->base_, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                               BEV_OPT_CLOSE_ON_FREE));
      if (!bev) SSL_free(ssl);
    }
    // Players often just close the TCP connection; that is not an error.
    if (bev) bufferevent_openssl_set_allow_dirty_shutdown(bev.get(), 1);
  } else {
    bev.reset(bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE));
  }
  if (!bev) {
    SP_PERROR("%s: cannot create a bufferevent for %s", self->name_.c_str(), peer.to_string().c_str());
    close(fd);
    return;
  }
  self->on_accept_(std::move(bev), peer, item->tls != nullptr);
}

HttpConn::HttpConn(event_base* base, BufferEventPtr bev, SockAddr peer, bool tls, std::string ctx, Limits limits,
                   Handler* handler)
    : base_(base),
      bev_(std::move(bev)),
      peer_(peer),
      tls_(tls),
      ctx_(std::move(ctx)),
      limits_(limits),
      handler_(handler) {}

HttpConn::~HttpConn() = default;

void HttpConn::start() {
  head_timer_.reset(evtimer_new(base_, &HttpConn::on_head_timeout, this));
  kick_.reset(event_new(base_, -1, 0, &HttpConn::on_kick, this));
  bufferevent_setcb(bev_.get(), &HttpConn::on_read, &HttpConn::on_write, &HttpConn::on_event, this);
  size_t high = std::max<size_t>(kReadHighWater, limits_.max_body + kHttpMaxRequestLine + kHttpMaxHeaderBytes + 1024);
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, high);
  bufferevent_setwatermark(bev_.get(), EV_WRITE, kLowWater, 0);
  // Streamed bodies are bulk data: write up to 128 KiB per call, not 16 KiB.
  bufferevent_set_max_single_write(bev_.get(), 128 * 1024);
  timeval idle = ms_to_timeval(limits_.idle_timeout_ms);
  bufferevent_set_timeouts(bev_.get(), nullptr, &idle);
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
  wait_for_request();
}

void HttpConn::wait_for_request() {
  phase_ = Phase::kReadingHead;
  scanned_ = 0;
  pending_.reset();
  timeval tv = ms_to_timeval(limits_.head_timeout_ms);
  evtimer_add(head_timer_.get(), &tv);
  // A pipelined request may already be waiting; parse it from the loop, not
  // from inside the handler that just answered.
  if (evbuffer_get_length(bufferevent_get_input(bev_.get())) > 0) event_active(kick_.get(), EV_TIMEOUT, 0);
}

void HttpConn::on_kick(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<HttpConn*>(arg);
  if (self->closed()) return;
  if (self->direct_error_) return self->close(self->direct_error_text_);
  if (self->phase_ == Phase::kClosingAfterFlush) {
    if (self->output_size() == 0) self->close("done");
    return;
  }
  if (self->phase_ == Phase::kReadingHead || self->phase_ == Phase::kReadingBody) self->try_parse();
}

void HttpConn::on_read(bufferevent* bev, void* arg) {
  auto* self = static_cast<HttpConn*>(arg);
  switch (self->phase_) {
    case Phase::kReadingHead:
    case Phase::kReadingBody:
      self->try_parse();
      break;
    case Phase::kClosingAfterFlush:
      evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
      break;
    case Phase::kHandling:
      break;  // kept for after this answer; bounded by the read watermark
  }
}

void HttpConn::try_parse() {
  evbuffer* in = bufferevent_get_input(bev_.get());
  if (phase_ == Phase::kReadingHead) {
    size_t len = evbuffer_get_length(in);
    if (len == 0) return;
    auto* data = reinterpret_cast<const char*>(evbuffer_pullup(in, -1));
    // Parse again only when a line was completed (or a limit may be
    // passed): a head trickled byte by byte must not cost a full parse per
    // byte.
    std::string_view view(data, len);
    bool new_line = view.find('\n', std::min(scanned_, len)) != std::string_view::npos;
    scanned_ = len;
    if (!new_line && len <= kHttpMaxRequestLine) return;
    auto parsed = parse_http_request_head(view);
    if (parsed.state == HttpParseState::kIncomplete) return;
    scanned_ = 0;
    if (parsed.state == HttpParseState::kError) return refuse(parsed.error_status, parsed.error);
    evbuffer_drain(in, parsed.consumed);
    if (parsed.head.chunked) return refuse(501, "chunked request bodies are not supported");
    uint64_t body = parsed.head.content_length.value_or(0);
    if (body > limits_.max_body) return refuse(413, "request body too large");
    if (body > 0 && parsed.head.expects_continue()) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      bufferevent_write(bev_.get(), kContinue.data(), kContinue.size());
    }
    pending_ = std::move(parsed.head);
    phase_ = Phase::kReadingBody;
  }
  uint64_t need = pending_->content_length.value_or(0);
  if (evbuffer_get_length(in) < need) return;
  std::string body(need, '\0');
  if (need) evbuffer_remove(in, body.data(), need);
  evtimer_del(head_timer_.get());
  HttpRequestHead req = std::move(*pending_);
  pending_.reset();
  phase_ = Phase::kHandling;
  keep_alive_ = req.keep_alive() && !draining_;
  head_request_ = req.method == "HEAD";
  length_.reset();
  status_ = 0;
  body_bytes_ = 0;
  handler_->on_request(*this, req, std::move(body));
}

void HttpConn::refuse(int status, const std::string& why) {
  SP_WARN(ctx_, "%s: bad request from %s: %d %s", log_name_.c_str(), peer_.to_string().c_str(), status, why.c_str());
  if (bad_input_proto_) {
    metrics::count_bad_input(*bad_input_proto_, metrics::listener_of_fd(*bad_input_proto_, fd()),
                             metrics::Stage::request);
  }
  evtimer_del(head_timer_.get());
  phase_ = Phase::kHandling;
  keep_alive_ = false;
  head_request_ = false;
  HttpHeaders h;
  h.add("Content-Type", "text/plain; charset=utf-8");
  respond(status, h, why + "\n");
}

std::string HttpConn::head_text(int status, const HttpHeaders& headers, std::optional<uint64_t> length) {
  status_ = status;
  length_ = length;
  if (!length) keep_alive_ = false;
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + http_reason(status) + "\r\nServer: srs-proxy\r\n";
  for (const auto& [name, value] : headers.fields()) head += name + ": " + value + "\r\n";
  // No Content-Length on a 204 (RFC 9110 section 8.6); its body is empty.
  if (length && status != 204) head += "Content-Length: " + std::to_string(*length) + "\r\n";
  head += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return head;
}

void HttpConn::send_head(int status, const HttpHeaders& headers, std::optional<uint64_t> length) {
  std::string head = head_text(status, headers, length);
  bufferevent_write(bev_.get(), head.data(), head.size());
}

void HttpConn::respond(int status, const HttpHeaders& headers, std::string_view body) {
  if (closed()) return;
  send_head(status, headers, body.size());
  write(body);
  end_response();
}

void HttpConn::begin_response(int status, const HttpHeaders& headers, std::optional<uint64_t> length) {
  if (closed()) return;
  std::string head = head_text(status, headers, length);
  // A plaintext body goes out directly (see the header), once whatever the
  // bufferevent still holds (a 100 Continue) is gone.
  if (!tls_ && !head_request_ && evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0) {
    if (!wev_) wev_.reset(event_new(base_, fd(), EV_WRITE, &HttpConn::on_direct_writable, this));
    if (!dout_) dout_.reset(evbuffer_new());
    if (wev_ && dout_) {
      direct_ = true;
      return direct_write(head.data(), head.size());
    }
  }
  bufferevent_write(bev_.get(), head.data(), head.size());
}

void HttpConn::write(evbuffer* data) {
  size_t n = evbuffer_get_length(data);
  if (closed() || head_request_ || direct_error_) {
    evbuffer_drain(data, n);
    return;
  }
  count_body(n);
  if (!direct_) {
    bufferevent_write_buffer(bev_.get(), data);
    return;
  }
  bool progress = false;
  while (direct_queued() == 0 && evbuffer_get_length(data) > 0) {
    int w = evbuffer_write(data, fd());
    if (w > 0) {
      progress = true;
      continue;
    }
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    evbuffer_drain(data, evbuffer_get_length(data));
    return direct_failed(w < 0 ? errno : EPIPE);
  }
  if (evbuffer_get_length(data) > 0) evbuffer_add_buffer(dout_.get(), data);
  direct_arm(progress);
}

void HttpConn::write(std::string_view data) {
  if (closed() || head_request_ || data.empty() || direct_error_) return;
  count_body(data.size());
  if (direct_) return direct_write(data.data(), data.size());
  bufferevent_write(bev_.get(), data.data(), data.size());
}

void HttpConn::write(std::span<const std::string_view> pieces) {
  if (closed() || head_request_ || direct_error_) return;
  size_t total = 0;
  for (std::string_view p : pieces) total += p.size();
  if (total == 0) return;
  count_body(total);
  if (!direct_) {
    for (std::string_view p : pieces) bufferevent_write(bev_.get(), p.data(), p.size());
    return;
  }
  size_t i = 0, off = 0;  // the first piece not wholly sent, and how much of it was
  bool progress = false;
  while (direct_queued() == 0 && i < pieces.size()) {
    iovec iov[64];
    size_t n = 0, want = 0;
    for (size_t j = i, o = off; j < pieces.size() && n < 64; j++, o = 0) {
      if (pieces[j].size() == o) continue;
      iov[n].iov_base = const_cast<char*>(pieces[j].data() + o);
      iov[n].iov_len = pieces[j].size() - o;
      want += iov[n].iov_len;
      n++;
    }
    if (n == 0) {
      i = pieces.size();
      break;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    ssize_t w = sendmsg(fd(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    if (w <= 0) return direct_failed(w < 0 ? errno : EPIPE);
    progress = true;
    for (size_t left = size_t(w); left > 0 && i < pieces.size();) {
      size_t rest = pieces[i].size() - off;
      if (left >= rest) {
        left -= rest;
        i++;
        off = 0;
      } else {
        off += left;
        left = 0;
      }
    }
    while (i < pieces.size() && pieces[i].size() == off) {
      i++;
      off = 0;
    }
    if (size_t(w) < want) break;  // the socket is full
  }
  for (; i < pieces.size(); i++, off = 0) {
    if (pieces[i].size() > off) evbuffer_add(dout_.get(), pieces[i].data() + off, pieces[i].size() - off);
  }
  direct_arm(progress);
}

size_t HttpConn::direct_queued() const { return piped_ + (dout_ ? evbuffer_get_length(dout_.get()) : 0); }

// Writes now what the socket takes when nothing waits before it; queues the
// rest (a copy: `data` is the worker's read buffer).
void HttpConn::direct_write(const char* data, size_t n) {
  bool progress = false;
  if (direct_queued() == 0) {
    while (n > 0) {
      ssize_t w = send(fd(), data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        data += w;
        n -= size_t(w);
        progress = true;
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
      return direct_failed(w < 0 ? errno : EPIPE);
    }
  }
  if (n > 0) evbuffer_add(dout_.get(), data, n);
  direct_arm(progress);
}

ssize_t HttpConn::splice_from(int src, size_t max) {
  if (closed() || !direct_ || direct_error_ || !splice_ok_ || evbuffer_get_length(dout_.get()) > 0) return kNoSplice;
  if (pipe_w_.get() < 0) {
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
      splice_ok_ = false;
      return kNoSplice;
    }
    pipe_r_.reset(p[0]);
    pipe_w_.reset(p[1]);
    // 256 KiB moves as much per splice as one read takes elsewhere (64 KiB
    // pipes cost ~20% more CPU per GB in bench/http_flv). Refused past the
    // user's pipe-user-pages-soft: the default size still works.
    fcntl(p[1], F_SETPIPE_SZ, int(kPipeSize));
  }
  ssize_t n = splice(src, nullptr, pipe_w_.get(), nullptr, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n <= 0) {
    // A socket that cannot be spliced: read() and write() it instead.
    if (n < 0 && errno == EINVAL && piped_ == 0) {
      splice_ok_ = false;
      return kNoSplice;
    }
    return n;
  }
  piped_ += size_t(n);
  count_body(uint64_t(n));
  int err = errno;
  direct_flush();
  errno = err;
  return n;
}

// Moves queued bytes to the socket (the pipe's first, then the copies),
// until it is full; (un)registers the write event accordingly.
void HttpConn::direct_flush() {
  bool progress = false;
  while (piped_ > 0) {
    ssize_t w = splice(pipe_r_.get(), nullptr, fd(), nullptr, piped_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (w > 0) {
      piped_ -= size_t(w);
      progress = true;
      continue;
    }
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return direct_arm(progress);
    return direct_failed(w < 0 ? errno : EPIPE);
  }
  while (evbuffer_get_length(dout_.get()) > 0) {
    int w = evbuffer_write(dout_.get(), fd());
    if (w > 0) {
      progress = true;
      continue;
    }
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    return direct_failed(w < 0 ? errno : EPIPE);
  }
  direct_arm(progress);
}

// The write event, with the idle timeout, runs only while bytes are queued;
// its deadline restarts whenever the socket took some.
void HttpConn::direct_arm(bool progress) {
  if (direct_queued() == 0) {
    event_del(wev_.get());
    return;
  }
  if (progress || !event_pending(wev_.get(), EV_WRITE, nullptr)) {
    timeval idle = ms_to_timeval(limits_.idle_timeout_ms);
    event_add(wev_.get(), &idle);
  }
}

// A write error: nothing more is written, and the connection closes from
// the loop (not from inside the handler that was writing).
void HttpConn::direct_failed(int err) {
  if (direct_error_) return;
  direct_error_ = true;
  direct_error_text_ = std::string("client connection error: ") + strerror(err);
  if (dout_) evbuffer_drain(dout_.get(), evbuffer_get_length(dout_.get()));
  piped_ = 0;
  if (wev_) event_del(wev_.get());
  event_active(kick_.get(), EV_TIMEOUT, 0);
}

void HttpConn::on_direct_writable(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<HttpConn*>(arg);
  if (self->closed() || self->direct_error_) return;
  if (what & EV_TIMEOUT) return self->close("client stopped reading for idle_timeout");
  self->direct_flush();
  if (!self->closed() && !self->direct_error_ && self->direct_queued() == 0 && self->phase_ == Phase::kHandling) {
    self->handler_->on_drain(*self);
  }
}

// The streamed answer is over: what is still queued goes to the
// bufferevent, which carries the connection from here (next request, or
// close once flushed).
void HttpConn::direct_end() {
  if (!direct_) return;
  direct_ = false;
  event_del(wev_.get());
  evbuffer* out = bufferevent_get_output(bev_.get());
  while (piped_ > 0) {
    int n = evbuffer_read(out, pipe_r_.get(), int(std::min<size_t>(piped_, 64 * 1024)));
    if (n <= 0) break;
    piped_ -= size_t(n);
  }
  piped_ = 0;
  if (evbuffer_get_length(dout_.get()) > 0) bufferevent_write_buffer(bev_.get(), dout_.get());
}

void HttpConn::write_file(int fd, uint64_t offset, uint64_t length) {
  if (closed() || head_request_) {
    ::close(fd);
    return;
  }
  // Files go out with the bufferevent's sendfile: the head, if any of it
  // still waits in the direct queue, goes to the bufferevent before them.
  direct_end();
  if (evbuffer_add_file(bufferevent_get_output(bev_.get()), fd, ev_off_t(offset), ev_off_t(length)) != 0) {
    ::close(fd);
    return close("cannot send file");
  }
  count_body(length);
}

void HttpConn::end_response() {
  if (closed()) return;
  direct_end();
  bool complete = head_request_ || (length_ && body_bytes_ == *length_);
  if (keep_alive_ && complete) return wait_for_request();
  phase_ = Phase::kClosingAfterFlush;
  // Fire on_write only when everything has gone out.
  bufferevent_setwatermark(bev_.get(), EV_WRITE, 0, 0);
  event_active(kick_.get(), EV_TIMEOUT, 0);
}

std::optional<SockAddr> HttpConn::local_address() const {
  if (closed()) return std::nullopt;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(int(bufferevent_getfd(bev_.get())), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  return SockAddr::from(reinterpret_cast<sockaddr*>(&ss), len);
}

size_t HttpConn::output_size() const {
  return closed() ? 0 : evbuffer_get_length(bufferevent_get_output(bev_.get())) + direct_queued();
}

bool HttpConn::output_full() const {
  if (closed()) return false;
  if (direct_) return direct_queued() > 0 || direct_error_;
  return output_size() > kHighWater;
}

void HttpConn::on_write(bufferevent* bev, void* arg) {
  auto* self = static_cast<HttpConn*>(arg);
  if (self->phase_ == Phase::kClosingAfterFlush) {
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) self->close("done");
    return;
  }
  if (self->phase_ == Phase::kHandling) self->handler_->on_drain(*self);
}

void HttpConn::on_event(bufferevent* bev, short what, void* arg) {
  auto* self = static_cast<HttpConn*>(arg);
  if (what & BEV_EVENT_CONNECTED) return;
  std::string reason;
  if (what & BEV_EVENT_EOF) {
    reason = "client closed";
  } else if (what & BEV_EVENT_TIMEOUT) {
    reason = "client stopped reading for idle_timeout";
  } else {
    int err = EVUTIL_SOCKET_ERROR();
    std::string tls = self->tls_ ? tls_error_text(bufferevent_get_openssl_error(bev)) : "";
    reason = "client connection error: " + (tls.empty() ? std::string(strerror(err)) : tls);
    // Between requests no access line will name it (a failed TLS handshake,
    // say), so log it here, once.
    if (self->phase_ == Phase::kReadingHead) {
      SP_WARN(self->ctx_, "%s: connection from %s failed: %s", self->log_name_.c_str(), self->peer_.to_string().c_str(),
              reason.c_str());
    }
  }
  self->close(reason);
}

void HttpConn::on_head_timeout(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<HttpConn*>(arg);
  bool partial = self->bev_ && evbuffer_get_length(bufferevent_get_input(self->bev_.get())) > 0;
  if (partial || self->phase_ == Phase::kReadingBody) {
    SP_WARN(self->ctx_, "%s: no complete request from %s within %lldms, closed", self->log_name_.c_str(),
            self->peer_.to_string().c_str(), static_cast<long long>(self->limits_.head_timeout_ms));
  }
  self->close(partial ? "request head timeout" : "idle keep-alive connection timed out");
}

void HttpConn::drain() {
  draining_ = true;
  if (closed()) return;
  keep_alive_ = false;  // takes effect if the answer head is not sent yet
  bool idle = phase_ == Phase::kReadingHead && evbuffer_get_length(bufferevent_get_input(bev_.get())) == 0;
  if (idle) close("shutting down");
}

void HttpConn::close(const std::string& reason) {
  if (closed()) return;
  wev_.reset();  // its socket's event goes before the socket
  direct_ = false;
  piped_ = 0;
  pipe_r_.reset();
  pipe_w_.reset();
  dout_.reset();
  bev_.reset();  // the socket closes now
  if (head_timer_) evtimer_del(head_timer_.get());
  if (kick_) event_del(kick_.get());
  handler_->on_close(*this, reason);
}

HttpServer::HttpServer(event_base* base, std::string name, HttpConn::Limits limits, ConnectionLimiter* limiter,
                       Handler* handler)
    : base_(base),
      name_(name),
      limits_(limits),
      limiter_(limiter),
      handler_(handler),
      reaper_(event_new(base, -1, 0, &HttpServer::on_reap, this)),
      listener_(
          base, [this](BufferEventPtr bev, const SockAddr& peer, bool tls) { accept(std::move(bev), peer, tls); },
          std::move(name)) {}

// Connections still open are freed without callbacks (HttpConn's destructor).
HttpServer::~HttpServer() { listener_.stop(); }

void HttpServer::accept(BufferEventPtr bev, const SockAddr& peer, bool tls) {
  if (stopped_) return;  // bev freed: closed
  if (limiter_ && !limiter_->try_acquire(name_.c_str())) return;
  auto conn = std::make_unique<HttpConn>(base_, std::move(bev), peer, tls, new_context_id(), limits_,
                                         static_cast<HttpConn::Handler*>(this));
  HttpConn* raw = conn.get();
  raw->set_log_name(name_);
  conns_.emplace(raw, std::move(conn));
  raw->start();
}

void HttpServer::on_request(HttpConn& conn, const HttpRequestHead& req, std::string body) {
  handler_->on_request(conn, req, std::move(body));
}

void HttpServer::on_close(HttpConn& conn, const std::string&) {
  auto it = conns_.find(&conn);
  if (it == conns_.end()) return;
  handler_->on_close(conn);
  if (limiter_) limiter_->release();
  bury(std::move(it->second));
  conns_.erase(it);
}

void HttpServer::stop_accepting() {
  stopped_ = true;
  listener_.stop();
  // Closing removes entries: copy first.
  std::vector<HttpConn*> all;
  for (auto& [raw, owned] : conns_) all.push_back(raw);
  for (HttpConn* c : all) c->drain();
}

void HttpServer::on_reap(evutil_socket_t, short, void* arg) { static_cast<HttpServer*>(arg)->graveyard_.clear(); }

}  // namespace sp
