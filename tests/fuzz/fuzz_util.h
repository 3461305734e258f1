// Helpers shared by the fuzz targets in this directory. Each fuzz_<name>.cpp
// defines LLVMFuzzerTestOneInput; built with libFuzzer it is a fuzzer
// (make fuzz), built plainly the symbol is renamed per target and the
// fuzz_replay test feeds it every file of corpus/<name> and regressions/<name>
// (see CMakeLists.txt here and ../CMakeLists.txt).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

namespace sp::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Splits at '\n' into exactly n parts (the last takes the rest), so text
// corpora stay readable: "host\napp\nstream".
inline std::vector<std::string_view> split_lines(std::string_view in, size_t n) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < n) {
    size_t nl = in.find('\n');
    if (nl == std::string_view::npos) break;
    parts.push_back(in.substr(0, nl));
    in.remove_prefix(nl + 1);
  }
  parts.push_back(in);
  while (parts.size() < n) parts.emplace_back();
  return parts;
}

// A property the code under test promises, beyond "does not crash": a
// violation aborts, which libFuzzer reports as a crash with its input.
[[noreturn]] inline void violated(const char* what, const char* file, int line) {
  fprintf(stderr, "fuzz invariant violated: %s at %s:%d\n", what, file, line);
  abort();
}

}  // namespace sp::fuzz

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) ::sp::fuzz::violated(#cond, __FILE__, __LINE__); \
  } while (0)
