// Static files of the HTTP stream listener (`root`: players, crossdomain.xml),
// the pure part: request path -> a safe path relative to the root, MIME types
// by extension, and the single-range `Range` header. The serving itself
// (open, fstat, realpath check against the root, sendfile through the
// bufferevent) is in stream_static.cpp.
//
// Traversal is refused twice: here, on the decoded path (any ".." segment,
// NUL or backslash -> 403), and at open time by realpath(), which catches
// symlinks that lead out of the root.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sp {

// "/player/index.html" (percent-encoded, no query) -> "player/index.html".
// A path ending in '/' gets "index.html". Error (403) for "..", "." tricks
// after decoding (%2e%2e), NUL bytes, backslashes.
Result<std::string> static_relative_path(std::string_view url_path);

// MIME type for a file name by its extension; application/octet-stream when
// unknown.
std::string_view mime_type_for(std::string_view file_name);

struct ByteRange {
  enum Kind { kNone, kRange, kUnsatisfiable } kind = kNone;
  uint64_t first = 0, last = 0;  // inclusive, for kRange
};
// One `Range: bytes=a-b | a- | -n` over a file of `size` bytes. kNone for no
// header, another unit or several ranges (the whole file is sent then, which
// RFC 9110 allows); kUnsatisfiable when it starts past the end.
ByteRange parse_byte_range(std::string_view header, uint64_t size);

}  // namespace sp
