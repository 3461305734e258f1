// Fuzz target: `.env` files named by env_file (KEY=VALUE lines, quotes,
// comments, the export prefix) and the Go durations of PROXY_* values
// ("1m30s", "1.5h").
#include <algorithm>
#include <string>

#include "core/env_file.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = sp::fuzz::as_text(data, size);

  auto entries = sp::parse_env_file(text, ".env");
  if (entries.ok()) {
    int lines = int(std::count(text.begin(), text.end(), '\n')) + 1;
    for (size_t i = 0; i < entries->size(); i++) {
      const sp::EnvFileEntry& e = (*entries)[i];
      FUZZ_CHECK(!e.key.empty() && e.line >= 1 && e.line <= lines);
      for (size_t j = i + 1; j < entries->size(); j++) FUZZ_CHECK((*entries)[j].key != e.key);
    }
  } else {
    FUZZ_CHECK(entries.error().rfind(".env:", 0) == 0);  // always names file:line
  }

  auto ns = sp::parse_go_duration_ns(text);
  if (ns.ok() && !text.empty() && text[0] != '-') FUZZ_CHECK(*ns >= 0);
  return 0;
}
