// Self-loop check of registrations (see self_loop.h).
#include "api/self_loop.h"

#include <ifaddrs.h>

#include <algorithm>

#include "registry/endpoint.h"

namespace sp {

namespace {

bool proto_is_udp(Proto p) { return p == Proto::srt || p == Proto::rtc; }

bool is_local(const HostBytes& h, std::span<const HostBytes> local) {
  return h.is_loopback() || std::find(local.begin(), local.end(), h) != local.end();
}

bool listener_reaches(const OwnListener& l, const HostBytes& target, std::span<const HostBytes> local) {
  HostBytes lh = host_bytes(l.addr);
  if (lh == target) return true;
  if (!lh.is_unspecified() || !is_local(target, local)) return false;
  // 0.0.0.0 takes IPv4 only; :: (dual-stack unless v6only) is taken for both.
  return lh.family == AF_INET6 || target.family == AF_INET;
}

}  // namespace

std::vector<OwnListener> own_listeners(const Config& conf) {
  std::vector<OwnListener> out;
  for (const ConfListen& l : conf_listens(conf)) {
    out.push_back(OwnListener{l.conf->addr, l.udp, std::string(l.kind) + " listener " + l.conf->text});
  }
  return out;
}

Status check_self_loop(const OriginSpec& spec, std::span<const OwnListener> listeners,
                       std::span<const HostBytes> local_addresses) {
  for (int p = 0; p < kProtoCount; p++) {
    Proto proto = Proto(p);
    for (const Endpoint& ep : spec.endpoints[p]) {
      std::string host = endpoint_connect_host(ep, spec.ip);
      HostBytes target = host_bytes(host);
      if (target.family == 0) continue;  // the parser refuses these
      for (const OwnListener& l : listeners) {
        if (l.udp != proto_is_udp(proto) || l.addr.port() != ep.port) continue;
        if (!listener_reaches(l, target, local_addresses)) continue;
        std::string where = target.family == AF_INET6 ? "[" + host + "]" : host;
        return Status::Error(ErrorKind::bad_input, std::string("field \"") + proto_name(proto) + "\": endpoint " +
                                                       where + ":" + std::to_string(ep.port) +
                                                       (ep.host.empty() ? " (port with \"ip\")" : "") +
                                                       " is this proxy's own " + l.what +
                                                       "; refused as a self-loop (the proxy would relay to itself)");
      }
    }
  }
  return Status::Ok();
}

std::vector<HostBytes> host_addresses() {
  std::vector<HostBytes> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    HostBytes h = host_bytes(i->ifa_addr);
    if (h.family != 0) out.push_back(h);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace sp
