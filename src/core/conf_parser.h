// Syntax of the configuration language, nginx-like:
//   name arg ...;        name arg ... { ... }        # comment to end of line
// Arguments may be quoted with '...' or "..." (escapes: \" \' \\ \n \t \r).
// `include PATTERN;` is expanded here (globs, relative to the including file),
// so the rest of the configuration code sees one tree of directives.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sp {

struct ConfDirective {
  std::string name;
  std::vector<std::string> args;
  bool has_block = false;
  std::vector<ConfDirective> block;
  std::string file;
  int line = 0;
};

// Reads a file, returns its text or an error message naming it.
using ConfFileReader = std::function<Result<std::string>(const std::string& path)>;
// Expands a glob (absolute path) to matching paths, sorted; an error if a
// pattern without wildcards names a missing file.
using ConfGlobber = std::function<Result<std::vector<std::string>>(const std::string& pattern)>;

struct ConfSource {
  ConfFileReader read;
  ConfGlobber glob;
};
// Real filesystem.
ConfSource filesystem_conf_source();

// Parses text; `file` is the name used in messages and the directory base for
// includes. Pure when `src` does no I/O (tests pass in-memory readers).
Result<std::vector<ConfDirective>> parse_conf(std::string_view text, const std::string& file,
                                              const ConfSource& src, int depth = 0);

}  // namespace sp
