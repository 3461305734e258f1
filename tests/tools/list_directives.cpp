// srs-proxy-directives: a developer tool (not installed) that prints what the
// man pages describe, straight from the code, so the man-page test checks
// srs-proxy.conf(5) against the module tables and the registry layout instead
// of against a second hand-kept list. Keeping this out of main.cpp means the
// server grows no user-facing flag for it.
//
//   srs-proxy-directives            tab-separated "CONTEXT NAME SYNTAX DEFAULT"
//                                   lines, one per context a directive may be
//                                   written in (main, registry, rtmp, ...)
//   srs-proxy-directives SIZE ...   "SIZE origins streams sessions": how many
//                                   entries a `registry { size SIZE; }` holds
//   srs-proxy-directives key URL... "URL KEY": the stream key of an rtmp://
//                                   (tcUrl/stream) or http:// request URL
#include <cstdio>
#include <cstring>
#include <string_view>

#include "core/config.h"
#include "registry/registry.h"
#include "registry/stream_key.h"

namespace {

void list_directives() {
  for (const sp::ConfModule* module : sp::conf_modules()) {
    for (const sp::Directive& d : module->directives) {
      for (uint32_t bit = 1; bit != 0; bit <<= 1) {
        if (!(d.contexts & bit)) continue;
        printf("%s\t%s\t%s\t%s\n", sp::conf_context_name(bit), d.name, d.syntax, d.default_value);
      }
    }
  }
}

int print_capacity(const char* size_text) {
  auto size = sp::parse_size(size_text);
  if (!size.ok()) {
    fprintf(stderr, "srs-proxy-directives: %s: %s\n", size_text, size.error().c_str());
    return 1;
  }
  auto reg = sp::Registry::create(*size, sp::RegistryTtls{300 * 1000, 120 * 1000});
  if (!reg.ok()) {
    fprintf(stderr, "srs-proxy-directives: %s\n", reg.error().c_str());
    return 1;
  }
  sp::Registry::Capacity c = (*reg)->capacity();
  printf("%s\t%u\t%u\t%u\n", size_text, c.origins, c.streams, c.sessions);
  return 0;
}

// rtmp://HOST/APP[?Q]/STREAM splits at the last slash into tcUrl and stream
// name, as a client sends them; http://HOST/PATH into Host header and path.
int print_key(std::string_view url) {
  sp::Result<std::string> key = sp::Result<std::string>::Error("not an rtmp:// or http:// URL");
  if (url.starts_with("rtmp://")) {
    size_t slash = url.rfind('/');
    key = sp::stream_key_from_rtmp(url.substr(0, slash), url.substr(slash + 1));
  } else if (url.starts_with("http://")) {
    std::string_view rest = url.substr(strlen("http://"));
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos) key = sp::stream_key_from_http(rest.substr(0, slash), rest.substr(slash));
  }
  if (!key.ok()) {
    fprintf(stderr, "srs-proxy-directives: %.*s: %s\n", int(url.size()), url.data(), key.error().c_str());
    return 1;
  }
  printf("%.*s\t%s\n", int(url.size()), url.data(), key.value().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 1) {
    list_directives();
    return 0;
  }
  if (strcmp(argv[1], "key") == 0) {
    for (int i = 2; i < argc; i++) {
      if (print_key(argv[i]) != 0) return 1;
    }
    return 0;
  }
  for (int i = 1; i < argc; i++) {
    if (print_capacity(argv[i]) != 0) return 1;
  }
  return 0;
}
