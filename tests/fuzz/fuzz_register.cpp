// Fuzz target: the system API's registration body (POST /api/v1/srs/register),
// JSON from any origin that can reach the API port. An accepted body holds
// only text the registry can store and echo as JSON (valid UTF-8, no control
// character, so no NUL) and an ip the proxy can connect to.
#include "api/register_request.h"
#include "core/net_addr.h"
#include "fuzz_util.h"

namespace {

// Valid UTF-8 (no overlongs, surrogates or > U+10FFFF) with no C0, DEL or C1
// control: an independent decoder, so it checks the parser's own.
bool clean_text(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = uint8_t(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c & 0xe0) == 0xc0) { cp = c & 0x1f; len = 2; }
    else if ((c & 0xf0) == 0xe0) { cp = c & 0x0f; len = 3; }
    else if ((c & 0xf8) == 0xf0) { cp = c & 0x07; len = 4; }
    else return false;
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; k++) {
      auto b = uint8_t(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto spec = sp::parse_register_request(sp::fuzz::as_text(data, size));
  if (!spec.ok()) {
    FUZZ_CHECK(!spec.status().message().empty());
    return 0;
  }
  for (const std::string* s : {&spec->server, &spec->service, &spec->pid, &spec->device_id, &spec->ip}) {
    FUZZ_CHECK(clean_text(*s));
  }
  FUZZ_CHECK(sp::check_connectable_host(spec->ip).ok());
  for (const auto& eps : spec->endpoints) {
    for (const sp::Endpoint& ep : eps) FUZZ_CHECK(ep.host.empty() || sp::check_connectable_host(ep.host).ok());
  }
  return 0;
}
