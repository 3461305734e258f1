// Opening and reusing listening sockets: see listeners.h.
#include "module/listeners.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sp {

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

std::vector<int> ListenerSet::fds(std::string_view kind) const {
  std::vector<int> out;
  for (const Listener& l : items_) {
    if (l.kind == kind) out.push_back(l.fd);
  }
  return out;
}

namespace {

// `probe`: first make sure nothing at all is bound to the address, with a
// socket that asks for no sharing. A reuseport-group socket (SRT) must share
// its port with the other generations' (SO_REUSEPORT), and that option alone
// would let it join another process's group -- say a second srs-proxy of the
// same user -- instead of failing with "address in use".
Result<int> open_socket(const ListenConf& lc, bool udp, bool reuseport, bool probe) {
  if (probe) {
    auto opened = open_socket(lc, udp, false, false);  // without sharing options
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
  // Each generation has a socket of its own in one reuseport group (SRT: see
  // srt/srt_steering.h).
  if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return fail("setsockopt(SO_REUSEPORT)");
  }
  // [::]:P and 0.0.0.0:P are separate listeners, as in nginx.
  if (lc.addr.family() == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
    return fail("setsockopt(IPV6_V6ONLY)");
  }
  if (::bind(fd, lc.addr.sa(), lc.addr.len) != 0) return fail("bind()");
  if (!udp && ::listen(fd, lc.backlog) != 0) return fail("listen()");
  return fd;
}

}  // namespace

Result<ListenerSet> ListenerSet::open(const Config& conf, const ListenerSet* previous) {
  ListenerSet set;
  for (const ConfListen& want : conf_listens(conf)) {
    const ListenConf& lc = *want.conf;
    int fd = -1;
    // A reuseport group: a new socket in the address's group, never the old
    // one, so the old generation stays its only reader.
    if (previous && !want.reuseport_group) {
      for (const Listener& old : previous->items_) {
        if (old.reuseport_group) continue;
        if (old.udp == want.udp && old.conf.addr == lc.addr) {
          fd = fcntl(old.fd, F_DUPFD_CLOEXEC, 3);
          if (fd < 0) return Result<ListenerSet>::Error(std::string("dup() failed: ") + strerror(errno));
          // The socket is shared; a reload may change its backlog, which
          // listen() on a listening socket does (as nginx on a reload).
          if (!want.udp && old.conf.backlog != lc.backlog && ::listen(fd, lc.backlog) != 0) {
            std::string msg = "listen() with backlog=" + std::to_string(lc.backlog) + " on tcp " +
                              lc.addr.to_string() + " failed: " + strerror(errno);
            ::close(fd);
            return Result<ListenerSet>::Error(msg);
          }
          break;
        }
      }
    }
    // An address of the previous generation's group is in our own group: no probe.
    bool probe = want.reuseport_group;
    for (const Listener& old : previous ? previous->items_ : std::vector<Listener>{}) {
      if (old.reuseport_group && old.udp == want.udp && old.conf.addr == lc.addr) probe = false;
    }
    if (fd < 0) {
      auto opened = open_socket(lc, want.udp, want.reuseport_group, probe);
      if (!opened.ok()) return opened.status();
      fd = *opened;
    }
    set.items_.push_back(Listener{want.kind, want.udp, want.reuseport_group, lc, fd});
  }
  return set;
}

}  // namespace sp
