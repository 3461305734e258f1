// Listening sockets. The master opens every listener (TCP and UDP) the
// modules' configurations ask for (ConfModule::listens) before it forks, and
// children inherit them. On reload the master reuses the open socket of
// every address that stays in the configuration, so the kernel's accept
// queue is never closed and no connection is refused. A listener marked
// `reuseport_group` (SRT) is the exception: each generation gets a new
// socket in the address's SO_REUSEPORT group (see srt/srt_steering.h and
// srt/srt_groups.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace sp {

struct Listener {
  std::string kind;  // the block that asked for it: "rtmp", "http_stream", ...
  bool udp = false;
  bool reuseport_group = false;  // a socket of its own per generation (ConfListen)
  ListenConf conf;
  int fd = -1;
};

// The listeners of one configuration generation.
class ListenerSet {
 public:
  ListenerSet() = default;
  ~ListenerSet();
  ListenerSet(ListenerSet&& o) noexcept : items_(std::move(o.items_)) { o.items_.clear(); }
  ListenerSet& operator=(ListenerSet&& o) noexcept;
  ListenerSet(const ListenerSet&) = delete;
  ListenerSet& operator=(const ListenerSet&) = delete;

  // Opens the listeners `conf` asks for. A socket of `previous` bound to the
  // same address and transport is duplicated instead of opened again (not
  // for a reuseport group: see above).
  static Result<ListenerSet> open(const Config& conf, const ListenerSet* previous);

  const std::vector<Listener>& items() const { return items_; }
  std::vector<int> fds(std::string_view kind) const;
  // Closes every socket (in a worker on graceful stop: stop accepting).
  void close_all();

 private:
  std::vector<Listener> items_;
};

}  // namespace sp
