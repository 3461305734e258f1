// HLS playlist classification and session-id rewriting: see hls_playlist.h.
#include "http/hls_playlist.h"

#include <algorithm>
#include <optional>
#include <span>
#include <utility>

#include "core/text.h"
#include "http/query.h"

namespace sp {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::string_view kHeaderTag = "#EXTM3U";

// Tags whose quoted URI attribute points at something the player fetches.
constexpr std::string_view kUriTags[] = {
    "EXT-X-MAP",          "EXT-X-KEY",           "EXT-X-MEDIA",
    "EXT-X-I-FRAME-STREAM-INF",                  "EXT-X-PART",
    "EXT-X-PRELOAD-HINT", "EXT-X-RENDITION-REPORT",
    "EXT-X-SESSION-KEY",  "EXT-X-SESSION-DATA",
};

// Tags that may only appear in a master playlist (RFC 8216 section 4.3.4).
constexpr std::string_view kMasterTags[] = {
    "EXT-X-STREAM-INF", "EXT-X-I-FRAME-STREAM-INF", "EXT-X-MEDIA", "EXT-X-SESSION-DATA", "EXT-X-SESSION-KEY",
};


bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool contains(std::span<const std::string_view> list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// "#EXT-X-MAP:URI=..." -> "EXT-X-MAP"; "" for a line that is not a tag.
std::string_view tag_name(std::string_view trimmed_line) {
  if (!trimmed_line.starts_with("#EXT")) return {};
  std::string_view body = trimmed_line.substr(1);
  return trim(body.substr(0, body.find(':')));
}

// The length of the header: optional BOM and whitespace, then "#EXTM3U". The
// caller copies it untouched and treats what follows as lines.
Result<size_t> header_length(std::string_view playlist) {
  size_t at = playlist.starts_with(kUtf8Bom) ? kUtf8Bom.size() : 0;
  while (at < playlist.size() && is_space(playlist[at])) ++at;
  size_t end = at + kHeaderTag.size();
  bool ok = playlist.substr(at).starts_with(kHeaderTag) && (end == playlist.size() || is_space(playlist[end]));
  if (!ok) return Result<size_t>::Error(ErrorKind::bad_input, "playlist does not start with #EXTM3U");
  return end;
}

// The [begin, end) of the quoted value of the URI attribute in a tag line, if
// any. Walks the attribute list (NAME=VALUE, values quoted or not, separated
// by commas) so a URI= inside another attribute's quoted string never matches.
std::optional<std::pair<size_t, size_t>> find_uri_value(std::string_view line) {
  size_t at = line.find(':');
  if (at == std::string_view::npos) return std::nullopt;
  ++at;
  while (at < line.size()) {
    size_t eq = line.find('=', at);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view name = trim(line.substr(at, eq - at));
    size_t value_at = eq + 1;
    size_t value_end;
    if (value_at < line.size() && line[value_at] == '"') {
      size_t close = line.find('"', value_at + 1);
      if (close == std::string_view::npos) return std::nullopt;  // unterminated: leave the line alone
      if (name == "URI") return std::make_pair(value_at + 1, close);
      value_end = close + 1;
    } else {
      value_end = std::min(line.find(',', value_at), line.size());
    }
    size_t comma = line.find(',', value_end);
    if (comma == std::string_view::npos) return std::nullopt;
    at = comma + 1;
  }
  return std::nullopt;
}

// Appends `line` with the part [begin, end) replaced by its rewritten URI
// when that URI goes to the proxy.
void append_with_uri(std::string_view line, size_t begin, size_t end, std::string_view session_id,
                     HlsPlaylistRewrite* out) {
  std::string_view uri = line.substr(begin, end - begin);
  if (!hls_uri_goes_to_proxy(uri)) {
    out->text.append(line);
    return;
  }
  out->text.append(line.substr(0, begin)).append(hls_uri_with_session(uri, session_id));
  out->text.append(line.substr(end));
  ++out->uris_rewritten;
}

void rewrite_line(std::string_view line, std::string_view session_id, HlsPlaylistRewrite* out) {
  std::string_view trimmed = trim(line);
  size_t begin = trimmed.data() - line.data();
  if (trimmed.empty() || (trimmed.front() == '#' && !contains(kUriTags, tag_name(trimmed)))) {
    out->text.append(line);  // blank line, comment, or a tag without a URI
  } else if (trimmed.front() != '#') {
    append_with_uri(line, begin, begin + trimmed.size(), session_id, out);
  } else if (auto value = find_uri_value(line)) {
    append_with_uri(line, value->first, value->second, session_id, out);
  } else {
    out->text.append(line);  // e.g. EXT-X-KEY:METHOD=NONE
  }
}

}  // namespace

Result<HlsPlaylistKind> hls_playlist_kind(std::string_view playlist) {
  Result<size_t> header = header_length(playlist);
  if (!header.ok()) return header.status();
  playlist.remove_prefix(*header);
  while (!playlist.empty()) {
    if (contains(kMasterTags, tag_name(trim(take_line(&playlist).text)))) return HlsPlaylistKind::kMaster;
  }
  return HlsPlaylistKind::kMedia;
}

Result<HlsPlaylistRewrite> rewrite_hls_playlist(std::string_view playlist, std::string_view session_id) {
  Result<size_t> header = header_length(playlist);
  if (!header.ok()) return header.status();
  if (session_id.empty()) return Result<HlsPlaylistRewrite>::Error(ErrorKind::bad_input, "HLS session id is empty");
  HlsPlaylistRewrite out;
  out.text.reserve(playlist.size() + playlist.size() / 4);
  out.text.append(playlist.substr(0, *header));
  playlist.remove_prefix(*header);
  while (!playlist.empty()) {
    TextLine line = take_line(&playlist);
    rewrite_line(line.text, session_id, &out);
    out.text.append(line.eol);
  }
  return out;
}

std::string hls_uri_with_session(std::string_view uri, std::string_view session_id) {
  std::string_view fragment;
  if (size_t hash = uri.find('#'); hash != std::string_view::npos) {
    fragment = uri.substr(hash);
    uri = uri.substr(0, hash);
  }
  std::string_view query;
  if (size_t q = uri.find('?'); q != std::string_view::npos) {
    query = uri.substr(q + 1);
    uri = uri.substr(0, q);
  }
  std::string out(uri);
  out.push_back('?');
  out.append(query_with_param(query, kHlsSessionParam, session_id));
  out.append(fragment);
  return out;
}

bool hls_uri_goes_to_proxy(std::string_view uri) {
  if (uri.empty() || uri.starts_with("//")) return false;
  // RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) before ':'.
  auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!is_alpha(uri.front())) return true;
  for (char c : uri) {
    if (c == ':') return false;
    bool scheme_char = is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!scheme_char) return true;
  }
  return true;
}

}  // namespace sp
