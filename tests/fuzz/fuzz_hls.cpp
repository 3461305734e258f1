// Fuzz target: HLS playlists from an origin, rewritten so every proxied URI
// carries the session id. A rewrite of a rewrite must not add the id again.
#include <string>

#include "fuzz_util.h"
#include "http/hls_playlist.h"

namespace {

size_t count(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) n++;
  return n;
}

// No control bytes but LF and CRLF, no blank before a line end.
bool sane_line_ends(std::string_view text) {
  for (size_t i = 0; i < text.size(); i++) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    bool at_end = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    if (c == '\r' && !(i + 1 < text.size() && text[i + 1] == '\n')) return false;
    if (c < 0x20 && c != '\n' && c != '\r') return false;
    if ((c == ' ' || c == '\t') && at_end) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = sp::fuzz::as_text(data, size);
  auto kind = sp::hls_playlist_kind(text);
  auto once = sp::rewrite_hls_playlist(text, "fz01");
  FUZZ_CHECK(kind.ok() == once.ok());
  if (once.ok()) {
    // The session id is replaced, never added again: a second rewrite adds
    // no spbhid, and leaves sane text exactly as it was. With a lone CR or
    // blanks at the end of a URI line each pass may trim one more of them
    // (they end up last on the rewritten line), so only the count is checked.
    auto twice = sp::rewrite_hls_playlist(once->text, "fz01");
    FUZZ_CHECK(twice.ok());
    FUZZ_CHECK(count(twice->text, "spbhid=") == count(once->text, "spbhid="));
    if (sane_line_ends(text)) FUZZ_CHECK(twice->text == once->text);
  }
  // The URI helpers on the first line, as for a redirect Location.
  std::string_view line = text.substr(0, text.find('\n'));
  if (sp::hls_uri_goes_to_proxy(line)) (void)sp::hls_uri_with_session(line, "a b&c=d");
  return 0;
}
