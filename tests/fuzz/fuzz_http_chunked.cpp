// Fuzz target: the chunked transfer coding of an origin's response body. The
// incremental ChunkedDecoder is driven the way the origin client drives it
// (framing parsed from what has arrived, data taken by count), with the input
// arriving in pieces; it must agree with http_dechunk() on the whole body.
#include <algorithm>
#include <string>

#include "fuzz_util.h"
#include "http/http_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body = sp::fuzz::as_text(data, size);
  auto whole = sp::http_dechunk(body);

  sp::ChunkedDecoder dec;
  std::string out;
  std::string pending;  // framing bytes received but not yet consumed
  size_t pos = 0;
  bool failed = false;
  size_t step = 1;
  while (!dec.done() && !failed) {
    if (dec.data_pending() > 0 && !pending.empty()) {
      size_t n = std::min<uint64_t>(dec.data_pending(), pending.size());
      out.append(pending, 0, n);
      pending.erase(0, n);
      dec.take_data(n);
      continue;
    }
    if (dec.data_pending() == 0 && !pending.empty()) {
      auto s = dec.parse_framing(pending);
      if (s.kind == sp::ChunkedDecoder::Step::kError) {
        failed = true;
        break;
      }
      if (s.kind == sp::ChunkedDecoder::Step::kConsumed) {
        FUZZ_CHECK(s.consumed <= pending.size());
        FUZZ_CHECK(s.consumed > 0 || dec.done() || dec.data_pending() > 0);
        pending.erase(0, s.consumed);
        continue;
      }
    }
    if (pos >= size) break;  // need more, no more input
    size_t n = std::min(size - pos, step);
    pending.append(body.substr(pos, n));
    pos += n;
    step = step * 3 % 17 + 1;
  }

  if (dec.done() && !failed) {
    FUZZ_CHECK(whole.ok());
    FUZZ_CHECK(whole.value() == out);
  }
  if (whole.ok() && !failed) FUZZ_CHECK(dec.done());
  return 0;
}
