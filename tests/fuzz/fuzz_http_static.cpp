// Fuzz target: the static-file side of the HTTP stream listener: a request
// path that must never lead out of `root` and a Range header that must never
// name bytes past the file. Input: "path\nrange-header".
#include "fuzz_util.h"
#include "http/http_static.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = sp::fuzz::split_lines(sp::fuzz::as_text(data, size), 2);

  auto rel = sp::static_relative_path(p[0]);
  if (rel.ok()) {
    const std::string& r = rel.value();
    FUZZ_CHECK(!r.empty() && r.front() != '/');
    FUZZ_CHECK(r.find('\0') == std::string::npos && r.find('\\') == std::string::npos);
    // No ".." segment anywhere.
    std::string_view v = r;
    while (!v.empty()) {
      size_t slash = v.find('/');
      FUZZ_CHECK(v.substr(0, slash) != "..");
      if (slash == std::string_view::npos) break;
      v.remove_prefix(slash + 1);
    }
    (void)sp::mime_type_for(r);
  }

  for (uint64_t file_size : {uint64_t(0), uint64_t(1), uint64_t(1000), uint64_t(1) << 40}) {
    sp::ByteRange br = sp::parse_byte_range(p[1], file_size);
    if (br.kind == sp::ByteRange::kRange) FUZZ_CHECK(br.first <= br.last && br.last < file_size);
  }
  return 0;
}
