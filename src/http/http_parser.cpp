// HTTP/1.x head parsing and chunked decoding: see http_parser.h.
#include "http/http_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sp {

namespace {

constexpr size_t kMaxChunkLine = 4096;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// RFC 9110 tchar.
bool is_tchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

// Field values: visible bytes, SP, HTAB and obs-text (>= 0x80); no CTLs.
bool is_field_value(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return false;
  }
  return true;
}

// A request target: visible ASCII only (no SP, no CTL, no obs-text).
bool is_target(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return !s.empty();
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One line at the start of `data`: its text without CR/LF and the bytes it
// takes with the terminator; nullopt when no LF yet.
struct Line {
  std::string_view text;
  size_t size;
};
std::optional<Line> next_line(std::string_view data) {
  size_t lf = data.find('\n');
  if (lf == std::string_view::npos) return std::nullopt;
  std::string_view text = data.substr(0, lf);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return Line{text, lf + 1};
}

// "HTTP/1.x" -> x; -1 when not HTTP/1.
int parse_version(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 7) != "HTTP/1." || !std::isdigit(static_cast<unsigned char>(v[7]))) return -1;
  return v[7] - '0';
}

template <class Head>
void fail(HttpParse<Head>* p, int status, std::string why) {
  p->state = HttpParseState::kError;
  p->error_status = status;
  p->error = std::move(why);
}

// Header lines after the start line, up to and including the empty line.
// `start` is the offset of the first header line in `data`.
template <class Head>
void parse_fields(std::string_view data, size_t start, HttpParse<Head>* p) {
  size_t at = start;
  while (true) {
    std::string_view rest = data.substr(at);
    auto line = next_line(rest.substr(0, std::min(rest.size(), kHttpMaxHeaderBytes + 2)));
    if (!line) {
      if (at - start + rest.size() > kHttpMaxHeaderBytes) fail(p, 431, "request header fields too large");
      return;  // incomplete
    }
    at += line->size;
    if (at - start > kHttpMaxHeaderBytes + 2) return fail(p, 431, "request header fields too large");
    if (line->text.empty()) {
      p->state = HttpParseState::kComplete;
      p->consumed = at;
      return;
    }
    if (line->text.front() == ' ' || line->text.front() == '\t') {
      return fail(p, 400, "obsolete header line folding");
    }
    size_t colon = line->text.find(':');
    if (colon == std::string_view::npos) return fail(p, 400, "header line without a colon");
    std::string_view name = line->text.substr(0, colon);
    if (!is_token(name)) return fail(p, 400, "bad header name");
    std::string_view value = trim_ows(line->text.substr(colon + 1));
    if (!is_field_value(value)) return fail(p, 400, "control character in header value");
    if (p->head.headers.fields().size() >= kHttpMaxHeaders) return fail(p, 431, "too many header fields");
    p->head.headers.add(std::string(name), std::string(value));
  }
}

Result<std::optional<uint64_t>> content_length_of(const HttpHeaders& h) {
  std::optional<uint64_t> len;
  for (const auto& [name, value] : h.fields()) {
    if (!iequals(name, "Content-Length")) continue;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
      return Result<std::optional<uint64_t>>::Error(ErrorKind::bad_input, "bad Content-Length \"" + value + "\"");
    }
    if (len && *len != v) {
      return Result<std::optional<uint64_t>>::Error(ErrorKind::bad_input, "conflicting Content-Length headers");
    }
    len = v;
  }
  return len;
}

// Splits "/p?q" into path and query.
void split_target(std::string_view target, std::string* path, std::string* query) {
  size_t q = target.find('?');
  *path = std::string(target.substr(0, q));
  *query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  // A fragment is never sent by conforming clients; drop it if present.
  size_t hash = query->find('#');
  if (hash != std::string::npos) query->resize(hash);
}

}  // namespace

std::optional<std::string_view> HttpHeaders::get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (iequals(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

size_t HttpHeaders::count(std::string_view name) const {
  return std::count_if(fields_.begin(), fields_.end(), [&](const auto& f) { return iequals(f.first, name); });
}

bool HttpHeaders::has_token(std::string_view name, std::string_view token) const {
  for (const auto& [n, v] : fields_) {
    if (!iequals(n, name)) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      if (iequals(trim_ows(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::string HttpHeaders::joined(std::string_view name) const {
  std::string out;
  for (const auto& [n, v] : fields_) {
    if (!iequals(n, name)) continue;
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

std::string HttpRequestHead::host() const {
  if (!absolute_host.empty()) return absolute_host;
  auto h = headers.get("Host");
  return h ? std::string(*h) : std::string();
}

bool HttpRequestHead::keep_alive() const {
  if (headers.has_token("Connection", "close")) return false;
  if (version_minor >= 1) return true;
  return headers.has_token("Connection", "keep-alive");
}

bool HttpRequestHead::expects_continue() const {
  return version_minor >= 1 && headers.has_token("Expect", "100-continue");
}

HttpParse<HttpRequestHead> parse_http_request_head(std::string_view data) {
  HttpParse<HttpRequestHead> p;
  // Tolerate empty lines before the request line (RFC 9112 section 2.2).
  size_t skip = 0;
  while (skip < data.size() && skip < 16 && (data[skip] == '\r' || data[skip] == '\n')) skip++;
  std::string_view rest = data.substr(skip);
  auto line = next_line(rest.substr(0, std::min(rest.size(), kHttpMaxRequestLine + 1)));
  if (!line) {
    if (rest.size() > kHttpMaxRequestLine) fail(&p, 414, "request line too long");
    return p;
  }
  std::string_view l = line->text;
  size_t sp1 = l.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : l.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || l.find(' ', sp2 + 1) != std::string_view::npos) {
    fail(&p, 400, "malformed request line");
    return p;
  }
  std::string_view method = l.substr(0, sp1);
  std::string_view target = l.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = l.substr(sp2 + 1);
  if (!is_token(method)) {
    fail(&p, 400, "malformed request method");
    return p;
  }
  if (version.substr(0, 5) != "HTTP/") {
    fail(&p, 400, "malformed HTTP version");
    return p;
  }
  p.head.version_minor = parse_version(version);
  if (p.head.version_minor < 0) {
    fail(&p, 505, "HTTP version not supported");
    return p;
  }
  if (!is_target(target)) {
    fail(&p, 400, "malformed request target");
    return p;
  }
  p.head.method = std::string(method);
  if (target.front() == '/' || target == "*") {
    p.head.target = std::string(target);
  } else {
    // absolute-form: scheme://authority/path?query
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) {
      fail(&p, 400, "malformed request target");
      return p;
    }
    std::string_view after = target.substr(scheme_end + 3);
    size_t slash = after.find_first_of("/?");
    p.head.absolute_host = std::string(after.substr(0, slash));
    std::string path(slash == std::string_view::npos ? "/" : after.substr(slash));
    if (path.front() == '?') path.insert(0, "/");
    p.head.target = std::move(path);
  }
  split_target(p.head.target, &p.head.path, &p.head.query);

  parse_fields(data, skip + line->size, &p);
  if (p.state != HttpParseState::kComplete) return p;
  auto len = content_length_of(p.head.headers);
  if (!len.ok()) {
    fail(&p, 400, len.error());
    return p;
  }
  p.head.content_length = *len;
  if (p.head.headers.get("Transfer-Encoding")) {
    if (p.head.content_length) {
      fail(&p, 400, "both Transfer-Encoding and Content-Length");
      return p;
    }
    if (!p.head.headers.has_token("Transfer-Encoding", "chunked")) {
      fail(&p, 501, "unsupported Transfer-Encoding");
      return p;
    }
    p.head.chunked = true;
  }
  return p;
}

HttpParse<HttpResponseHead> parse_http_response_head(std::string_view data) {
  HttpParse<HttpResponseHead> p;
  auto line = next_line(data.substr(0, std::min(data.size(), kHttpMaxRequestLine + 1)));
  if (!line) {
    if (data.size() > kHttpMaxRequestLine) {
      fail(&p, 502, "status line too long");
      p.over_limit = true;
    }
    return p;
  }
  std::string_view l = line->text;
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (l.size() < 12 || l[8] != ' ' || (l.size() > 12 && l[12] != ' ')) {
    fail(&p, 502, "malformed status line");
    return p;
  }
  p.head.version_minor = parse_version(l.substr(0, 8));
  int status = 0;
  for (int i = 9; i < 12; i++) {
    if (!std::isdigit(static_cast<unsigned char>(l[i]))) status = -1000;
    status = status * 10 + (l[i] - '0');
  }
  if (p.head.version_minor < 0 || status < 100 || status > 999) {
    fail(&p, 502, "malformed status line");
    return p;
  }
  p.head.status = status;
  p.head.reason = l.size() > 13 ? std::string(l.substr(13)) : std::string();
  if (!is_field_value(p.head.reason)) {
    fail(&p, 502, "malformed status line");
    return p;
  }
  parse_fields(data, line->size, &p);
  if (p.state == HttpParseState::kError) {
    p.over_limit = p.error_status == 414 || p.error_status == 431;
    p.error_status = 502;
  }
  return p;
}

Result<HttpBodyFraming> http_response_framing(std::string_view request_method, const HttpResponseHead& head) {
  HttpBodyFraming f;
  if (request_method == "HEAD" || head.status / 100 == 1 || head.status == 204 || head.status == 304) return f;
  if (head.headers.get("Transfer-Encoding")) {
    // Only chunked as the final coding is delimited; anything else runs to close.
    f.kind = head.headers.has_token("Transfer-Encoding", "chunked") ? HttpBodyFraming::kChunked
                                                                    : HttpBodyFraming::kClose;
    return f;
  }
  auto len = content_length_of(head.headers);
  if (!len.ok()) return len.status();
  if (*len) {
    f.kind = HttpBodyFraming::kLength;
    f.length = **len;
    return f;
  }
  f.kind = HttpBodyFraming::kClose;
  return f;
}

bool http_is_hop_by_hop(std::string_view name) {
  static constexpr std::string_view kNames[] = {"Connection",          "Keep-Alive", "Proxy-Connection",
                                                "Proxy-Authenticate",  "Proxy-Authorization", "TE",
                                                "Trailer",             "Transfer-Encoding",   "Upgrade",
                                                "Content-Length"};
  for (std::string_view n : kNames) {
    if (iequals(n, name)) return true;
  }
  return false;
}

const char* http_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 508: return "Loop Detected";  // RFC 5842; the proxy-loop refusal
  }
  return "Unknown";
}

ChunkedDecoder::Step ChunkedDecoder::parse_framing(std::string_view in) {
  size_t at = 0;
  while (state_ != State::kData && state_ != State::kDone) {
    std::string_view rest = in.substr(at);
    auto line = next_line(rest.substr(0, std::min(rest.size(), kMaxChunkLine + 1)));
    if (!line) {
      if (rest.size() > kMaxChunkLine) return {Step::kError, 0, "chunk framing line too long"};
      return at ? Step{Step::kConsumed, at, {}} : Step{Step::kNeedMore, 0, {}};
    }
    at += line->size;
    switch (state_) {
      case State::kSize: {
        std::string_view size = trim_ows(line->text.substr(0, line->text.find(';')));
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), v, 16);
        if (size.empty() || ec != std::errc() || end != size.data() + size.size()) {
          return {Step::kError, 0, "bad chunk size"};
        }
        remaining_ = v;
        state_ = v == 0 ? State::kTrailer : State::kData;
        break;
      }
      case State::kDataEnd:
        if (!line->text.empty()) return {Step::kError, 0, "chunk data longer than its size"};
        state_ = State::kSize;
        break;
      case State::kTrailer:
        if (line->text.empty()) state_ = State::kDone;
        break;
      default:
        break;
    }
  }
  return {Step::kConsumed, at, {}};
}

Result<std::string> http_dechunk(std::string_view body) {
  ChunkedDecoder d;
  std::string out;
  while (!d.done()) {
    if (uint64_t n = d.data_pending()) {
      if (body.empty()) return Result<std::string>::Error(ErrorKind::bad_input, "chunked body truncated");
      size_t take = size_t(std::min<uint64_t>(n, body.size()));
      out.append(body.substr(0, take));
      body.remove_prefix(take);
      d.take_data(take);
      continue;
    }
    auto step = d.parse_framing(body);
    if (step.kind == ChunkedDecoder::Step::kError) return Result<std::string>::Error(ErrorKind::bad_input, step.error);
    if (step.kind == ChunkedDecoder::Step::kNeedMore) {
      return Result<std::string>::Error(ErrorKind::bad_input, "chunked body truncated");
    }
    body.remove_prefix(step.consumed);
  }
  return out;
}

}  // namespace sp
