// Response body framing over views of received bytes (see body_reader.h).
#include "http/body_reader.h"

#include <algorithm>

namespace sp {

bool BodyReader::done() const {
  switch (framing_.kind) {
    case HttpBodyFraming::kNone:
      return true;
    case HttpBodyFraming::kLength:
      return remaining_ == 0;
    case HttpBodyFraming::kChunked:
      return chunked_.done();
    case HttpBodyFraming::kClose:
      return false;
  }
  return true;
}

BodyReader::Piece BodyReader::next(std::string_view in) {
  Piece p;
  if (done()) {
    p.kind = Piece::kDone;
    return p;
  }
  if (in.empty()) return p;  // kNeedMore
  switch (framing_.kind) {
    case HttpBodyFraming::kNone:
      break;  // done() above
    case HttpBodyFraming::kClose:
      p.kind = Piece::kData;
      p.data = in;
      p.consumed = in.size();
      return p;
    case HttpBodyFraming::kLength: {
      size_t n = size_t(std::min<uint64_t>(remaining_, in.size()));
      remaining_ -= n;
      p.kind = Piece::kData;
      p.data = in.substr(0, n);
      p.consumed = n;
      return p;
    }
    case HttpBodyFraming::kChunked: {
      if (uint64_t pending = chunked_.data_pending()) {
        size_t n = size_t(std::min<uint64_t>(pending, in.size()));
        chunked_.take_data(n);
        p.kind = Piece::kData;
        p.data = in.substr(0, n);
        p.consumed = n;
        return p;
      }
      auto step = chunked_.parse_framing(in);
      if (step.kind == ChunkedDecoder::Step::kError) {
        p.kind = Piece::kError;
        p.error = step.error;
        return p;
      }
      if (step.kind == ChunkedDecoder::Step::kNeedMore) return p;
      p.kind = Piece::kData;
      p.consumed = step.consumed;
      return p;
    }
  }
  p.kind = Piece::kDone;
  return p;
}

}  // namespace sp
