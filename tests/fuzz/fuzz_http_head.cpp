// Fuzz target: HTTP/1.x message heads as the proxy parses them itself: the
// request head of a client (HTTP-FLV/HLS/WHIP listeners) and the response
// head of an origin, with the body framing decided from it. The same bytes go
// through both parsers. A head that parses must also parse from any longer
// buffer (the server re-parses as data arrives) with the same result. The
// request's Via lines go through the proxy-loop check the way the stream
// listener does it: whatever they hold, the Via sent onward names this proxy.
#include <string>

#include "core/proxy_loop.h"
#include "fuzz_util.h"
#include "http/http_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = sp::fuzz::as_text(data, size);

  auto req = sp::parse_http_request_head(text);
  if (req.state == sp::HttpParseState::kComplete) {
    FUZZ_CHECK(req.consumed > 0 && req.consumed <= size);
    (void)req.head.host();
    (void)req.head.keep_alive();
    (void)req.head.headers.has_token("connection", "close");
    std::string via;
    for (const auto& [name, value] : req.head.headers.fields()) {
      if (name.size() == 3 && (name[0] | 0x20) == 'v' && (name[1] | 0x20) == 'i' && (name[2] | 0x20) == 'a') {
        via += (via.empty() ? "" : ", ") + value;
      }
    }
    constexpr uint64_t kProxy = 0x0123456789abcdefULL;
    (void)sp::via_lists_proxy(via, kProxy);
    FUZZ_CHECK(sp::via_lists_proxy(sp::via_append(via, kProxy), kProxy));
    std::string more(text);
    more += "GET / HTTP/1.1\r\n";
    auto again = sp::parse_http_request_head(more);
    FUZZ_CHECK(again.state == sp::HttpParseState::kComplete && again.consumed == req.consumed &&
               again.head.target == req.head.target);
  } else if (req.state == sp::HttpParseState::kError) {
    FUZZ_CHECK(req.error_status >= 400 && req.error_status < 600);
    (void)sp::http_reason(req.error_status);
  }

  auto resp = sp::parse_http_response_head(text);
  if (resp.state == sp::HttpParseState::kComplete) {
    FUZZ_CHECK(resp.consumed > 0 && resp.consumed <= size);
    (void)sp::http_response_framing("GET", resp.head);
    (void)sp::http_response_framing("HEAD", resp.head);
    for (const auto& [name, value] : resp.head.headers.fields()) (void)sp::http_is_hop_by_hop(name);
  }
  return 0;
}
