// The `rtmp { }` block's configuration (directives in rtmp_conf.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "core/config.h"

namespace sp {

constexpr uint32_t kCtxRtmp = 1u << 4;

struct RtmpConf : ModuleConfOf<RtmpConf> {
  AccessLogConf access_log;  // core/access_log.h; unset: the top-level one
  std::vector<ListenConf> listen;
  uint32_t chunk_size = 4096;
  int64_t handshake_timeout_ms = 10 * 1000;
  int64_t connect_timeout_ms = 5 * 1000;
  int64_t idle_timeout_ms = 30 * 1000;
  // Before the origin accepted a client's publish/play: the largest message
  // and the partial messages it may make a session hold, and the sum over
  // one worker's unidentified sessions (rtmp/preconnect_budget.h).
  uint64_t preconnect_buffer = 64 * 1024;
  uint64_t preconnect_worker_buffer = 4 * 1024 * 1024;
};

}  // namespace sp
