// One HTTP/1.1 request to an origin over a non-blocking socket, with the answer
// streamed back: the head once (parsed with http_parser.h), then body bytes
// as they arrive, de-chunked when the origin sends chunked, then the end.
// Reusable by any proxying listener (HTTP-FLV/TS, HLS, WHIP/WHEP).
//
// Timeouts: connecting and receiving the whole response head must each
// happen within connect_timeout_ms; after the head, a gap of idle_timeout_ms
// in the body ends the request with an error. While paused (back-pressure)
// the origin is not read, so no idle timeout runs.
//
// The request always says `Connection: close`: one origin connection per
// client request keeps the relay simple, and body framing of the answer is
// still honoured (Content-Length, chunked or close-delimited).
//
// I/O is on a plain non-blocking socket with two events rather than a
// bufferevent: libevent 2.1's evbuffer_read() reads at most 4 KiB per call
// (plus an ioctl(FIONREAD) each time), which made the relay cost 4x the
// syscalls of nginx. Here one recv() per readiness takes up to 256 KiB into
// a buffer shared by every origin connection of the worker, and the body
// bytes are handed to the handler as views of that buffer before the
// callback returns (body_reader.h finds them between chunk framing). A
// connection keeps bytes of its own only while a response head or a chunk
// framing line is incomplete (its carry, at most a head's limit). An
// identity body (Content-Length or close-delimited) may instead be moved by
// the handler itself, straight from the socket (on_origin_splice).
//
// Lifetime: abort() (or the end) frees the socket at once. The object is
// never deleted by itself, and the handler must not delete it from inside a
// callback (the service retires it to a reaper instead).
#pragma once

#include <event2/buffer.h>
#include <event2/event.h>

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/event_ptr.h"
#include "core/metrics.h"
#include "core/result.h"
#include "http/body_reader.h"
#include "http/http_parser.h"

namespace sp {

class OriginClient {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_origin_head(OriginClient& origin, const HttpResponseHead& head) = 0;
    // Body bytes of one read, in order, in pieces (the data between chunk
    // framing); valid only during the call: copy what you keep.
    virtual void on_origin_body(OriginClient& origin, std::span<const std::string_view> pieces) = 0;
    // The socket of an identity body is readable: the handler may move up
    // to `max` body bytes from `fd` itself (splice(2)). Returns the bytes
    // moved, 0 at the origin's EOF, -1 with errno for an error of `fd`
    // (EAGAIN: nothing now), or kNoSplice to have them read and passed to
    // on_origin_body() instead.
    static constexpr ssize_t kNoSplice = -2;
    virtual ssize_t on_origin_splice(OriginClient& origin, int fd, size_t max) { return kNoSplice; }
    // The answer is complete (ok) or failed. got_head() tells whether a head
    // came first. The error's kind: before the head, unavailable (refused,
    // reset, no socket), timeout (connect or answer not within connect_timeout)
    // or upstream (bad or oversized head, closed without one); after the head
    // always upstream (closed mid-body, bad chunk, idle); internal for out of
    // memory.
    virtual void on_origin_end(OriginClient& origin, const Status& result) = 0;
  };

  struct Request {
    std::string host;  // numeric address
    uint16_t port = 0;
    std::string method = "GET";
    std::string target;       // "/live/s.flv?token=1"
    std::string host_header;  // Host: sent to the origin
    HttpHeaders headers;      // extra end-to-end headers (no Host/Connection)
    std::string body;
  };

  struct Timeouts {
    int64_t connect_ms = 5000;
    int64_t idle_ms = 30000;
  };

  OriginClient(event_base* base, std::string ctx, Handler* handler);
  ~OriginClient();
  OriginClient(const OriginClient&) = delete;
  OriginClient& operator=(const OriginClient&) = delete;

  // Error (kind unavailable) at once for an address that cannot be used or a
  // socket that cannot be opened; later failures arrive through on_origin_end().
  Status start(const Request& req, Timeouts timeouts);
  void pause();
  void resume();
  // Closes now; no more callbacks.
  void abort();

  bool got_head() const { return got_head_; }
  // The answer failed because its head passed the parser's limits.
  bool head_too_large() const { return head_too_large_; }
  bool finished() const { return finished_; }
  // How the answer's body is delimited (valid once the head arrived).
  const HttpBodyFraming& framing() const { return framing_; }
  uint64_t body_bytes() const { return body_bytes_; }
  // metrics: body bytes also go to `m` as they arrive (nullptr: none).
  void set_meter(metrics::SessionMeter* m) { meter_ = m; }
  // "127.0.0.1:8080", for logs.
  const std::string& address() const { return address_; }

 private:
  static void on_writable(evutil_socket_t, short what, void* arg);
  static void on_readable(evutil_socket_t, short what, void* arg);
  bool closed() const { return fd_ < 0; }
  void close_socket();
  void send_request();
  void on_eof();
  void on_timeout();
  // Handles received bytes (the carry and the new read) in order.
  void consume(std::string_view in);
  void read_body(std::string_view in);
  void splice_body();
  void finish(const Status& st);
  // Every body byte received from the origin passes here, read or spliced.
  void count_body(uint64_t n) {
    body_bytes_ += n;
    if (meter_) meter_->origin_in(n);
  }

  event_base* base_;
  std::string ctx_;
  Handler* handler_;
  int fd_ = -1;
  EventPtr rev_, wev_;
  std::string request_;     // not yet sent
  std::string carry_;       // received, not yet usable: a partial head or chunk framing line
  bool paused_ = false;
  std::string address_;
  std::string method_;
  Timeouts timeouts_;
  bool connected_ = false;
  bool got_head_ = false;
  bool head_too_large_ = false;
  bool finished_ = false;
  HttpBodyFraming framing_;
  BodyReader body_;
  bool splice_ = true;  // the handler may move identity body bytes itself
  uint64_t body_bytes_ = 0;
  metrics::SessionMeter* meter_ = nullptr;
};

}  // namespace sp
