// Configuration value checks shared by the setters and validate(): see
// conf_checks.h.
#include "core/conf_checks.h"

#include <arpa/inet.h>

#include <cctype>

namespace sp {

std::string conf_dir_of(const std::string& conf_file) {
  size_t slash = conf_file.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return conf_file.substr(0, slash);
}

std::string resolve_against(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || path == "stderr") return path;
  if (dir.empty() || dir == ".") return path;
  return dir == "/" ? "/" + path : dir + "/" + path;
}

namespace {

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A host name as RFC 1123 allows: dot-separated labels of letters, digits
// and inner hyphens, each at most 63 characters, 253 in all.
bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

}  // namespace

Status check_candidate_host(std::string_view host) {
  std::string h(host);
  if (h.empty()) return Status::Error("it is empty");
  if (h == "*" || h == "0.0.0.0" || h == "::" || h == "[::]") {
    return Status::Error("a wildcard is not an address clients can send media to; give the public IP or name");
  }
  in_addr a4;
  in6_addr a6;
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1) return Status::Ok();
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') {
    std::string inner = h.substr(1, h.size() - 2);
    if (inet_pton(AF_INET6, inner.c_str(), &a6) == 1) return Status::Ok();
  }
  size_t colon = h.rfind(':');
  if (colon != std::string::npos && h.find(':') == colon && is_host_name(h.substr(0, colon))) {
    return Status::Error("it must not carry a port: the media port is the webrtc listen port");
  }
  if (!is_host_name(h)) return Status::Error("it must be an IPv4 or IPv6 address or a host name");
  // All-digit dotted names that are not addresses ("1.2.3") are typos.
  bool digits_and_dots = h.find_first_not_of("0123456789.") == std::string::npos;
  if (digits_and_dots) return Status::Error("it is not a valid IPv4 address");
  return Status::Ok();
}

Result<std::string> expand_candidate(std::string_view value, const EnvLookup& env) {
  std::string out(value);
  if (!value.empty() && value[0] == '$') {
    std::string_view name = value.substr(1);
    if (name.size() >= 2 && name.front() == '{' && name.back() == '}') name = name.substr(1, name.size() - 2);
    bool ok = !name.empty();
    for (char c : name) ok = ok && is_name_char(c);
    if (!ok) return Result<std::string>::Error("\"" + std::string(value) + "\" is not a valid variable reference");
    std::string var(name);
    const char* v = env(var.c_str());
    if (!v || !*v) {
      return Result<std::string>::Error("environment variable " + var + " is not set (candidate $" + var +
                                        " takes the address from it)");
    }
    out = v;
  }
  Status st = check_candidate_host(out);
  if (!st.ok()) {
    std::string shown = out == std::string(value) ? "" : " (from " + std::string(value) + ")";
    return Result<std::string>::Error("\"" + out + "\"" + shown + ": " + st.message());
  }
  return out;
}

const std::vector<std::string>& default_redact_words() {
  static const std::vector<std::string> kWords = {"token", "key", "secret", "sign", "auth", "passw"};
  return kWords;
}

namespace {

bool name_is_secret(std::string_view name, const std::vector<std::string>& words) {
  std::string lower(name);
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const std::string& w : words) {
    if (!w.empty() && lower.find(w) != std::string::npos) return true;
  }
  return false;
}

bool ends_value(char c) {
  return c == '&' || c == ' ' || c == '"' || c == '\'' || c == '#' || c == ',' || c == ';' || c == '\n' ||
         c == '\r' || c == '\t' || c == ')' || c == ']' || c == '}' || c == '>';
}

}  // namespace

std::string redact_query_values(std::string_view text, const std::vector<std::string>& words) {
  if (words.empty() || text.find('=') == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    out += c;
    i++;
    if (c != '?' && c != '&') continue;
    size_t name_end = i;
    while (name_end < text.size() && (is_name_char(text[name_end]) || text[name_end] == '-' || text[name_end] == '.')) {
      name_end++;
    }
    if (name_end == i || name_end >= text.size() || text[name_end] != '=') continue;
    std::string_view name = text.substr(i, name_end - i);
    if (!name_is_secret(name, words)) continue;
    size_t value_end = name_end + 1;
    while (value_end < text.size() && !ends_value(text[value_end])) value_end++;
    out.append(name);
    out += '=';
    if (value_end > name_end + 1) out += "***";
    i = value_end;
  }
  return out;
}

}  // namespace sp
