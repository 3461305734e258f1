// Fuzz target: redirect Location resolution (http/location.h). Input:
// "location\ncurrent-target". Checks that what is followed can go on a
// request line (origin-form target, no whitespace or control bytes), that an
// absolute Location names a connectable numeric host and a non-zero port,
// and that printing the result as an absolute http:// URL resolves to the
// same origin request.
#include "core/net_addr.h"
#include "fuzz_util.h"
#include "http/location.h"

namespace {

bool request_line_safe(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = sp::fuzz::split_lines(sp::fuzz::as_text(data, size), 2);
  // The current target is one the HTTP parser or an earlier redirect let
  // through: request-line safe.
  std::string cur_target = "/" + std::string(p[1]);
  if (!request_line_safe(cur_target)) return 0;
  sp::OriginTarget cur{"127.0.0.1", 8080, cur_target};

  auto next = sp::resolve_location(p[0], cur);
  if (!next.ok()) return 0;
  FUZZ_CHECK(!next->target.empty() && next->target.front() == '/');
  FUZZ_CHECK(request_line_safe(next->target));
  FUZZ_CHECK(next->port != 0);
  FUZZ_CHECK(sp::make_sock_addr(next->host, next->port).ok());

  bool v6 = next->host.find(':') != std::string::npos;
  std::string url = "http://" + (v6 ? "[" + next->host + "]" : next->host) + ":" + std::to_string(next->port) +
                    next->target;
  auto again = sp::resolve_location(url, sp::OriginTarget{"10.9.9.9", 1, "/x"});
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *next);
  return 0;
}
