// Small text helpers shared by the line-oriented parsers (HLS playlists, SDP).
#pragma once

#include <string_view>

namespace sp {

// One line of a text and its own terminator ("\r\n", "\n", or "" for a last
// line without one), so a rewriter can keep the input's line endings.
struct TextLine {
  std::string_view text;
  std::string_view eol;
};

// Takes the first line off *rest.
inline TextLine take_line(std::string_view* rest) {
  size_t nl = rest->find('\n');
  size_t end = nl == std::string_view::npos ? rest->size() : nl + 1;
  std::string_view whole = rest->substr(0, end);
  rest->remove_prefix(end);
  size_t eol_len = whole.ends_with("\r\n") ? 2 : whole.ends_with('\n') ? 1 : 0;
  return {whole.substr(0, whole.size() - eol_len), whole.substr(whole.size() - eol_len)};
}

}  // namespace sp
