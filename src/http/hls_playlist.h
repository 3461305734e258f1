// HLS playlist rewriting for session routing. The proxy ties each HLS viewer
// to one origin through a session id; for the player to send that id back,
// every URI in the playlist the origin returned gets "spbhid=<id>" in its
// query before the playlist goes to the player. Segment and sub-playlist
// requests carrying it then go to the session's origin from any worker.
//
// What is rewritten: URI lines, and the quoted URI="..." attribute of
// EXT-X-MAP, EXT-X-KEY, EXT-X-MEDIA, EXT-X-I-FRAME-STREAM-INF, EXT-X-PART,
// EXT-X-PRELOAD-HINT, EXT-X-RENDITION-REPORT, EXT-X-SESSION-KEY and
// EXT-X-SESSION-DATA. Only relative references ("seg.ts", "../a/seg.ts") and
// absolute paths ("/live/seg.ts") are rewritten: they resolve against the
// playlist URL, i.e. back to the proxy. A URI with a scheme ("http://cdn/...",
// "data:", "skd://") or a network path ("//cdn/...") names another host the
// player fetches directly, so an id there would be useless; it is left as is.
// Everything else, line endings included, passes through byte for byte.
// Pure text in, text out.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace sp {

constexpr std::string_view kHlsSessionParam = "spbhid";

enum class HlsPlaylistKind {
  kMaster,  // variant streams / renditions: EXT-X-STREAM-INF, EXT-X-MEDIA, ...
  kMedia,   // segments: EXTINF, EXT-X-TARGETDURATION, ...
};

// Master when any master-only tag appears (EXT-X-STREAM-INF,
// EXT-X-I-FRAME-STREAM-INF, EXT-X-MEDIA, EXT-X-SESSION-DATA,
// EXT-X-SESSION-KEY), else media. Error when the text does not start with
// #EXTM3U (after an optional UTF-8 BOM and whitespace).
Result<HlsPlaylistKind> hls_playlist_kind(std::string_view playlist);

struct HlsPlaylistRewrite {
  std::string text;
  int uris_rewritten = 0;  // URI lines and URI= attributes that got the id
};

// Adds the session id to every proxied URI (see above). Error when the text
// does not start with #EXTM3U or the session id is empty.
Result<HlsPlaylistRewrite> rewrite_hls_playlist(std::string_view playlist, std::string_view session_id);

// One URI with spbhid=<id> set in its query: "seg.ts" -> "seg.ts?spbhid=ID",
// "seg.ts?a=1&" -> "seg.ts?a=1&spbhid=ID", an existing spbhid replaced, a
// "#fragment" kept after the query. The id is percent-encoded.
std::string hls_uri_with_session(std::string_view uri, std::string_view session_id);

// True for relative references and absolute paths, false for URIs with a
// scheme or a network path ("//host/...").
bool hls_uri_goes_to_proxy(std::string_view uri);

}  // namespace sp
