// The server side of every HTTP/1.1 listener of the proxy (http_stream,
// http_api's WHIP/WHEP signalling, the system API) on bufferevents, plain or
// TLS (http/tls.h builds the one kind of TLS context they all use).
//
// HttpListener accepts on sockets the master opened (a dup() of each, so
// freeing the listener on graceful stop never closes the master's socket)
// and wraps every new connection in a bufferevent, a TLS one for `ssl`
// listens.
//
// HttpConn is one client connection: it parses request heads with
// http_parser.h, one request at a time (pipelined requests wait in the input
// buffer, bounded by a read watermark), reads a Content-Length body up to a
// limit, and gives the request to its Handler. The handler answers either at
// once (respond()) or as a stream (begin_response(), write()...,
// end_response()). After a length-delimited answer to a keep-alive request
// the next request is read; a close-delimited answer closes after the flush.
//
// Timeouts: the whole request head (and body) must arrive within
// head_timeout_ms of the connection or of the previous answer, however it is
// trickled (slowloris); output that makes no progress for idle_timeout_ms
// closes the connection (a viewer that stopped reading).
//
// Back-pressure: output_full() tells the handler to stop its source;
// Handler::on_drain() fires when it may go on.
//
// Streamed answers on plaintext connections bypass the bufferevent (the hot
// path of HTTP-FLV/TS and HLS segment relaying, driven like the RTMP relay):
// from begin_response() to end_response() the socket is written directly
// as soon as bytes are given, only what it does not take is queued, and a
// write event is registered only while that queue is not empty; the source
// is "full" as soon as anything is queued, so a viewer costs at most one
// origin read of memory, and none while it keeps up. splice_from() moves
// body bytes from another socket through a pipe without copying them into
// the process at all. TLS connections keep the bufferevent (their bytes
// must pass through SSL), with a 1 MiB high-water mark and kLowWater.
// Either way body_bytes_sent() counts every body byte given for the client.
//
// Lifetime: the connection never deletes itself. close() frees the socket at
// once and calls Handler::on_close() once; the owner destroys the object
// later, outside any callback (see the service's reaper).
//
// `Expect: 100-continue` is answered with an interim 100 once the head is
// accepted (and with 413 at once for a body over the limit), so clients such
// as curl do not wait a second before sending a body.
//
// HttpServer ties these together for a service that answers request by
// request (the system API, WebRTC signalling): its listeners, its
// connections (counted against worker_connections when given a limiter),
// graceful stop, and a reaper that destroys objects after the callback that
// gave them up has returned.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/ssl.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/accept_backoff.h"
#include "core/connection_limiter.h"
#include "core/event_ptr.h"
#include "core/metrics.h"
#include "core/net_addr.h"
#include "core/result.h"
#include "core/unique_fd.h"
#include "http/http_parser.h"

namespace sp {

class HttpListener {
 public:
  // Takes ownership of the new connection's bufferevent.
  using OnAccept = std::function<void(BufferEventPtr bev, const SockAddr& peer, bool tls)>;

  // `name` names the listener kind in log lines ("http_stream", "system_api").
  HttpListener(event_base* base, OnAccept on_accept, std::string name = "http_stream")
      : base_(base), on_accept_(std::move(on_accept)), name_(std::move(name)) {}
  // Serves an already-listening socket; `tls` (borrowed, must outlive the
  // listener) makes it an HTTPS listener. The caller keeps `fd`.
  Status add(int fd, SSL_CTX* tls);
  // Graceful stop: frees every evconnlistener (and its dup()ed socket).
  void stop() { items_.clear(); }

 private:
  struct Item {
    HttpListener* owner;
    SSL_CTX* tls;
    ListenerPtr listener;
    std::unique_ptr<AcceptBackoff> backoff;  // after `listener`: destroyed first
  };
  static void on_accept(evconnlistener* l, evutil_socket_t fd, sockaddr* sa, int len, void* arg);

  event_base* base_;
  OnAccept on_accept_;
  std::string name_;
  std::vector<std::unique_ptr<Item>> items_;
};

class HttpConn {
 public:
  static constexpr size_t kLowWater = 256 * 1024;
  // Bufferevent (TLS) answers: the source stops above this much output.
  static constexpr size_t kHighWater = 1024 * 1024;
  // splice_from(): the bytes cannot be spliced here; read and write() them.
  static constexpr ssize_t kNoSplice = -2;

  class Handler {
   public:
    virtual ~Handler() = default;
    // A complete request (and its body, if any). Answer through the conn.
    virtual void on_request(HttpConn& conn, const HttpRequestHead& req, std::string body) = 0;
    // After output_full(): the output drained while an answer is being
    // streamed.
    virtual void on_drain(HttpConn& conn) {}
    // The connection is gone (peer closed, error, timeout or close()).
    virtual void on_close(HttpConn& conn, const std::string& reason) = 0;
  };

  struct Limits {
    int64_t head_timeout_ms = 30 * 1000;
    int64_t idle_timeout_ms = 30 * 1000;
    uint64_t max_body = 0;  // 0: requests with a body get 413
  };

  HttpConn(event_base* base, BufferEventPtr bev, SockAddr peer, bool tls, std::string ctx, Limits limits,
           Handler* handler);
  ~HttpConn();
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;

  // Names the server in this connection's log lines ("http" unless set),
  // e.g. "system_api: no complete request from ...".
  void set_log_name(std::string name) { log_name_ = std::move(name); }
  // Starts reading the first request.
  void start();

  const std::string& ctx() const { return ctx_; }
  const SockAddr& peer() const { return peer_; }
  bool tls() const { return tls_; }
  bool closed() const { return !bev_; }
  // The address the client connected to (getsockname); nullopt once closed.
  std::optional<SockAddr> local_address() const;

  // A whole answer with a body (no body sent for HEAD). Adds Content-Length,
  // Connection and Server headers.
  void respond(int status, const HttpHeaders& headers, std::string_view body);
  // Streamed answer: with a length the connection may be kept; without one
  // the body runs until close.
  void begin_response(int status, const HttpHeaders& headers, std::optional<uint64_t> length);
  // Body bytes: moves everything out of `data` (zero copy), or copies text.
  void write(evbuffer* data);
  void write(std::string_view data);
  // Body bytes in pieces (copied if not sent at once): one writev.
  void write(std::span<const std::string_view> pieces);
  // A file region, sent with sendfile where possible. Takes `fd`.
  void write_file(int fd, uint64_t offset, uint64_t length);
  // Body bytes moved from socket `src` (at most `max`) to the client through
  // a pipe (splice(2)), for a streamed answer on a plaintext connection with
  // nothing else queued. Returns the bytes taken from `src`, 0 at its EOF,
  // -1 with errno for an error of `src` (EAGAIN: none now; a client error
  // closes the connection from the loop), or kNoSplice.
  ssize_t splice_from(int src, size_t max);
  // The answer is complete: next request, or close once flushed.
  void end_response();
  size_t output_size() const;
  // The handler should stop its source until on_drain().
  bool output_full() const;

  // Closes now (output not yet sent is dropped). Calls on_close().
  void close(const std::string& reason);
  // Graceful stop: an idle keep-alive connection closes now, a busy one
  // after its current answer.
  void drain();

  // Status and body bytes of the current/last answer, for the access log.
  int status_sent() const { return status_; }
  uint64_t body_bytes_sent() const { return body_bytes_; }
  // metrics: body bytes also go to `m` (the current request's meter; nullptr: none).
  void set_meter(metrics::SessionMeter* m) { meter_ = m; }
  // metrics: requests this connection refuses (bad bytes, head timeout)
  // count as bad-input closes of `p` (default: not counted).
  void set_bad_input_protocol(metrics::Protocol p) { bad_input_proto_ = p; }
  int fd() const { return bev_ ? int(bufferevent_getfd(bev_.get())) : -1; }

 private:
  static void on_read(bufferevent* bev, void* arg);
  static void on_write(bufferevent* bev, void* arg);
  static void on_event(bufferevent* bev, short what, void* arg);
  static void on_head_timeout(evutil_socket_t, short, void* arg);
  static void on_kick(evutil_socket_t, short, void* arg);
  static void on_direct_writable(evutil_socket_t, short what, void* arg);

  void wait_for_request();
  void try_parse();
  std::string head_text(int status, const HttpHeaders& headers, std::optional<uint64_t> length);
  void send_head(int status, const HttpHeaders& headers, std::optional<uint64_t> length);
  void refuse(int status, const std::string& why);
  // Direct output (see the top): bytes queued, writing, errors, the end.
  size_t direct_queued() const;
  void direct_write(const char* data, size_t n);
  void direct_flush();
  void direct_arm(bool progress);
  void direct_failed(int err);
  void direct_end();

  event_base* base_;
  BufferEventPtr bev_;
  SockAddr peer_;
  bool tls_;
  std::string ctx_;
  std::string log_name_ = "http";
  Limits limits_;
  Handler* handler_;
  EventPtr head_timer_;
  EventPtr kick_;  // runs deferred work (pipelined request, close after flush) from the loop

  enum class Phase { kReadingHead, kReadingBody, kHandling, kClosingAfterFlush } phase_ = Phase::kReadingHead;
  std::optional<HttpRequestHead> pending_;  // head whose body is being read
  size_t scanned_ = 0;  // input bytes already searched for a line end
  bool keep_alive_ = false;   // this answer may be followed by another request
  bool draining_ = false;     // graceful stop: no further requests
  bool head_request_ = false;  // HEAD: no body bytes
  std::optional<uint64_t> length_;
  int status_ = 0;
  uint64_t body_bytes_ = 0;  // every body byte of the answer passes here (count_body)
  void count_body(uint64_t n) {
    body_bytes_ += n;
    if (meter_) meter_->client_out(n);
  }
  metrics::SessionMeter* meter_ = nullptr;
  std::optional<metrics::Protocol> bad_input_proto_;

  // Direct output of a streamed plaintext answer.
  bool direct_ = false;
  bool direct_error_ = false;
  std::string direct_error_text_;
  EvBufferPtr dout_;  // what the socket did not take (after the pipe's bytes)
  EventPtr wev_;      // registered only while something is queued
  UniqueFd pipe_r_, pipe_w_;  // splice_from(), made at its first use
  size_t piped_ = 0;          // bytes in the pipe, not yet taken by the socket
  bool splice_ok_ = true;
};

// A request/answer HTTP service on the listeners it is given: one
// HttpConn per client, all sharing `handler`.
class HttpServer : private HttpConn::Handler {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // Answer through `conn`, now or later (while !conn.closed()).
    virtual void on_request(HttpConn& conn, const HttpRequestHead& req, std::string body) = 0;
    // `conn` is gone; it is destroyed after this callback returns.
    virtual void on_close(HttpConn& conn) {}
  };

  // `name` is the listener kind in log lines; `limiter` (may be null, must
  // outlive the server) holds one worker_connections slot per connection.
  HttpServer(event_base* base, std::string name, HttpConn::Limits limits, ConnectionLimiter* limiter,
             Handler* handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves an already-listening socket (the caller keeps `fd`); `tls`
  // (borrowed, must outlive the server) makes it HTTPS.
  Status add(int fd, SSL_CTX* tls) { return listener_.add(fd, tls); }
  // Graceful stop: no new connections; idle keep-alive ones close now, busy
  // ones after their answer.
  void stop_accepting();
  size_t connections() const { return conns_.size(); }

  // Destroys `obj` from the loop, after the callback that gave it up returns.
  template <class T>
  void bury(std::unique_ptr<T> obj) {
    if (!obj) return;
    graveyard_.push_back(std::shared_ptr<void>(std::move(obj)));
    event_active(reaper_.get(), EV_TIMEOUT, 0);
  }

 private:
  void accept(BufferEventPtr bev, const SockAddr& peer, bool tls);
  void on_request(HttpConn& conn, const HttpRequestHead& req, std::string body) override;
  void on_close(HttpConn& conn, const std::string& reason) override;
  static void on_reap(evutil_socket_t, short, void* arg);

  event_base* base_;
  std::string name_;
  HttpConn::Limits limits_;
  ConnectionLimiter* limiter_;
  Handler* handler_;
  bool stopped_ = false;
  EventPtr reaper_;
  std::vector<std::shared_ptr<void>> graveyard_;
  std::unordered_map<HttpConn*, std::unique_ptr<HttpConn>> conns_;
  HttpListener listener_;  // last: its accepts reach the members above
};

}  // namespace sp
