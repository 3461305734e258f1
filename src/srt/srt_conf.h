// The `srt { }` block's configuration (directives in srt_conf.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace sp {

constexpr uint32_t kCtxSrt = 1u << 8;

struct SrtConf : ModuleConfOf<SrtConf> {
  AccessLogConf access_log;  // core/access_log.h; unset: the top-level one
  std::vector<ListenConf> listen;  // UDP
  int64_t latency_ms = 120;
  int64_t peer_latency_ms = 120;
  std::string passphrase;
  int pbkeylen = 16;
  int64_t connect_timeout_ms = 3 * 1000;
  int64_t idle_timeout_ms = 10 * 1000;
  int payload_size = 1316;
};

}  // namespace sp
