// The system API (served by the API worker on http/http_server.h):
//   POST /api/v1/srs/register   origin registration / heartbeat
//   GET  /api/v1/versions       proxy version, registry backend (Redis reachable?)
//   GET  /api/v1/origins        every origin, alive or not, with pinned streams
//   GET  /api/v1/streams        stream key -> origin, client counts per protocol
//                               (and "hls": its live HLS sessions)
//   POST /api/v1/origins/{server}/drain|undrain   no new streams / again
//   POST /api/v1/origins/{server}/weight          {"weight":N} or ?weight=N
//   DELETE /api/v1/origins/{server}               forget it (origin_remove_time)
// Access: optional token (Authorization: Bearer, or ?token=) and allow/deny
// networks from `system_api { token; allow; deny; }`.
#pragma once

#include <event2/event.h>

#include <memory>
#include <string>
#include <vector>

#include "api/api_conf.h"
#include "core/config.h"
#include "core/result.h"
#include "registry/registry_client.h"

namespace sp {

// One warning per system_api listener that clients off this host can reach
// (a wildcard or non-loopback address) while nothing restricts access: no
// token and no rule that denies everyone else (`deny all;`, or a /0). Empty
// when the API is safe. Logged by the master at start and on every reload.
std::vector<std::string> system_api_exposure_warnings(const SystemApiConf& conf);

class SystemApi {
 public:
  SystemApi(event_base* base, const Config& conf, RegistryClient& registry);
  ~SystemApi();
  // Serves on already-listening TCP sockets (opened by the master). The fds
  // stay owned by the caller.
  Status start(const std::vector<int>& listen_fds);
  // Graceful quit: stop accepting new connections; requests in flight finish,
  // idle keep-alive connections close.
  void stop_accepting();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sp
