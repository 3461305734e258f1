// HTTP/1.1 server connections on bufferevents: see http_server.h.
#include "http/http_server.h"

#include <event2/bufferevent_ssl.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "http/tls.h"

namespace sp {

namespace {

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
  evtimer_del(head_timer_.get());
  phase_ = Phase::kHandling;
  keep_alive_ = false;
  head_request_ = false;
  HttpHeaders h;
  h.add("Content-Type", "text/plain; charset=utf-8");
  respond(status, h, why + "\n");
}

void HttpConn::send_head(int status, const HttpHeaders& headers, std::optional<uint64_t> length) {
  status_ = status;
  length_ = length;
  if (!length) keep_alive_ = false;
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + http_reason(status) + "\r\nServer: srs-proxy\r\n";
  for (const auto& [name, value] : headers.fields()) head += name + ": " + value + "\r\n";
  // No Content-Length on a 204 (RFC 9110 section 8.6); its body is empty.
  if (length && status != 204) head += "Content-Length: " + std::to_string(*length) + "\r\n";
  head += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
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
  send_head(status, headers, length);
}

void HttpConn::write(evbuffer* data) {
  if (closed() || head_request_) {
    evbuffer_drain(data, evbuffer_get_length(data));
    return;
  }
  body_bytes_ += evbuffer_get_length(data);
  if (meter_) meter_->client_out(evbuffer_get_length(data));
  // When nothing is queued, write straight to the socket: the usual case for
  // a viewer that keeps up, and it spares the bufferevent's enable/disable of
  // write interest (two epoll_ctl calls) per relayed read. What the socket
  // does not take is queued in order behind nothing. Not for TLS, whose
  // bytes must go through the SSL bufferevent.
  if (!tls_ && evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0) {
    evbuffer_write_atmost(data, bufferevent_getfd(bev_.get()), -1);
    // An error (peer gone) is left to the bufferevent to notice and report.
  }
  if (evbuffer_get_length(data) > 0) bufferevent_write_buffer(bev_.get(), data);
}

void HttpConn::write(std::string_view data) {
  if (closed() || head_request_ || data.empty()) return;
  body_bytes_ += data.size();
  if (meter_) meter_->client_out(data.size());
  bufferevent_write(bev_.get(), data.data(), data.size());
}

void HttpConn::write_file(int fd, uint64_t offset, uint64_t length) {
  if (closed() || head_request_) {
    ::close(fd);
    return;
  }
  if (evbuffer_add_file(bufferevent_get_output(bev_.get()), fd, ev_off_t(offset), ev_off_t(length)) != 0) {
    ::close(fd);
    return close("cannot send file");
  }
  body_bytes_ += length;
  if (meter_) meter_->client_out(length);
}

void HttpConn::end_response() {
  if (closed()) return;
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
  return closed() ? 0 : evbuffer_get_length(bufferevent_get_output(bev_.get()));
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
