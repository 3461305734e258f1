// Listening sockets. The master opens every listener (TCP and UDP) before it
// forks, and children inherit them. On reload the master reuses the open
// socket of every address that stays in the configuration, so the kernel's
// accept queue is never closed and no connection is refused. SRT is the
// exception: each generation gets a new socket in the address's SO_REUSEPORT
// group (see srt/srt_steering.h and process/srt_groups.h).
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace sp {

enum class ListenerKind { system_api, rtmp, http_stream, http_api, webrtc, srt };
const char* listener_kind_name(ListenerKind k);
inline bool listener_is_udp(ListenerKind k) { return k == ListenerKind::webrtc || k == ListenerKind::srt; }

struct Listener {
  ListenerKind kind;
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
  // for SRT: see above).
  static Result<ListenerSet> open(const Config& conf, const ListenerSet* previous);

  const std::vector<Listener>& items() const { return items_; }
  std::vector<int> fds(ListenerKind kind) const;
  // Closes every socket (in a worker on graceful stop: stop accepting).
  void close_all();

 private:
  std::vector<Listener> items_;
};

}  // namespace sp
