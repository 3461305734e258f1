// The WebRTC protocol as a worker Service: signalling on the http_api
// listeners (rtc_api.h) and the UDP media relay on the webrtc listeners
// (udp_relay.h, which also documents how sessions meet their worker).
#pragma once

#include "module/module.h"

namespace sp {

// The WebRTC module (listed in src/modules.cpp).
extern const Module kWebrtcModule;

}  // namespace sp
