// The `webrtc { }` block's configuration (directives in webrtc_conf.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace sp {

constexpr uint32_t kCtxWebrtc = 1u << 7;

struct WebrtcConf : ModuleConfOf<WebrtcConf> {
  AccessLogConf access_log;  // core/access_log.h; unset: the top-level one
  std::vector<ListenConf> listen;  // UDP
  std::string candidate;
  int64_t idle_timeout_ms = 30 * 1000;
};

}  // namespace sp
