// Fuzz target: configuration file text. load_config_text() is the whole path
// from text to a validated Config (lexer, directive tables, every module's
// value parsers); the environment is not applied so runs are reproducible.
// `include` is the one directive that touches the filesystem (an input could
// name /dev/zero), so inputs using it only go through parse_conf() with an
// in-memory source, where every include resolves to the same small file.
#include <string>

#include "core/conf_parser.h"
#include "core/config.h"
#include "fuzz_util.h"

namespace {

sp::ConfSource memory_source() {
  sp::ConfSource src;
  src.read = [](const std::string& path) {
    return sp::Result<std::string>(std::string("worker_processes 1;\nrtmp { listen 1935; }\n"));
  };
  src.glob = [](const std::string& pattern) {
    return sp::Result<std::vector<std::string>>(std::vector<std::string>{"/fuzz/a.conf", "/fuzz/b.conf"});
  };
  return src;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = sp::fuzz::as_text(data, size);
  if (text.find("include") != std::string_view::npos) {
    auto tree = sp::parse_conf(text, "/fuzz/fuzz.conf", memory_source());
    (void)tree;
    return 0;
  }
  sp::LoadOptions opts;
  opts.prefix = "/fuzz-prefix";
  opts.apply_environment = false;
  auto conf = sp::load_config_text(text, "/fuzz-prefix/conf/fuzz.conf", opts);
  if (conf.ok()) {
    std::string dump = sp::dump_config(conf.value());
    // The dump (-T) shows the text as loaded, with secrets (redis_password)
    // masked: a line of a secret directive differs from the input.
    FUZZ_CHECK(dump.find(sp::mask_secrets(text)) != std::string::npos);
  } else {
    FUZZ_CHECK(!conf.status().message().empty());
  }
  return 0;
}
