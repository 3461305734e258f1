// The master's side of keeping SRT sessions through a reload (the mechanism
// is described in srt/srt_steering.h).
//
// For every SRT listen address the master keeps one UDP socket per live
// generation -- its own duplicate, so the socket stays in the reuseport
// group until every process of that generation has exited -- in the order
// the kernel keeps the group (a socket joins at the end; when one leaves, the
// last takes its place). A generation is "serving" until its SRT worker has
// published the ids it keeps (after it stopped accepting), or exited; new
// callers go to the socket of the oldest serving generation, so during a
// reload they stay with the old worker until it has stopped accepting, and
// then go to the new one. After every change the program is rebuilt and
// attached to each group.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/unique_fd.h"
#include "process/listeners.h"
#include "srt/srt_steering.h"

namespace sp {

class SrtGroups {
 public:
  SrtGroups() = default;
  SrtGroups(const SrtGroups&) = delete;
  SrtGroups& operator=(const SrtGroups&) = delete;

  // The SRT sockets of `set` (already bound, so already in their groups)
  // belong to `generation`.
  void add_generation(int generation, const ListenerSet& set);
  // The SRT worker of `generation` stopped accepting and keeps sessions
  // with these destination ids.
  void published(int generation, std::vector<SrtIdRange> ranges);
  // The SRT worker of `generation` exited: nothing of it is left to steer to.
  void owner_exited(int generation);
  // Every process of `generation` exited: its sockets leave their groups.
  void retire(int generation);
  bool has(int generation) const { return gens_.count(generation) > 0; }
  std::vector<int> generations() const;
  // In a freshly forked child: close the master's duplicates (a child's
  // copy would keep a socket in its group after the master closed its own).
  void close_in_child();

 private:
  struct Member {
    int generation;
    UniqueFd fd;  // the master's duplicate
  };
  struct Generation {
    bool serving = true;
    std::vector<SrtIdRange> ranges;
  };

  void apply();
  void apply(const std::string& addr, const std::vector<Member>& members);

  std::map<std::string, std::vector<Member>> groups_;  // by listen address, in the kernel's order
  std::map<int, Generation> gens_;
};

}  // namespace sp
