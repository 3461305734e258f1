// Fuzz target: routing of HTTP stream requests (http/stream_route.h).
// Input: "method\npath?query\nhost". Checks that only GET and HEAD reach a
// stream or a file, that a stream route always carries a key and an HLS
// session route is taken only when the query names one, and that a 400
// says why.
#include "fuzz_util.h"
#include "http/hls_playlist.h"
#include "http/query.h"
#include "http/stream_route.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = sp::fuzz::split_lines(sp::fuzz::as_text(data, size), 3);
  std::string_view target = p[1];
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);

  sp::StreamRoute r = sp::route_stream_request(p[0], target, path, query, p[2]);
  bool get = p[0] == "GET" || p[0] == "HEAD";
  switch (r.kind) {
    case sp::StreamRoute::kOptions:
      FUZZ_CHECK(p[0] == "OPTIONS");
      break;
    case sp::StreamRoute::kMethodNotAllowed:
      FUZZ_CHECK(!get && p[0] != "OPTIONS");
      break;
    case sp::StreamRoute::kHlsSession:
      FUZZ_CHECK(get && sp::query_param(query, sp::kHlsSessionParam).has_value());
      break;
    case sp::StreamRoute::kLive:
    case sp::StreamRoute::kNewHls:
      FUZZ_CHECK(get && !r.key.empty());
      FUZZ_CHECK(!sp::query_param(query, sp::kHlsSessionParam).has_value());
      break;
    case sp::StreamRoute::kBadRequest:
      FUZZ_CHECK(get && !r.error.empty());
      break;
    case sp::StreamRoute::kVersions:
    case sp::StreamRoute::kStatic:
      FUZZ_CHECK(get);
      break;
  }
  if (r.kind != sp::StreamRoute::kLive && r.kind != sp::StreamRoute::kNewHls) FUZZ_CHECK(r.key.empty());
  (void)sp::url_extension(path);
  return 0;
}
