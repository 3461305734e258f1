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
// syscalls of nginx; here one readv takes up to 64 KiB.
//
// Lifetime: abort() (or the end) frees the socket at once. The object is
// never deleted by itself, and the handler must not delete it from inside a
// callback (the service retires it to a reaper instead).
#pragma once

#include <event2/buffer.h>
#include <event2/event.h>

#include <cstdint>
#include <string>

#include "core/event_ptr.h"
#include "core/result.h"
#include "http/http_parser.h"

namespace sp {

class OriginClient {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_origin_head(OriginClient& origin, const HttpResponseHead& head) = 0;
    // Body bytes: move out what you take (evbuffer_add_buffer); the rest is dropped.
    virtual void on_origin_body(OriginClient& origin, evbuffer* data) = 0;
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
  void read_head();
  void read_body();
  void deliver();
  void finish(const Status& st);

  event_base* base_;
  std::string ctx_;
  Handler* handler_;
  int fd_ = -1;
  EventPtr rev_, wev_;
  std::string request_;     // not yet sent
  EvBufferPtr in_;  // received, not yet parsed / delivered
  bool paused_ = false;
  std::string address_;
  std::string method_;
  Timeouts timeouts_;
  bool connected_ = false;
  bool got_head_ = false;
  bool head_too_large_ = false;
  bool finished_ = false;
  HttpBodyFraming framing_;
  uint64_t remaining_ = 0;  // kLength: body bytes still to come
  ChunkedDecoder chunked_;
  uint64_t body_bytes_ = 0;
  EvBufferPtr out_;  // body bytes ready for the handler
};

}  // namespace sp
