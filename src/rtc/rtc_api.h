// WebRTC signalling on the http_api listener (http/http_server.h, plain and
// `ssl` with the TLS context of http/tls.h):
// WHIP/WHEP (POST /rtc/v1/whip/, /rtc/v1/whep/, path forms), SRS's JSON
// signalling (POST /rtc/v1/publish/, /rtc/v1/play/), DELETE/PATCH on the
// resource URLs the proxy hands out, OPTIONS + CORS, GET /api/v1/versions.
//
// An offer is forwarded (path, query, content type, Authorization) to the
// `api` endpoint of the origin picked for the stream (an origin with both
// `api` and `rtc` endpoints); its answer comes back with every candidate
// rewritten to the proxy's `candidate` address and webrtc UDP port, and the
// session "answer-ufrag:offer-ufrag" is recorded in the shared registry for
// the UDP relay (udp_relay.h) of whichever worker reads the client's first
// binding request. An offer no origin answered (connect refused or failed)
// is sent to the origin the stream then moves to (the failed one is marked
// down), within http_api's connect_timeout, up to 3 origins, never one
// already tried. An origin's answer is read up to 16 KiB of head and
// 256 KiB of body (more is a 502), all of it within connect_timeout.
// Every request to an origin carries Via with this proxy
// appended; a request whose Via already names this proxy is a proxy loop
// and is answered 508 Loop Detected (core/proxy_loop.h).
//
// Registry look-ups (RegistryClient: the pick of an offer and of its
// retries, the session and its origin for DELETE/PATCH) may answer later
// (Redis). Meanwhile the request waits: HTTP/1.1 reads no further request
// on the connection before the answer, a client that leaves cancels the
// look-up and leaves nothing behind, and a look-up not answered within
// http_api's connect_timeout is given up. A look-up that fails for the
// registry (timeout, unavailable) is answered 503 with the reason.
#pragma once

#include <event2/event.h>

#include <memory>

#include "core/config.h"
#include "http/http_conf.h"
#include "core/connection_limiter.h"
#include "core/result.h"
#include "module/listeners.h"
#include "rtc/webrtc_conf.h"
#include "registry/registry_client.h"

namespace sp {

class RtcApi {
 public:
  // Signalling connections count against worker_connections (`limiter`).
  RtcApi(event_base* base, const Config& conf, RegistryClient& registry, ConnectionLimiter& limiter);
  ~RtcApi();
  RtcApi(const RtcApi&) = delete;
  RtcApi& operator=(const RtcApi&) = delete;

  // Serves every http_api listener of the set (the caller keeps its fds).
  Status start(const ListenerSet& listeners);
  void stop_accepting();
  // Signalling requests waiting for the registry or their origin.
  size_t active_requests() const;
  // Of those, the ones waiting for the registry.
  size_t waiting_for_registry() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sp
