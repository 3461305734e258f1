// SRT reuseport groups in the master: see srt_groups.h.
#include "srt/srt_groups.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/log.h"

namespace sp {

void SrtGroups::add_generation(int generation, const ListenerSet& set) {
  bool any = false;
  for (const Listener& l : set.items()) {
    if (l.kind != "srt") continue;
    int fd = fcntl(l.fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      SP_PERROR("dup(srt %s) failed: %s; its sessions may not survive the next reload",
                l.conf.addr.to_string().c_str(), strerror(errno));
      continue;
    }
    groups_[l.conf.addr.to_string()].push_back(Member{generation, UniqueFd(fd)});
    any = true;
  }
  if (!any) return;
  gens_[generation] = Generation{};
  apply();
}

void SrtGroups::published(int generation, std::vector<SrtIdRange> ranges) {
  auto it = gens_.find(generation);
  if (it == gens_.end()) return;
  size_t sessions = ranges.size();
  it->second.serving = false;
  it->second.ranges = std::move(ranges);
  SP_PNOTICE("srt: generation %d stopped accepting, keeping its sessions (%zu id ranges); new callers go to "
             "the next generation", generation, sessions);
  apply();
}

void SrtGroups::owner_exited(int generation) {
  auto it = gens_.find(generation);
  if (it == gens_.end() || (!it->second.serving && it->second.ranges.empty())) return;
  it->second.serving = false;
  it->second.ranges.clear();
  apply();
}

void SrtGroups::retire(int generation) {
  if (gens_.erase(generation) == 0) return;
  for (auto it = groups_.begin(); it != groups_.end();) {
    std::vector<Member>& members = it->second;
    // As the kernel does: the last member takes the leaving one's place.
    for (size_t i = 0; i < members.size();) {
      if (members[i].generation != generation) {
        ++i;
        continue;
      }
      members[i] = std::move(members.back());  // closes the leaving one's socket
      members.pop_back();
    }
    it = members.empty() ? groups_.erase(it) : std::next(it);
  }
  apply();
}

std::vector<int> SrtGroups::generations() const {
  std::vector<int> out;
  for (const auto& [g, _] : gens_) out.push_back(g);
  return out;
}

void SrtGroups::close_in_child() {
  groups_.clear();
  gens_.clear();
}

void SrtGroups::apply() {
  for (const auto& [addr, members] : groups_) apply(addr, members);
}

void SrtGroups::apply(const std::string& addr, const std::vector<Member>& members) {
  // New callers: the oldest serving generation; with none serving (every SRT
  // worker here is draining), the newest.
  int default_gen = -1;
  for (const Member& m : members) {
    if (gens_[m.generation].serving && (default_gen < 0 || m.generation < default_gen)) default_gen = m.generation;
  }
  if (default_gen < 0) {
    for (const Member& m : members) default_gen = std::max(default_gen, m.generation);
  }
  std::vector<SrtSteeringTarget> targets;
  size_t keeping = 0;
  for (uint32_t i = 0; i < members.size(); ++i) {
    const Generation& g = gens_[members[i].generation];
    if (members[i].generation == default_gen || g.ranges.empty()) continue;
    targets.push_back(SrtSteeringTarget{i, g.ranges});
    keeping++;
  }
  // Within the kernel's limit, shared evenly.
  for (SrtSteeringTarget& t : targets) t.ranges = srt_merge_ranges(std::move(t.ranges), kSrtSteeringMaxRanges / keeping);
  uint32_t default_index = 0;
  for (uint32_t i = 0; i < members.size(); ++i) {
    if (members[i].generation == default_gen) default_index = i;
  }
  auto prog = build_srt_steering(targets, default_index);
  Status st = prog.ok() ? attach_srt_steering(members.front().fd.get(), *prog) : prog.status();
  if (!st.ok()) {
    SP_PERROR("srt %s: steering not updated, sessions of a draining generation may break: %s", addr.c_str(),
              st.message().c_str());
    return;
  }
  SP_PINFO("srt %s: %zu sockets, new callers to generation %d, %zu draining generations keep their sessions",
           addr.c_str(), members.size(), default_gen, keeping);
}

SrtMasterHook::SrtMasterHook() : board_(SrtDrainBoard::create()) {
  if (!board_) SP_PERROR("mmap(srt drain board) failed: %s; SRT sessions will not survive a reload", strerror(errno));
}

void SrtMasterHook::collect_notes(const std::function<int(pid_t)>& generation_of) {
  if (!board_) return;
  for (auto& [pid, ranges] : board_->collect()) {
    int generation = generation_of(pid);
    if (generation >= 0) groups_.published(generation, std::move(ranges));
  }
}

std::unique_ptr<MasterHook> make_srt_master_hook() { return std::make_unique<SrtMasterHook>(); }

}  // namespace sp
