// The WebRTC protocol as a worker Service: signalling on the http_api
// listeners (rtc_api.h) and the UDP media relay on the webrtc listeners
// (udp_relay.h, which also documents how sessions meet their worker).
#pragma once

#include "process/worker.h"

namespace sp {

Result<std::unique_ptr<Service>> make_webrtc_service(WorkerContext& ctx);

}  // namespace sp
