// Stream-key normalisation (see stream_key.h). Every protocol front end turns
// its own request shape into VHOST/APP/STREAM here, so a stream published over
// one protocol and played over another lands on the same registry pin.
//
// Rules:
//  - VHOST: the host lower-cased with its port stripped when it is a domain
//    name; "__defaultVhost__" for IPv4/IPv6 literals, "localhost" and no host.
//    A `vhost=` query parameter overrides the host; when several queries carry
//    one, the most specific wins: stream query, then app query (SRS's
//    "app?vhost=x"), then the extra (tcUrl or HTTP) query.
//  - APP: slashes at either end trimmed; may contain inner slashes
//    ("live/sub"). A stream name with slashes moves its leading segments into
//    the app, so RTMP "live" + "sub/s" and HTTP "/live/sub/s.flv" agree.
//  - STREAM: query and a media extension (.flv .ts .m3u8 .aac .mp3 .m4s .mp4)
//    removed.
//  - Every part: printable ASCII without URL delimiters, no empty, "." or
//    ".." segment, also once percent-decoded ("%2e%2e", "a%2fb" and "%00x"
//    are refused); the vhost is also a host name ([a-z0-9._-]).
#include "registry/stream_key.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace sp {

namespace {

struct Split {
  std::string_view before, after;  // after = text following the separator
};

Split split_at(std::string_view s, char sep) {
  size_t at = s.find(sep);
  if (at == std::string_view::npos) return {s, {}};
  return {s.substr(0, at), s.substr(at + 1)};
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The value of `vhost=` in a query ("a=1&vhost=x"), empty if absent.
std::string_view query_vhost(std::string_view query) {
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  while (!query.empty()) {
    Split pair = split_at(query, '&');
    Split kv = split_at(pair.before, '=');
    if (kv.before == "vhost" && !kv.after.empty()) return kv.after;
    query = pair.after;
  }
  return {};
}

// "host", "host:port", "[v6]:port", "[v6]" or a bare IPv6 literal, to the
// host alone.
std::string_view strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host.substr(1) : host.substr(1, close - 1);
  }
  size_t colon = host.find(':');
  if (colon == std::string_view::npos) return host;
  if (host.find(':', colon + 1) != std::string_view::npos) return host;  // bare IPv6
  return host.substr(0, colon);
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1) return true;
  // Shorthands such as "127.1" are addresses to every resolver, never names.
  return std::all_of(host.begin(), host.end(), [](char c) { return std::isdigit((unsigned char)c) || c == '.'; });
}

// Characters a key part may hold: printable ASCII without the ones that
// delimit URLs, quote, or would confuse a log line or a path.
bool valid_part_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  static constexpr std::string_view kBad = "\"#<>?\\^`{|}";
  return kBad.find(char(c)) == std::string_view::npos;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One segment (no '/') as an origin that percent-decodes it would read it:
// false when a '%' starts no escape or an escape hides a character a part may
// not hold ("%00", "%2f", "%20", "%3f"); escaped UTF-8 bytes (>= 0x80) pass.
bool decode_segment(std::string_view seg, std::string* out) {
  out->clear();
  for (size_t i = 0; i < seg.size(); i++) {
    if (seg[i] != '%') {
      out->push_back(seg[i]);
      continue;
    }
    int hi = i + 2 < seg.size() ? hex_digit(seg[i + 1]) : -1;
    int lo = hi >= 0 ? hex_digit(seg[i + 2]) : -1;
    if (lo < 0) return false;
    auto b = static_cast<unsigned char>(hi * 16 + lo);
    if (b < 0x80 && (!valid_part_char(b) || b == '/')) return false;
    out->push_back(char(b));
    i += 2;
  }
  return true;
}

// The rule every part of a key follows (vhost, app, stream): printable ASCII
// without delimiters, no empty, "." or ".." segment (they would alias other
// keys via paths), and the same after percent-decoding, since an origin
// decodes what an HTTP client escaped ("%2e%2e" is "..", "a%2fb" is "a/b").
bool valid_part(std::string_view s, bool allow_slash) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!valid_part_char(c) || (c == '/' && !allow_slash)) return false;
  }
  size_t start = 0;
  std::string decoded;
  while (start <= s.size()) {
    size_t end = s.find('/', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view seg = s.substr(start, end - start);
    if (!decode_segment(seg, &decoded)) return false;
    if (decoded.empty() || decoded == "." || decoded == "..") return false;
    start = end + 1;
  }
  return true;
}

// A vhost is a host name: the part rule, and only letters, digits, '-', '_'
// and '.' (lower-cased, but for "__defaultVhost__"), so no escape or other byte reaches the
// registry as a vhost of its own.
bool valid_vhost(std::string_view s) {
  if (!valid_part(s, false)) return false;
  for (char c : s) {
    if (!(std::isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return s.front() != '.' && s.back() != '.' && s.find("..") == std::string_view::npos;
}

std::string_view trim_slashes(std::string_view s) {
  while (!s.empty() && s.front() == '/') s.remove_prefix(1);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

std::string_view strip_extension(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kExt = {".flv", ".ts", ".m3u8", ".aac",
                                                           ".mp3", ".m4s", ".mp4"};
  for (std::string_view ext : kExt) {
    if (name.ends_with(ext)) return name.substr(0, name.size() - ext.size());
  }
  return name;
}

// Client text as it may appear in an error (which is logged and may be
// answered): bytes outside printable ASCII as \xHH, at most 200 bytes.
std::string quoted(std::string_view s) {
  static constexpr size_t kMax = 200;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; i++) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

}  // namespace

std::string normalize_vhost(std::string_view host, std::string_view query) {
  std::string_view override_host = query_vhost(query);
  std::string h = lower(strip_port(override_host.empty() ? host : override_host));
  if (h.empty() || h == "localhost" || h == lower(kDefaultVhost) || is_ip_literal(h)) {
    return std::string(kDefaultVhost);
  }
  return h;
}

Result<std::string> make_stream_key(std::string_view host, std::string_view app,
                                    std::string_view stream, std::string_view extra_query) {
  Split app_q = split_at(app, '?');
  Split stream_q = split_at(stream, '?');

  // The most specific query carrying vhost= decides.
  std::string_view vhost_query = extra_query;
  if (!query_vhost(app_q.after).empty()) vhost_query = app_q.after;
  if (!query_vhost(stream_q.after).empty()) vhost_query = stream_q.after;
  std::string vhost = normalize_vhost(host, vhost_query);

  std::string app_part(trim_slashes(app_q.before));
  std::string_view name = trim_slashes(stream_q.before);
  if (size_t slash = name.rfind('/'); slash != std::string_view::npos) {
    if (!app_part.empty()) app_part += '/';
    app_part += name.substr(0, slash);
    name = name.substr(slash + 1);
  }
  name = strip_extension(name);

  if (app_part.empty()) {
    return Result<std::string>::Error(ErrorKind::bad_input, "empty app in stream " + quoted(stream));
  }
  if (name.empty()) return Result<std::string>::Error(ErrorKind::bad_input, "empty stream name in " + quoted(stream));
  if (!valid_vhost(vhost)) return Result<std::string>::Error(ErrorKind::bad_input, "invalid vhost " + quoted(vhost));
  if (!valid_part(app_part, true)) {
    return Result<std::string>::Error(ErrorKind::bad_input, "invalid app " + quoted(app_part));
  }
  if (!valid_part(name, false)) {
    return Result<std::string>::Error(ErrorKind::bad_input, "invalid stream name " + quoted(name));
  }
  return vhost + "/" + app_part + "/" + std::string(name);
}

Result<std::string> stream_key_from_rtmp(std::string_view tc_url, std::string_view stream_name) {
  auto bad = [&](const char* why) {
    return Result<std::string>::Error(ErrorKind::bad_input, "invalid tcUrl " + quoted(tc_url) + ": " + why);
  };
  size_t sep = tc_url.find("://");
  if (sep == std::string_view::npos || sep == 0) return bad("expected scheme://host/app");
  std::string_view rest = tc_url.substr(sep + 3);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return bad("no app");
  std::string_view host = rest.substr(0, slash);
  if (host.empty()) return bad("no host");
  // The path after the host is the app and may carry "?vhost=x" (SRS style).
  Split path_q = split_at(rest.substr(slash + 1), '?');
  return make_stream_key(host, path_q.before, stream_name, path_q.after);
}

Result<std::string> stream_key_from_http(std::string_view host_header, std::string_view path_and_query) {
  if (path_and_query.empty() || path_and_query.front() != '/') {
    return Result<std::string>::Error(ErrorKind::bad_input, "invalid request path " + quoted(path_and_query));
  }
  Split path_q = split_at(path_and_query, '?');
  std::string_view path = trim_slashes(path_q.before);
  size_t last = path.rfind('/');
  if (last == std::string_view::npos) {
    return Result<std::string>::Error(ErrorKind::bad_input, "no app in request path " + quoted(path_and_query));
  }
  return make_stream_key(host_header, path.substr(0, last), path.substr(last + 1), path_q.after);
}

}  // namespace sp
