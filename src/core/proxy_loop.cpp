// Proxy identity and loop markers: see proxy_loop.h.
#include "core/proxy_loop.h"

#include <openssl/rand.h>
#include <sys/random.h>

#include <vector>

namespace sp {

namespace {

uint64_t make_proxy_id() {
  uint64_t id = 0;
  while (id == 0) {
    if (getrandom(&id, sizeof(id), 0) != ssize_t(sizeof(id))) {
      RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof(id));
    }
  }
  return id;
}

// Made at load time, in the master before the first fork (proxy_loop.h).
const uint64_t g_proxy_id = make_proxy_id();

char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
  }
  return true;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Via members: split at commas outside comments ("(...)", which may nest and
// hold quoted pairs). An unbalanced comment runs to the end of the value.
std::vector<std::string_view> via_members(std::string_view via) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < via.size(); i++) {
    char c = via[i];
    if (depth > 0 && c == '\\') {
      i++;  // quoted pair
    } else if (c == '(') {
      depth++;
    } else if (c == ')' && depth > 0) {
      depth--;
    } else if (c == ',' && depth == 0) {
      out.push_back(via.substr(start, i - start));
      start = i + 1;
    }
  }
  if (start <= via.size()) out.push_back(via.substr(start));
  return out;
}

// The received-by of one member "protocol RWS received-by [RWS comment]".
std::string_view received_by(std::string_view member) {
  member = trim(member);
  size_t sp = 0;
  while (sp < member.size() && !is_ows(member[sp])) sp++;
  if (sp == 0 || sp == member.size()) return {};
  std::string_view rest = trim(member.substr(sp));
  size_t end = 0;
  while (end < rest.size() && !is_ows(rest[end]) && rest[end] != '(') end++;
  return rest.substr(0, end);
}

}  // namespace

uint64_t proxy_id() { return g_proxy_id; }

std::string proxy_id_hex(uint64_t id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; i--) {
    out[size_t(i)] = kHex[id & 15];
    id >>= 4;
  }
  return out;
}

std::string proxy_via_name(uint64_t id) { return "srs-proxy-" + proxy_id_hex(id); }

bool via_lists_proxy(std::string_view via, uint64_t id) {
  const std::string ours = proxy_via_name(id);
  for (std::string_view member : via_members(via)) {
    if (iequals(received_by(member), ours)) return true;
  }
  return false;
}

std::string via_append(std::string_view prior, uint64_t id) {
  std::string out(trim(prior));
  while (!out.empty() && (out.back() == ',' || is_ows(out.back()))) out.pop_back();
  // A comment left open (or a quoted pair cut short) would swallow our
  // member, and a loop would go unseen: close it first.
  int depth = 0;
  bool escaped = false;
  for (char c : out) {
    if (escaped) {
      escaped = false;
    } else if (depth > 0 && c == '\\') {
      escaped = true;
    } else if (c == '(') {
      depth++;
    } else if (c == ')' && depth > 0) {
      depth--;
    }
  }
  if (escaped) out += ' ';
  out.append(size_t(depth), ')');
  if (!out.empty()) out += ", ";
  out += "1.1 " + proxy_via_name(id);
  return out;
}

bool proxy_chain_lists(std::string_view chain, uint64_t id) {
  const std::string ours = proxy_id_hex(id);
  while (true) {
    size_t dot = chain.find('.');
    if (iequals(trim(chain.substr(0, dot)), ours)) return true;
    if (dot == std::string_view::npos) return false;
    chain.remove_prefix(dot + 1);
  }
}

std::string proxy_chain_append(std::string_view chain, uint64_t id) {
  std::string out(trim(chain));
  while (!out.empty() && out.back() == '.') out.pop_back();
  if (!out.empty()) out += '.';
  out += proxy_id_hex(id);
  return out;
}

}  // namespace sp
