// The environment of the original Go proxy, as srs-proxy reads it: a pure
// parser for `.env` files (KEY=VALUE lines, the forms the Go proxy's loader
// accepts), a parser for Go durations (time.ParseDuration's syntax), and
// EnvSource, which answers "what is PROXY_X and where did it come from"
// with the real environment winning over the file. Which variables exist and
// what they set is the table in core/config.cpp (apply_environment).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sp {

struct EnvFileEntry {
  std::string key;
  std::string value;
  int line = 0;  // 1-based
};

// Parses the text of a `.env` file. Accepted, one per line:
//   KEY=value              surrounding blanks trimmed
//   export KEY=value       the shell's `export ` prefix is dropped
//   KEY='raw value'        single quotes: taken literally
//   KEY="a\nb \"c\""       double quotes: \n \r \t \" \\ \$ are escapes
//   KEY=value # comment    unquoted: a blank then # starts a comment
//   KEY=                   an empty value
//   # comment, blank lines
// A line that is none of these (no `=`, a bad name, an unterminated quote,
// text after a closing quote) is an error naming FILE:LINE. A key given
// twice keeps its last value. No $VAR expansion.
Result<std::vector<EnvFileEntry>> parse_env_file(std::string_view text, std::string_view file_name);

// A Go duration as time.ParseDuration reads it ("300s", "1m30s", "1.5h",
// "-2m", "500ms", "0"; units ns us µs ms s m h), plus a bare number of
// seconds ("300"). Returns nanoseconds; errors on overflow (~292 years).
Result<int64_t> parse_go_duration_ns(std::string_view s);

// A variable's value and where it came from: "the environment" or FILE:LINE.
struct EnvValue {
  std::string value;
  std::string origin;
};

class EnvSource {
 public:
  EnvSource() = default;  // the real environment only
  EnvSource(std::string file, std::vector<EnvFileEntry> entries)
      : file_(std::move(file)), entries_(std::move(entries)) {}

  // nullopt when unset or empty. A variable present in the real environment
  // hides the file's line even when it is empty (as the Go proxy's loader,
  // which never overwrites a variable that exists).
  std::optional<EnvValue> get(std::string_view name) const;
  // Keys of the file that `known` does not accept (typos), with their origin.
  std::vector<EnvValue> unknown_keys(const std::function<bool(std::string_view)>& known) const;
  const std::string& file() const { return file_; }

 private:
  const EnvFileEntry* find(std::string_view name) const;
  std::string file_;
  std::vector<EnvFileEntry> entries_;
};

// Reads and parses `path` (absolute) into an EnvSource.
Result<EnvSource> load_env_file(const std::string& path);

}  // namespace sp
