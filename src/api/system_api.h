// The system API (served by the API worker with evhttp):
//   POST /api/v1/srs/register   origin registration / heartbeat
//   GET  /api/v1/versions       proxy version
//   GET  /api/v1/origins        every origin, alive or not, with pinned streams
//   GET  /api/v1/streams        stream key -> origin, client counts per protocol
//                               (and "hls": its live HLS sessions)
// Access: optional token (Authorization: Bearer, or ?token=) and allow/deny
// networks from `system_api { token; allow; deny; }`.
#pragma once

#include <event2/event.h>
#include <event2/http.h>

#include <memory>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "registry/registry.h"

namespace sp {

class SystemApi {
 public:
  SystemApi(event_base* base, const Config& conf, Registry& registry);
  ~SystemApi();
  // Serves on already-listening TCP sockets (opened by the master). The fds
  // stay owned by the caller.
  Status start(const std::vector<int>& listen_fds);
  // Graceful quit: stop accepting new connections; requests in flight finish.
  void stop_accepting();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sp
