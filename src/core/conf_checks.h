// Pure checks and rewrites of configuration values that the directive
// setters and validate() share: where a relative path in the file points,
// the webrtc candidate (with SRS's `$NAME` environment form), and which
// query parameters the log redacts. No I/O beyond getenv through a callback,
// so all of it is unit-tested (tests/unit/conf_checks_test.cpp).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sp {

// The directory of `conf_file` ("." for a bare name); relative paths in the
// configuration resolve against it, as nginx's do against its conf prefix.
std::string conf_dir_of(const std::string& conf_file);
// `path` made absolute against `dir`; absolute paths and "stderr" unchanged.
std::string resolve_against(const std::string& dir, const std::string& path);

// Looks a variable up; nullptr when unset.
using EnvLookup = std::function<const char*(const char*)>;

// The value of `candidate`: "$NAME" (or "${NAME}") is replaced by the
// environment variable NAME, which must be set; then the result must be an
// IPv4/IPv6 address or a host name, without a port, and not a wildcard.
Result<std::string> expand_candidate(std::string_view value, const EnvLookup& env);
Status check_candidate_host(std::string_view host);

// Query parameters whose values the log hides: a parameter is secret when its
// name contains one of `words` (case-insensitive). Returns `text` with each
// such `?name=value` / `&name=value` value replaced by "***".
std::string redact_query_values(std::string_view text, const std::vector<std::string>& words);
// The default words of `log_redact`.
const std::vector<std::string>& default_redact_words();

}  // namespace sp
