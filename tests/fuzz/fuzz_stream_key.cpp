// Fuzz target: stream-key normalisation, fed by tcUrl and play/publish names
// (RTMP), Host headers and request targets (HTTP). The input is split at
// newlines into the parts: "tcUrl\nname\nhost\npath?query\nextra".
#include <algorithm>

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
  // The vhost is a host name: no escape, control or delimiter reaches the
  // registry through it.
  for (char c : k.substr(0, first)) {
    FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_' || c == '.');
  }
  // No part hides a NUL, a slash or a dot segment behind an escape.
  std::string decoded = sp::percent_decode(k);
  FUZZ_CHECK(decoded.find('\0') == std::string::npos);
  FUZZ_CHECK(std::count(decoded.begin(), decoded.end(), '/') == std::count(k.begin(), k.end(), '/'));
  FUZZ_CHECK(("/" + decoded + "/").find("/../") == std::string::npos);
  FUZZ_CHECK(("/" + decoded + "/").find("/./") == std::string::npos);
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
