// The master's side of keeping SRT sessions through a reload (the mechanism
// is described in srt/srt_steering.h), plugged into the master as the SRT
// module's MasterHook (module/module.h): the master names no protocol.
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
#include "module/listeners.h"
#include "module/module.h"
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

// The SRT module's master-side state: the groups and the drain board the
// SRT worker publishes on (WorkerContext::hook in the workers).
class SrtMasterHook final : public MasterHook {
 public:
  SrtMasterHook();
  ~SrtMasterHook() override { SrtDrainBoard::destroy(board_); }  // unmaps it in this process only
  SrtMasterHook(const SrtMasterHook&) = delete;
  SrtMasterHook& operator=(const SrtMasterHook&) = delete;
  SrtDrainBoard* board() const { return board_; }

  void add_generation(int generation, const ListenerSet& listeners) override {
    groups_.add_generation(generation, listeners);
  }
  // Slot 0 of the protocol workers serves SRT.
  void old_child_exited(int generation, int roles, int slot) override {
    if (roles == kRoleProtocol && slot == 0) groups_.owner_exited(generation);
  }
  void retire(int generation) override { groups_.retire(generation); }
  std::vector<int> generations() const override { return groups_.generations(); }
  void collect_notes(const std::function<int(pid_t)>& generation_of) override;
  void close_in_child() override { groups_.close_in_child(); }

 private:
  SrtDrainBoard* board_;  // shared with the children; lives as long as the process
  SrtGroups groups_;
};

std::unique_ptr<MasterHook> make_srt_master_hook();

}  // namespace sp
