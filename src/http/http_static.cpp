// Static-file helpers: see http_static.h.
#include "http/http_static.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "http/query.h"

namespace sp {

Result<std::string> static_relative_path(std::string_view url_path) {
  if (url_path.empty() || url_path.front() != '/') {
    return Result<std::string>::Error(ErrorKind::bad_input, "path must start with '/'");
  }
  std::string decoded = percent_decode(url_path);
  if (decoded.find('\0') != std::string::npos) {
    return Result<std::string>::Error(ErrorKind::bad_input, "NUL byte in path");
  }
  if (decoded.find('\\') != std::string::npos) {
    return Result<std::string>::Error(ErrorKind::bad_input, "backslash in path");
  }
  std::string out;
  std::string_view rest = decoded;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return Result<std::string>::Error(ErrorKind::bad_input, "\"..\" in path");
    if (!out.empty()) out.push_back('/');
    out.append(seg);
  }
  if (decoded.back() == '/' || out.empty()) out += out.empty() ? "index.html" : "/index.html";
  return out;
}

std::string_view mime_type_for(std::string_view file_name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css"},
      {"js", "application/javascript"},
      {"mjs", "application/javascript"},
      {"json", "application/json"},
      {"xml", "text/xml"},
      {"txt", "text/plain; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"ico", "image/x-icon"},
      {"webp", "image/webp"},
      {"wasm", "application/wasm"},
      {"swf", "application/x-shockwave-flash"},
      {"m3u8", "application/vnd.apple.mpegurl"},
      {"ts", "video/mp2t"},
      {"flv", "video/x-flv"},
      {"mp4", "video/mp4"},
      {"m4s", "video/iso.segment"},
      {"aac", "audio/aac"},
      {"mp3", "audio/mpeg"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
  };
  size_t slash = file_name.rfind('/');
  std::string_view base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
  size_t dot = base.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  std::string ext(base.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& [e, type] : kTypes) {
    if (e == ext) return type;
  }
  return "application/octet-stream";
}

namespace {

bool parse_u64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

ByteRange parse_byte_range(std::string_view header, uint64_t size) {
  ByteRange r;
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  if (header.substr(0, 6) != "bytes=") return r;
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return r;  // several ranges: send it all
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return r;
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix: the last n bytes
    if (!parse_u64(b, &last) || last == 0) {
      if (parse_u64(b, &last)) r.kind = ByteRange::kUnsatisfiable;
      return r;
    }
    if (size == 0) {
      r.kind = ByteRange::kUnsatisfiable;
      return r;
    }
    r.kind = ByteRange::kRange;
    r.first = last >= size ? 0 : size - last;
    r.last = size - 1;
    return r;
  }
  if (!parse_u64(a, &first)) return r;
  if (b.empty()) {
    last = size ? size - 1 : 0;
  } else if (!parse_u64(b, &last) || last < first) {
    return r;
  }
  if (first >= size) {
    r.kind = ByteRange::kUnsatisfiable;
    return r;
  }
  r.kind = ByteRange::kRange;
  r.first = first;
  r.last = std::min(last, size - 1);
  return r;
}

}  // namespace sp
