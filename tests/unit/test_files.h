// Helpers for unit tests that read fixture files from the source tree
// (SP_SOURCE_DIR is set by tests/CMakeLists.txt).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace sp::testing {

// The bytes of SP_SOURCE_DIR/relative; a missing file fails the test.
inline std::string read_source_file(const std::string& relative) {
  std::ifstream in(std::string(SP_SOURCE_DIR "/") + relative, std::ios::binary);
  EXPECT_TRUE(in.good()) << relative;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// How many times `what` occurs in `text` (overlapping matches count).
inline size_t count_of(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace sp::testing
