// Opening and reusing listening sockets: see listeners.h.
#include "process/listeners.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sp {

const char* listener_kind_name(ListenerKind k) {
  switch (k) {
    case ListenerKind::system_api: return "system_api";
    case ListenerKind::rtmp: return "rtmp";
    case ListenerKind::http_stream: return "http_stream";
    case ListenerKind::http_api: return "http_api";
    case ListenerKind::webrtc: return "webrtc";
    case ListenerKind::srt: return "srt";
  }
  return "?";
}

ListenerSet::~ListenerSet() { close_all(); }

ListenerSet& ListenerSet::operator=(ListenerSet&& o) noexcept {
  if (this != &o) {
    close_all();
    items_ = std::move(o.items_);
    o.items_.clear();
  }
  return *this;
}

void ListenerSet::close_all() {
  for (Listener& l : items_) {
    if (l.fd >= 0) ::close(l.fd);
    l.fd = -1;
  }
  items_.clear();
}

std::vector<int> ListenerSet::fds(ListenerKind kind) const {
  std::vector<int> out;
  for (const Listener& l : items_) {
    if (l.kind == kind) out.push_back(l.fd);
  }
  return out;
}

namespace {

// `probe`: first make sure nothing at all is bound to the address, with a
// socket that asks for no sharing. An SRT socket must share its port with
// the other generations' (SO_REUSEPORT), and that option alone would let it
// join another process's group -- say a second srs-proxy of the same user --
// instead of failing with "address in use".
Result<int> open_socket(const ListenConf& lc, ListenerKind kind, bool probe) {
  bool udp = listener_is_udp(kind);
  if (probe) {
    auto opened = open_socket(lc, ListenerKind::webrtc, false);  // UDP without sharing options
    if (!opened.ok()) return opened;
    ::close(*opened);
  }
  int fd = ::socket(lc.addr.family(), (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto fail = [&](const char* what) {
    std::string msg = std::string(what) + " " + (udp ? "udp " : "tcp ") + lc.addr.to_string() +
                      " failed: " + strerror(errno);
    if (fd >= 0) ::close(fd);
    return Result<int>::Error(msg);
  };
  if (fd < 0) return fail("socket()");
  int one = 1;
  // TCP: rebind at once after a restart despite TIME_WAIT. Not for UDP, where
  // it would let a second process bind the same port without an error.
  if (!udp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return fail("setsockopt(SO_REUSEADDR)");
  }
  // Each generation has an SRT socket of its own in one reuseport group (see
  // srt/srt_steering.h).
  if (kind == ListenerKind::srt && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return fail("setsockopt(SO_REUSEPORT)");
  }
  // [::]:P and 0.0.0.0:P are separate listeners, as in nginx.
  if (lc.addr.family() == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
    return fail("setsockopt(IPV6_V6ONLY)");
  }
  if (::bind(fd, lc.addr.sa(), lc.addr.len) != 0) return fail("bind()");
  if (!udp && ::listen(fd, 511) != 0) return fail("listen()");
  return fd;
}

}  // namespace

Result<ListenerSet> ListenerSet::open(const Config& conf, const ListenerSet* previous) {
  const std::pair<ListenerKind, const std::vector<ListenConf>*> wanted[] = {
      {ListenerKind::system_api, &conf.system_api.listen}, {ListenerKind::rtmp, &conf.rtmp.listen},
      {ListenerKind::http_stream, &conf.http_stream.listen}, {ListenerKind::http_api, &conf.http_api.listen},
      {ListenerKind::webrtc, &conf.webrtc.listen},           {ListenerKind::srt, &conf.srt.listen},
  };
  ListenerSet set;
  for (const auto& [kind, list] : wanted) {
    for (const ListenConf& lc : *list) {
      bool udp = listener_is_udp(kind);
      int fd = -1;
      // SRT: a new socket in the address's reuseport group, never the old
      // one, so the old generation's libsrt stays its only reader.
      if (previous && kind != ListenerKind::srt) {
        for (const Listener& old : previous->items_) {
          if (old.kind == ListenerKind::srt) continue;
          if (listener_is_udp(old.kind) == udp && old.conf.addr == lc.addr) {
            fd = fcntl(old.fd, F_DUPFD_CLOEXEC, 3);
            if (fd < 0) return Result<ListenerSet>::Error(std::string("dup() failed: ") + strerror(errno));
            break;
          }
        }
      }
      // An SRT address the previous generation had is in our own group: no probe.
      bool probe = kind == ListenerKind::srt;
      for (const Listener& old : previous ? previous->items_ : std::vector<Listener>{}) {
        if (old.kind == ListenerKind::srt && old.conf.addr == lc.addr) probe = false;
      }
      if (fd < 0) {
        auto opened = open_socket(lc, kind, probe);
        if (!opened.ok()) return opened.status();
        fd = *opened;
      }
      set.items_.push_back(Listener{kind, lc, fd});
    }
  }
  return set;
}

}  // namespace sp
