// The `http_stream { }` (HTTP-FLV/TS, HLS, static files) and `http_api { }`
// (WHIP/WHEP signalling) blocks' configuration (directives in http_conf.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace sp {

constexpr uint32_t kCtxHttpStream = 1u << 5;
constexpr uint32_t kCtxHttpApi = 1u << 6;

struct HttpStreamConf : ModuleConfOf<HttpStreamConf> {
  AccessLogConf access_log;  // core/access_log.h; unset: the top-level one
  std::vector<ListenConf> listen;
  std::string ssl_certificate, ssl_certificate_key;
  std::string root;
  bool cors = true;
  int64_t connect_timeout_ms = 5 * 1000;
  int64_t idle_timeout_ms = 30 * 1000;
};

struct HttpApiConf : ModuleConfOf<HttpApiConf> {
  std::vector<ListenConf> listen;
  std::string ssl_certificate, ssl_certificate_key;
  bool cors = true;
  int64_t connect_timeout_ms = 5 * 1000;
  int64_t idle_timeout_ms = 30 * 1000;
};

}  // namespace sp
