// Fuzz target: stream-key normalisation, fed by tcUrl and play/publish names
// (RTMP), Host headers and request targets (HTTP). The input is split at
// newlines into the parts: "tcUrl\nname\nhost\npath?query\nextra".
#include "fuzz_util.h"
#include "http/query.h"
#include "registry/stream_key.h"

namespace {

// A key is VHOST/APP/STREAM: never empty parts, never a query.
void check_key(const sp::Result<std::string>& key) {
  if (!key.ok()) return;
  const std::string& k = key.value();
  FUZZ_CHECK(k.find('?') == std::string::npos);
  size_t first = k.find('/');
  FUZZ_CHECK(first != std::string::npos && first > 0);
  FUZZ_CHECK(k.back() != '/');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = sp::fuzz::split_lines(sp::fuzz::as_text(data, size), 5);
  check_key(sp::stream_key_from_rtmp(p[0], p[1]));
  check_key(sp::stream_key_from_http(p[2], p[3]));
  check_key(sp::make_stream_key(p[2], p[0], p[1], p[4]));
  (void)sp::normalize_vhost(p[2], p[4]);

  // The query helpers the HTTP side uses on the same text.
  std::string decoded = sp::percent_decode(p[4]);
  FUZZ_CHECK(sp::percent_decode(sp::percent_encode(decoded)) == decoded);
  (void)sp::query_param(p[4], "vhost");
  (void)sp::query_without_param(p[4], "spbhid");
  (void)sp::query_with_param(p[4], "spbhid", p[1]);
  return 0;
}
