// Fuzz target: BodyReader (http/body_reader.h), the relay's reader of an
// origin's response body as it arrives. The first byte picks the framing
// (chunked, Content-Length, close-delimited); the rest is the body, handed in
// pieces of varying size the way the origin client does (unconsumed bytes are
// kept and more appended). Promises: consumed never exceeds the input, data
// is a prefix of the input, and for chunked bodies the data equals what
// http_dechunk() makes of the whole body whenever both succeed; a Content-Length
// body never yields more than its length.
#include <algorithm>
#include <string>

#include "fuzz_util.h"
#include "http/body_reader.h"
#include "http/http_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  sp::HttpBodyFraming framing;
  switch (data[0] % 3) {
    case 0: framing.kind = sp::HttpBodyFraming::kChunked; break;
    case 1: framing.kind = sp::HttpBodyFraming::kLength, framing.length = data[0] * 7u; break;
    default: framing.kind = sp::HttpBodyFraming::kClose; break;
  }
  std::string_view body = sp::fuzz::as_text(data + 1, size - 1);

  sp::BodyReader reader(framing);
  std::string out, kept;
  size_t pos = 0, step = 1;
  bool failed = false;
  while (!failed && !reader.done()) {
    sp::BodyReader::Piece p = reader.next(kept);
    if (p.kind == sp::BodyReader::Piece::kData) {
      FUZZ_CHECK(p.consumed <= kept.size());
      FUZZ_CHECK(p.data.size() <= p.consumed);
      FUZZ_CHECK(p.data.empty() || (p.data.data() >= kept.data() && p.data.data() + p.data.size() <= kept.data() + kept.size()));
      out.append(p.data);
      kept.erase(0, p.consumed);
      if (p.consumed > 0) continue;
    } else if (p.kind == sp::BodyReader::Piece::kError) {
      FUZZ_CHECK(!p.error.empty());
      failed = true;
      break;
    } else if (p.kind == sp::BodyReader::Piece::kDone) {
      break;
    }
    if (pos >= body.size()) break;  // needs more; no more input
    size_t n = std::min(body.size() - pos, step);
    kept.append(body.substr(pos, n));
    pos += n;
    step = step * 5 % 23 + 1;
  }

  if (framing.kind == sp::HttpBodyFraming::kLength) FUZZ_CHECK(out.size() <= framing.length);
  if (framing.kind == sp::HttpBodyFraming::kChunked && !failed && reader.done()) {
    auto whole = sp::http_dechunk(body);
    if (whole.ok()) FUZZ_CHECK(whole.value() == out);
  }
  return 0;
}
