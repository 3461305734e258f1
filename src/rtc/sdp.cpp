// SDP ufrag extraction and answer candidate rewriting: see sdp.h.
#include "rtc/sdp.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/text.h"

namespace sp {

namespace {

constexpr std::string_view kCandidatePrefix = "a=candidate:";
constexpr std::string_view kUfragPrefix = "a=ice-ufrag:";
constexpr std::string_view kPwdPrefix = "a=ice-pwd:";


std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t sp = s.find(' ');
    if (sp != 0) out.push_back(s.substr(0, sp));
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 8839: ice-char = ALPHA / DIGIT / "+" / "/"; a ufrag has 4..256 of
// them, a password 22..256.
bool is_ice_chars(std::string_view u, size_t min_size) {
  return u.size() >= min_size && u.size() <= 256 && std::all_of(u.begin(), u.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
         });
}

bool looks_like_sdp(std::string_view sdp) { return sdp.starts_with("v="); }

// The fields of an a=candidate line the rewrite looks at (RFC 8839 section
// 5.1): foundation component transport priority address port "typ" type ...
struct Candidate {
  std::string_view head;  // "foundation component transport priority"
  std::string_view component;
  std::string_view transport;
  std::string_view address;
  std::string_view port;
  std::string_view type;
  std::string_view tail;  // " typ host ..." through the end, kept as is
};

bool parse_candidate(std::string_view line, Candidate* c) {
  if (!line.starts_with(kCandidatePrefix)) return false;
  std::string_view body = trim_right(line.substr(kCandidatePrefix.size()));
  std::vector<std::string_view> f = split_spaces(body);
  if (f.size() < 8 || f[6] != "typ" || !is_digits(f[1]) || !is_digits(f[5])) return false;
  c->head = body.substr(0, f[3].data() + f[3].size() - body.data());
  c->component = f[1];
  c->transport = f[2];
  c->address = f[4];
  c->port = f[5];
  c->type = f[7];
  c->tail = body.substr(f[5].data() + f[5].size() - body.data());
  return true;
}

bool is_relayable(const Candidate& c) { return iequals(c.transport, "udp") && c.type == "host"; }

// What the first pass learns: the transport addresses the origin advertised
// as host UDP candidates, so c= and m= lines naming them can follow along.
struct OriginHostAddresses {
  std::vector<std::string_view> addresses;
  std::vector<std::string_view> ports;

  bool has_address(std::string_view a) const {
    return std::find(addresses.begin(), addresses.end(), a) != addresses.end();
  }
  bool has_port(std::string_view p) const { return std::find(ports.begin(), ports.end(), p) != ports.end(); }
};

OriginHostAddresses collect_host_addresses(std::string_view sdp) {
  OriginHostAddresses out;
  while (!sdp.empty()) {
    Candidate c;
    if (parse_candidate(take_line(&sdp).text, &c) && is_relayable(c)) {
      out.addresses.push_back(c.address);
      out.ports.push_back(c.port);
    }
  }
  return out;
}

// "c=IN IP4 10.0.0.1" -> "c=IN IP4 <address>" when it names an origin host.
bool rewrite_connection_line(std::string_view line, const OriginHostAddresses& origin,
                             std::string_view address, std::string* out) {
  std::vector<std::string_view> f = split_spaces(trim_right(line.substr(2)));
  if (f.size() != 3 || !origin.has_address(f[2])) return false;
  out->append("c=").append(f[0]).append(address.find(':') == std::string_view::npos ? " IP4 " : " IP6 ");
  out->append(address);
  return true;
}

// "m=audio 48790 UDP/TLS/RTP/SAVPF 96" -> port replaced when it is an origin
// host candidate's port.
bool rewrite_media_line(std::string_view line, const OriginHostAddresses& origin, uint16_t port,
                        std::string* out) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return false;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return false;
  if (!origin.has_port(line.substr(sp1 + 1, sp2 - sp1 - 1))) return false;
  out->append(line.substr(0, sp1 + 1)).append(std::to_string(port)).append(line.substr(sp2));
  return true;
}

// Writes the rewritten candidate line unless this media section already has
// one for the same component (they would all name the same proxy socket).
void rewrite_candidate_line(const Candidate& c, const TextLine& line, std::string_view address, uint16_t port,
                            std::vector<std::string_view>* components_seen,
                            SdpCandidateRewrite* result) {
  if (std::find(components_seen->begin(), components_seen->end(), c.component) != components_seen->end()) {
    ++result->dropped;
    return;
  }
  components_seen->push_back(c.component);
  result->sdp.append(kCandidatePrefix).append(c.head).append(" ").append(address);
  result->sdp.append(" ").append(std::to_string(port)).append(c.tail).append(line.eol);
  ++result->rewritten;
}

// c= and m= lines: the default candidate follows the rewritten host
// candidates; anything else is copied.
void copy_or_rewrite_line(const TextLine& line, const OriginHostAddresses& origin, std::string_view address,
                          uint16_t port, std::string* out) {
  bool done = false;
  if (line.text.starts_with("c=")) done = rewrite_connection_line(line.text, origin, address, out);
  if (line.text.starts_with("m=")) done = rewrite_media_line(line.text, origin, port, out);
  if (!done) out->append(line.text);
  out->append(line.eol);
}

bool is_valid_address(std::string_view a) {
  return !a.empty() && std::all_of(a.begin(), a.end(), [](char c) {
           return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
         });
}

// The value of the session-level `prefix` attribute, else the first media
// section's; ICE credentials are found this way.
Result<std::string_view> find_ice_credential(std::string_view sdp, std::string_view prefix, size_t min_size) {
  std::string_view name = prefix.substr(0, prefix.size() - 1);
  if (!looks_like_sdp(sdp)) return Result<std::string_view>::Error(ErrorKind::bad_input, "not an SDP (no leading v=)");
  int media_sections = 0;
  while (!sdp.empty() && media_sections < 2) {
    std::string_view line = take_line(&sdp).text;
    if (line.starts_with("m=")) {
      ++media_sections;
      continue;
    }
    if (!line.starts_with(prefix)) continue;
    std::string_view value = trim_right(line.substr(prefix.size()));
    if (!is_ice_chars(value, min_size)) {
      return Result<std::string_view>::Error(
          ErrorKind::bad_input,
          "SDP " + std::string(name) + " is not " + std::to_string(min_size) + "..256 ICE characters");
    }
    return value;
  }
  return Result<std::string_view>::Error(ErrorKind::bad_input, "SDP has no " + std::string(name));
}

}  // namespace

Result<std::string_view> sdp_ice_ufrag(std::string_view sdp) { return find_ice_credential(sdp, kUfragPrefix, 4); }

Result<std::string_view> sdp_ice_pwd(std::string_view sdp) { return find_ice_credential(sdp, kPwdPrefix, 22); }

Result<SdpCandidateRewrite> rewrite_answer_candidates(std::string_view sdp, std::string_view address,
                                                      uint16_t port) {
  using R = Result<SdpCandidateRewrite>;
  if (!looks_like_sdp(sdp)) return R::Error(ErrorKind::bad_input, "answer is not an SDP (no leading v=)");
  if (!is_valid_address(address)) return R::Error(ErrorKind::bad_input, "candidate address is empty or has spaces");
  if (port == 0) return R::Error(ErrorKind::bad_input, "candidate port is 0");

  OriginHostAddresses origin = collect_host_addresses(sdp);
  SdpCandidateRewrite result;
  result.sdp.reserve(sdp.size() + 64);
  std::vector<std::string_view> components_seen;  // in the current media section
  while (!sdp.empty()) {
    TextLine line = take_line(&sdp);
    Candidate c;
    if (!line.text.starts_with(kCandidatePrefix)) {
      if (line.text.starts_with("m=")) components_seen.clear();
      copy_or_rewrite_line(line, origin, address, port, &result.sdp);
    } else if (parse_candidate(line.text, &c) && is_relayable(c)) {
      rewrite_candidate_line(c, line, address, port, &components_seen, &result);
    } else {
      ++result.dropped;  // the whole line goes, terminator included
    }
  }
  if (result.rewritten == 0) return R::Error(ErrorKind::bad_input, "answer has no usable candidate");
  return result;
}

}  // namespace sp
