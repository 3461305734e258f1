// Pure signalling helpers: see signaling.h.
#include "rtc/signaling.h"

#include <charconv>
#include <vector>

#include "http/query.h"

namespace sp {

namespace {

struct Route {
  std::string_view prefix;  // without trailing '/'
  RtcAction action;
};
constexpr Route kRoutes[] = {
    {"/rtc/v1/whip-play", RtcAction::whep}, {"/rtc/v1/whip", RtcAction::whip}, {"/rtc/v1/whep", RtcAction::whep},
    {"/rtc/v1/publish", RtcAction::publish}, {"/rtc/v1/play", RtcAction::play},
};

// The route whose prefix is the whole path or a whole leading segment run of it.
const Route* find_route(std::string_view path, std::string_view* rest) {
  for (const Route& r : kRoutes) {
    if (!path.starts_with(r.prefix)) continue;
    std::string_view tail = path.substr(r.prefix.size());
    if (!tail.empty() && tail.front() != '/') continue;
    while (!tail.empty() && tail.front() == '/') tail.remove_prefix(1);
    *rest = tail;
    return &r;
  }
  return nullptr;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

bool parse_port(std::string_view s, uint16_t* out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return false;
  *out = uint16_t(v);
  return true;
}

}  // namespace

const char* rtc_action_name(RtcAction a) {
  switch (a) {
    case RtcAction::whip: return "whip";
    case RtcAction::whep: return "whep";
    case RtcAction::publish: return "publish";
    case RtcAction::play: return "play";
  }
  return "?";
}

Result<RtcTarget> parse_rtc_target(std::string_view path, std::string_view query) {
  std::string_view rest;
  const Route* r = find_route(path, &rest);
  if (!r) return Result<RtcTarget>::Error(ErrorKind::bad_input, "not a WebRTC signalling path: " + std::string(path));
  RtcTarget t;
  t.action = r->action;
  if (rtc_action_is_json(t.action)) return t;
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (!rest.empty()) {
    // Path form: /rtc/v1/whip/APP[/MORE]/STREAM.
    size_t slash = rest.rfind('/');
    if (slash == std::string_view::npos) {
      return Result<RtcTarget>::Error(ErrorKind::bad_input, "path names no app: " + std::string(path) +
                                                                " (use /rtc/v1/" + rtc_action_name(t.action) +
                                                                "/APP/STREAM or ?app=&stream=)");
    }
    t.app = percent_decode(rest.substr(0, slash));
    t.stream = percent_decode(rest.substr(slash + 1));
  } else {
    t.app = query_param(query, "app").value_or("");
    t.stream = query_param(query, "stream").value_or("");
  }
  if (t.app.empty()) {
    return Result<RtcTarget>::Error(ErrorKind::bad_input, "missing app (query app= or path /APP/STREAM)");
  }
  if (t.stream.empty()) {
    return Result<RtcTarget>::Error(ErrorKind::bad_input, "missing stream (query stream= or path /APP/STREAM)");
  }
  return t;
}

bool is_rtc_resource_path(std::string_view path) {
  std::string_view rest;
  return find_route(path, &rest) != nullptr;
}

Result<StreamUrl> parse_stream_url(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return Result<StreamUrl>::Error(ErrorKind::bad_input, "streamurl has no scheme: " + std::string(url));
  }
  std::string_view rest = url.substr(scheme + 3);
  StreamUrl out;
  size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    out.query = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return Result<StreamUrl>::Error(ErrorKind::bad_input, "streamurl has no path: " + std::string(url));
  }
  out.host = std::string(rest.substr(0, slash));
  std::string_view path = rest.substr(slash + 1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t last = path.rfind('/');
  if (last == std::string_view::npos || last == 0) {
    return Result<StreamUrl>::Error(ErrorKind::bad_input, "streamurl names no app/stream: " + std::string(url));
  }
  out.app = std::string(path.substr(0, last));
  out.stream = std::string(path.substr(last + 1));
  if (out.stream.empty()) {
    return Result<StreamUrl>::Error(ErrorKind::bad_input, "streamurl names no stream: " + std::string(url));
  }
  return out;
}

uint16_t origin_media_port(std::string_view answer_sdp, std::string_view rtc_host, uint16_t registered_port) {
  std::string_view host = rtc_host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string_view rest = answer_sdp;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!line.starts_with("a=candidate:")) continue;
    // foundation component transport priority address port "typ" type ...
    auto f = split(line.substr(12), ' ');
    if (f.size() < 8 || f[6] != "typ" || f[7] != "host") continue;
    if (f[2] != "udp" && f[2] != "UDP") continue;
    uint16_t port = 0;
    if (f[4] == host && parse_port(f[5], &port)) return port;
  }
  return registered_port;
}

std::string encode_rtc_session_data(const RtcSessionData& d, size_t max_bytes) {
  std::string base = d.origin_host + " " + std::to_string(d.origin_port);
  std::string with_pwd = base + " " + (d.answer_pwd.empty() ? "-" : d.answer_pwd);
  std::string full = with_pwd + " " + (d.origin_resource.empty() ? "-" : d.origin_resource);
  if (full.size() <= max_bytes) return full;
  if (with_pwd.size() + 2 <= max_bytes) return with_pwd + " -";
  return base + " - -";
}

Result<RtcSessionData> decode_rtc_session_data(std::string_view text) {
  auto f = split(text, ' ');
  RtcSessionData d;
  if (f.size() != 4 || f[0].empty() || !parse_port(f[1], &d.origin_port)) {
    return Result<RtcSessionData>::Error(ErrorKind::internal, "bad rtc session record \"" + std::string(text) + "\"");
  }
  d.origin_host = std::string(f[0]);
  if (f[2] != "-") d.answer_pwd = std::string(f[2]);
  if (f[3] != "-") d.origin_resource = std::string(f[3]);
  return d;
}

namespace {

// Bytes a URI may not carry (spaces, controls, non-ASCII) percent-encoded, as
// browsers do with a sloppy Location. The result also goes into the
// space-separated session record, which a space would break.
std::string escape_uri_bytes(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out;
}

std::string resolve_location(std::string_view location, std::string_view request_path) {
  size_t scheme = location.find("://");
  if (scheme != std::string_view::npos && location.find('/') > scheme) {
    std::string_view rest = location.substr(scheme + 3);
    size_t slash = rest.find_first_of("/?");
    if (slash == std::string_view::npos) return "/";
    std::string out(rest.substr(slash));
    if (out.front() == '?') out.insert(out.begin(), '/');
    return out;
  }
  if (location.starts_with("/")) return std::string(location);
  // Relative reference: against the request path's directory.
  size_t dir = request_path.rfind('/');
  std::string base = dir == std::string_view::npos ? "/" : std::string(request_path.substr(0, dir + 1));
  return base + std::string(location);
}

}  // namespace

std::string origin_resource_path(std::string_view location, std::string_view request_path) {
  return escape_uri_bytes(resolve_location(trim(location), request_path));
}

std::string proxy_location(std::string_view origin_resource, std::string_view session_id, std::string_view base) {
  std::string_view path = origin_resource;
  std::string_view query;
  size_t q = origin_resource.find('?');
  if (q != std::string_view::npos) {
    path = origin_resource.substr(0, q);
    query = origin_resource.substr(q + 1);
  }
  std::string new_query = query_with_param(query, "spsid", session_id);
  return std::string(base) + std::string(path) + "?" + new_query;
}

std::string rtc_claim_socket_name(uint64_t listener_inode, std::string_view session_id) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (char c : session_id) {
    h ^= uint8_t(c);
    h *= 1099511628211ull;
  }
  char buf[64];
  int n = snprintf(buf, sizeof(buf), "srs-proxy-rtc/%llx/%016llx", static_cast<unsigned long long>(listener_inode),
                   static_cast<unsigned long long>(h));
  return std::string(buf, size_t(n));
}

}  // namespace sp
