// BodyReader: splits the bytes of an HTTP response body, as they arrive in
// whatever pieces the socket gives, into the data the client is sent and
// the framing it is not (RFC 9112 section 7.1 chunked framing, trailers),
// and tells where the body ends. Pure: it never copies, allocates or reads
// a socket; the caller owns the bytes and hands in a view of what it has.
//
// One loop drives it:
//   while ((p = reader.next(in)).kind == Piece::kData) { use(p.data); in.remove_prefix(p.consumed); }
// kNeedMore means the view is exhausted or ends inside a framing line (at
// most 4 KiB): keep those bytes and call again with more after them. kDone:
// the body is complete (bytes after it are not body). kError: bad framing.
//
// Identity bodies (a Content-Length, or up to the connection's close) need
// no parsing at all: their pieces are the input itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/http_parser.h"

namespace sp {

class BodyReader {
 public:
  struct Piece {
    enum Kind { kData, kNeedMore, kDone, kError } kind = kNeedMore;
    // kData: body bytes at the start of the input, maybe empty when only
    // framing was consumed.
    std::string_view data;
    size_t consumed = 0;  // kData: input bytes used (data and framing)
    std::string error;    // kError
  };

  BodyReader() = default;
  explicit BodyReader(HttpBodyFraming framing) : framing_(framing), remaining_(framing.length) {}

  Piece next(std::string_view in);
  bool done() const;
  // Identity body: every byte read is body (no framing to find).
  bool identity() const { return framing_.kind == HttpBodyFraming::kLength || framing_.kind == HttpBodyFraming::kClose; }
  // kLength: body bytes still to come.
  uint64_t remaining() const { return remaining_; }
  // Bytes were passed on by other means than next() (splice): kLength only.
  void skip(uint64_t n) { remaining_ -= n < remaining_ ? n : remaining_; }

 private:
  HttpBodyFraming framing_;
  uint64_t remaining_ = 0;  // kLength
  ChunkedDecoder chunked_;
};

}  // namespace sp
