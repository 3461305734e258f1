// Registration-time self-loop check: an origin whose endpoint is one of this
// proxy's own listeners (e.g. ip 127.0.0.1 + rtmp 1935 against a proxy on
// 1935) would make every client a chain of proxy-to-proxy sessions, so the
// system API refuses it. The matching is pure (listeners and local addresses
// are arguments); host_addresses() is the thin getifaddrs wrapper.
//
// An endpoint (the origin's `ip`, or the endpoint's own host, plus its port)
// is this proxy when a listener of the same transport (TCP: rtmp, http, api;
// UDP: srt, rtc) has that port and either the very address, or is a wildcard
// listener (0.0.0.0, and :: for both families) while the address is local:
// loopback (127.0.0.0/8, ::1) or an address of one of this host's interfaces.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/net_addr.h"
#include "core/result.h"
#include "registry/registry.h"

namespace sp {

struct OwnListener {
  SockAddr addr;
  bool udp = false;
  std::string what;  // "rtmp listener 127.0.0.1:1935", for messages
};

// Every listener of the configuration, of every module (conf_listens()).
std::vector<OwnListener> own_listeners(const Config& conf);

// Ok, or an error naming the endpoint field and the listener it would loop to.
Status check_self_loop(const OriginSpec& spec, std::span<const OwnListener> listeners,
                       std::span<const HostBytes> local_addresses);

// The addresses of this host's interfaces (getifaddrs); empty on failure
// (loopback is matched without them).
std::vector<HostBytes> host_addresses();

}  // namespace sp
