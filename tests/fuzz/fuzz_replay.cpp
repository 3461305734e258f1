// Runs every file of tests/fuzz/corpus/<target> and tests/fuzz/regressions/<target>
// through that target's entry point, in every build (no libFuzzer needed):
// the seeds are real traffic that must keep parsing without a crash, and a
// regression is an input that once crashed a fuzzer. One test per target.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#define SP_FUZZ_TARGET(name) extern "C" int sp_fuzz_##name(const uint8_t* data, size_t size);
#include "fuzz_targets.inc"
#undef SP_FUZZ_TARGET

namespace {

struct Target {
  const char* name;
  int (*entry)(const uint8_t*, size_t);
};

const Target kTargets[] = {
#define SP_FUZZ_TARGET(name) {#name, sp_fuzz_##name},
#include "fuzz_targets.inc"
#undef SP_FUZZ_TARGET
};

std::vector<std::filesystem::path> inputs_of(const std::string& target) {
  std::vector<std::filesystem::path> files;
  for (const char* dir : {"corpus", "regressions"}) {
    std::filesystem::path d = std::filesystem::path(SP_FUZZ_DIR) / dir / target;
    if (!std::filesystem::is_directory(d)) continue;
    for (const auto& e : std::filesystem::directory_iterator(d))
      if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// ctest -N and failures name the target, not the struct's bytes.
void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

class FuzzReplay : public testing::TestWithParam<Target> {};

TEST_P(FuzzReplay, CorpusAndRegressions) {
  const Target& t = GetParam();
  auto files = inputs_of(t.name);
  // Every target ships seeds; an empty list means a broken path, not a pass.
  ASSERT_FALSE(files.empty()) << "no corpus for " << t.name << " under " << SP_FUZZ_DIR;
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    std::ifstream in(f, std::ios::binary);
    std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    // A crash or a failed invariant aborts the binary: ctest names the test.
    EXPECT_EQ(t.entry(bytes.data(), bytes.size()), 0);
  }
  // Also the empty input, which libFuzzer always tries first.
  EXPECT_EQ(t.entry(nullptr, 0), 0);
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, testing::ValuesIn(kTargets),
                         [](const testing::TestParamInfo<Target>& info) { return std::string(info.param.name); });

}  // namespace
