// Fuzz target: HLS playlists from an origin, rewritten so every proxied URI
// carries the session id. A rewrite of a rewrite must change nothing more
// (the id is replaced, never appended twice).
#include <string>

#include "fuzz_util.h"
#include "http/hls_playlist.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = sp::fuzz::as_text(data, size);
  auto kind = sp::hls_playlist_kind(text);
  auto once = sp::rewrite_hls_playlist(text, "fz01");
  FUZZ_CHECK(kind.ok() == once.ok());
  // Idempotence holds for sane text; a lone CR inside a line can end up
  // last on the rewritten line, where the second pass reads it as CRLF.
  bool lone_cr = false;
  for (size_t i = 0; i < text.size(); i++)
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) lone_cr = true;
  if (once.ok() && !lone_cr) {
    auto twice = sp::rewrite_hls_playlist(once->text, "fz01");
    FUZZ_CHECK(twice.ok());
    FUZZ_CHECK(twice->text == once->text);
  }
  // The URI helpers on the first line, as for a redirect Location.
  std::string_view line = text.substr(0, text.find('\n'));
  if (sp::hls_uri_goes_to_proxy(line)) (void)sp::hls_uri_with_session(line, "a b&c=d");
  return 0;
}
