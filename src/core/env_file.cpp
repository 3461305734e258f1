// `.env` parsing, Go durations and the environment lookup: see env_file.h.
#include "core/env_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/text.h"

namespace sp {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool valid_name(std::string_view k) {
  if (k.empty() || (k[0] >= '0' && k[0] <= '9')) return false;
  for (char c : k) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// After a closing quote only blanks or a comment may follow.
bool only_comment(std::string_view rest) {
  rest = trim(rest);
  return rest.empty() || rest[0] == '#';
}

// The value part of a line (after `=`); false with *why on error.
bool parse_value(std::string_view v, std::string* out, std::string* why) {
  v = trim(v);
  if (v.empty()) return true;
  if (v[0] == '\'') {
    size_t close = v.find('\'', 1);
    if (close == std::string_view::npos) {
      *why = "unterminated single quote";
      return false;
    }
    if (!only_comment(v.substr(close + 1))) {
      *why = "unexpected text after the closing quote";
      return false;
    }
    *out = std::string(v.substr(1, close - 1));
    return true;
  }
  if (v[0] == '"') {
    for (size_t i = 1; i < v.size(); i++) {
      char c = v[i];
      if (c == '"') {
        if (!only_comment(v.substr(i + 1))) {
          *why = "unexpected text after the closing quote";
          return false;
        }
        return true;
      }
      if (c == '\\' && i + 1 < v.size()) {
        char e = v[++i];
        switch (e) {
          case 'n': out->push_back('\n'); break;
          case 'r': out->push_back('\r'); break;
          case 't': out->push_back('\t'); break;
          case '"':
          case '\\':
          case '$': out->push_back(e); break;
          default:  // not an escape: kept as written
            out->push_back('\\');
            out->push_back(e);
        }
        continue;
      }
      out->push_back(c);
    }
    *why = "unterminated double quote";
    return false;
  }
  // Unquoted: a blank followed by # starts a comment.
  for (size_t i = 1; i < v.size(); i++) {
    if (v[i] == '#' && is_blank(v[i - 1])) {
      v = trim(v.substr(0, i));
      break;
    }
  }
  *out = std::string(v);
  return true;
}

}  // namespace

Result<std::vector<EnvFileEntry>> parse_env_file(std::string_view text, std::string_view file_name) {
  std::vector<EnvFileEntry> out;
  std::string_view rest = text;
  int line_no = 0;
  while (!rest.empty()) {
    std::string_view line = trim(take_line(&rest).text);
    line_no++;
    auto fail = [&](const std::string& why) {
      return Status::Error(std::string(file_name) + ":" + std::to_string(line_no) + ": " + why);
    };
    if (line.empty() || line[0] == '#') continue;
    if (line.starts_with("export") && line.size() > 6 && is_blank(line[6])) line = trim(line.substr(6));
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return fail("expected KEY=VALUE");
    std::string_view key = trim(line.substr(0, eq));
    if (!valid_name(key)) return fail("invalid variable name \"" + std::string(key) + "\"");
    EnvFileEntry e{std::string(key), "", line_no};
    std::string why;
    if (!parse_value(line.substr(eq + 1), &e.value, &why)) return fail(why + " in the value of " + e.key);
    for (auto it = out.begin(); it != out.end(); ++it) {
      if (it->key == e.key) {
        out.erase(it);  // the last line of a key wins
        break;
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<int64_t> parse_go_duration_ns(std::string_view s) {
  const std::string orig(s);
  auto bad = [&](const char* why) { return Result<int64_t>::Error(std::string(why) + " in duration \"" + orig + "\""); };
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return int64_t(0);
  if (s.empty()) return bad("empty number");
  constexpr uint64_t kMax = uint64_t(INT64_MAX);
  bool bare = s.find_first_not_of("0123456789") == std::string_view::npos;
  uint64_t total = 0;
  while (!s.empty()) {
    // [digits][.digits] then a unit
    uint64_t whole = 0;
    bool whole_digits = false, overflow = false;
    while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
      if (whole > (kMax - (s[0] - '0')) / 10) overflow = true;
      else whole = whole * 10 + uint64_t(s[0] - '0');
      whole_digits = true;
      s.remove_prefix(1);
    }
    uint64_t frac = 0, scale = 1;
    bool frac_digits = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
        if (scale <= kMax / 10) {  // further digits cannot change a nanosecond count
          frac = frac * 10 + uint64_t(s[0] - '0');
          scale *= 10;
        }
        frac_digits = true;
        s.remove_prefix(1);
      }
    }
    if (!whole_digits && !frac_digits) return bad("expected a number");
    if (overflow) return bad("overflow");
    uint64_t unit = 0;
    static const struct {
      std::string_view name;
      uint64_t ns;
    } kUnits[] = {{"ns", 1},          {"us", 1000},           {"\xC2\xB5s", 1000},       {"\xCE\xBCs", 1000},
                  {"ms", 1000000},    {"s", 1000000000ull},   {"m", 60000000000ull},     {"h", 3600000000000ull}};
    if (bare) {
      unit = 1000000000ull;  // a bare number is seconds
    } else {
      size_t n = 0;
      while (n < s.size() && !(s[n] >= '0' && s[n] <= '9') && s[n] != '.') n++;
      std::string_view u = s.substr(0, n);
      if (u.empty()) return bad("missing unit");
      for (const auto& k : kUnits) {
        if (k.name == u) unit = k.ns;
      }
      if (!unit) return bad("unknown unit");
      s.remove_prefix(n);
    }
    if (whole > kMax / unit) return bad("overflow");
    uint64_t v = whole * unit;
    if (frac) {
      // frac/scale of a unit, in nanoseconds (scale <= 10^18, unit <= 3.6e12).
      long double part = static_cast<long double>(frac) * static_cast<long double>(unit) / static_cast<long double>(scale);
      v += uint64_t(part);
      if (v > kMax) return bad("overflow");
    }
    if (v > kMax - total) return bad("overflow");
    total += v;
    if (bare) break;
  }
  return neg ? -int64_t(total) : int64_t(total);
}

const EnvFileEntry* EnvSource::find(std::string_view name) const {
  for (const EnvFileEntry& e : entries_) {
    if (e.key == name) return &e;
  }
  return nullptr;
}

std::optional<EnvValue> EnvSource::get(std::string_view name) const {
  std::string key(name);
  if (const char* v = getenv(key.c_str())) {
    if (!*v) return std::nullopt;
    return EnvValue{v, "the environment"};
  }
  const EnvFileEntry* e = find(name);
  if (!e || e->value.empty()) return std::nullopt;
  return EnvValue{e->value, file_ + ":" + std::to_string(e->line)};
}

std::vector<EnvValue> EnvSource::unknown_keys(const std::function<bool(std::string_view)>& known) const {
  std::vector<EnvValue> out;
  for (const EnvFileEntry& e : entries_) {
    if (!known(e.key)) out.push_back(EnvValue{e.key, file_ + ":" + std::to_string(e.line)});
  }
  return out;
}

Result<EnvSource> load_env_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("open() \"" + path + "\" failed: " + strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  auto entries = parse_env_file(ss.str(), path);
  if (!entries.ok()) return entries.status();
  return EnvSource(path, std::move(*entries));
}

}  // namespace sp
