// HTTP/1.x message heads, pure: bytes in, a parsed head (or "need more", or
// an error with the status to answer) out. No sockets, no libevent, so every
// rule here is unit-tested with good and hostile bytes. Used by the HTTP
// stream listener (http_server.h, origin_client.h) and meant to be reused by
// the WebRTC signalling listener.
//
// What is accepted:
//  - Lines end in CRLF; a bare LF is tolerated (as nginx does). The head ends
//    at the first empty line.
//  - Request line `METHOD SP TARGET SP HTTP/1.x` (origin-form "/path?q",
//    asterisk-form "*" or absolute-form "http://host/path"), at most 8 KiB.
//  - Header fields `name: value`, at most 16 KiB of them together and 100 of
//    them; obsolete line folding, a space before the colon, control bytes and
//    NUL are refused (request smuggling and header-injection vectors).
//  - Conflicting Content-Length values, or Transfer-Encoding together with
//    Content-Length, are refused.
// Bodies are not parsed here except chunked transfer coding (ChunkedDecoder),
// which the origin client needs for origins that stream chunked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace sp {

constexpr size_t kHttpMaxRequestLine = 8 * 1024;
constexpr size_t kHttpMaxHeaderBytes = 16 * 1024;
constexpr size_t kHttpMaxHeaders = 100;

// Header fields in arrival order; names keep their case, lookups ignore it.
class HttpHeaders {
 public:
  void add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }
  // The first value of `name`, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
  // True when a comma-separated header (Connection, Transfer-Encoding) lists
  // `token`, case-insensitively.
  bool has_token(std::string_view name, std::string_view token) const;
  // Every field named `name`, values joined by ", " in arrival order (RFC
  // 9110 section 5.3, e.g. several Via lines); "" when none.
  std::string joined(std::string_view name) const;
  size_t count(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct HttpRequestHead {
  std::string method;  // as sent: "GET"
  std::string target;  // origin-form: "/live/s.flv?token=1" (absolute-form is reduced to this)
  std::string path;    // "/live/s.flv" (still percent-encoded)
  std::string query;   // "token=1" (without '?'), may be empty
  std::string absolute_host;  // host of an absolute-form target, else empty
  int version_minor = 1;      // HTTP/1.<minor>
  HttpHeaders headers;
  std::optional<uint64_t> content_length;
  bool chunked = false;  // Transfer-Encoding: chunked

  // The Host header (or the absolute-form target's host), "" if none.
  std::string host() const;
  // Whether the client wants the connection kept after this exchange.
  bool keep_alive() const;
  // `Expect: 100-continue` on an HTTP/1.1 request: the client waits for an
  // interim 100 before sending its body.
  bool expects_continue() const;
};

struct HttpResponseHead {
  int version_minor = 1;
  int status = 0;
  std::string reason;
  HttpHeaders headers;
};

enum class HttpParseState { kIncomplete, kComplete, kError };

template <class Head>
struct HttpParse {
  HttpParseState state = HttpParseState::kIncomplete;
  Head head;
  size_t consumed = 0;    // bytes of the head, when complete
  int error_status = 0;   // status to answer with, when kError: 400, 414, 431, 501, 505
  std::string error;      // one line, for the log and the answer
  bool over_limit = false;  // kError because a limit was passed, not malformed
};

// Parses a request head at the start of `data`. kIncomplete while no empty
// line has arrived and the limits are not yet exceeded.
HttpParse<HttpRequestHead> parse_http_request_head(std::string_view data);

// Parses a response head at the start of `data` (origin answers). Same
// limits as requests.
HttpParse<HttpResponseHead> parse_http_response_head(std::string_view data);

// How a response body is delimited (RFC 9112 section 6.3).
struct HttpBodyFraming {
  enum Kind { kNone, kLength, kChunked, kClose } kind = kNone;
  uint64_t length = 0;  // for kLength
};
// For a response to a request with `request_method`. Error for conflicting
// or malformed length headers.
Result<HttpBodyFraming> http_response_framing(std::string_view request_method, const HttpResponseHead& head);

// Hop-by-hop headers (RFC 9110 section 7.6.1) a proxy must not forward, plus
// framing headers the proxy sets itself.
bool http_is_hop_by_hop(std::string_view name);

// Reason phrase of a status code we send ("Not Found").
const char* http_reason(int status);

// Incremental decoder of the chunked transfer coding. It never copies data:
// the caller asks how many data bytes come next (data_pending()) and moves
// them itself (e.g. evbuffer_remove_buffer), then reports them with
// take_data(); for framing it hands the decoder the contiguous bytes it has
// (parse_framing()), which answers how many framing bytes to drop.
class ChunkedDecoder {
 public:
  // Data bytes of the current chunk that may be taken now (0 in framing).
  uint64_t data_pending() const { return state_ == State::kData ? remaining_ : 0; }
  void take_data(uint64_t n) {
    remaining_ -= n;
    if (remaining_ == 0) state_ = State::kDataEnd;
  }
  bool done() const { return state_ == State::kDone; }

  struct Step {
    enum Kind { kConsumed, kNeedMore, kError } kind;
    size_t consumed = 0;  // framing bytes to drop, for kConsumed
    std::string error;
  };
  // Parses framing (chunk-size line, CRLF after data, trailers) at the start
  // of `in`. Only call while data_pending() == 0 and !done(). A chunk-size
  // line (with extensions) or trailer line over 4 KiB is an error.
  Step parse_framing(std::string_view in);

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  State state_ = State::kSize;
  uint64_t remaining_ = 0;
};

// Decodes a whole chunked body held in memory (tests, small buffered bodies).
// Error when malformed or incomplete.
Result<std::string> http_dechunk(std::string_view body);

}  // namespace sp
