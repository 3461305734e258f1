// SRT reuseport steering: see srt_steering.h.
#include "srt/srt_steering.h"

#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>

namespace sp {

namespace {

// Offset of the destination socket id in an SRT packet (data and control).
constexpr uint32_t kDestIdOffset = 12;
constexpr uint32_t kMinPacket = 16;
// Ranges per block: every jump to the block's return fits in 8 bits.
constexpr size_t kRangesPerBlock = 100;

sock_filter stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return sock_filter{code, jt, jf, k}; }

}  // namespace

std::vector<SrtIdRange> srt_merge_ranges(std::vector<SrtIdRange> ranges, size_t max_ranges) {
  for (auto& r : ranges) {
    if (r.first > r.second) std::swap(r.first, r.second);
  }
  std::sort(ranges.begin(), ranges.end());
  std::vector<SrtIdRange> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && uint64_t(r.first) <= uint64_t(merged.back().second) + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  max_ranges = std::max<size_t>(max_ranges, 1);
  if (merged.size() <= max_ranges) return merged;
  // Close the (size - max) smallest gaps between neighbours.
  std::vector<std::pair<uint32_t, size_t>> gaps;  // (gap, index of the range before it)
  for (size_t i = 0; i + 1 < merged.size(); ++i) gaps.emplace_back(merged[i + 1].first - merged[i].second, i);
  size_t close = merged.size() - max_ranges;
  std::nth_element(gaps.begin(), gaps.begin() + long(close - 1), gaps.end());
  std::vector<bool> join(merged.size(), false);
  for (size_t i = 0; i < close; ++i) join[gaps[i].second] = true;
  std::vector<SrtIdRange> out;
  for (size_t i = 0; i < merged.size(); ++i) {
    if (i > 0 && join[i - 1]) out.back().second = merged[i].second;
    else out.push_back(merged[i]);
  }
  return out;
}

std::vector<SrtIdRange> srt_id_ranges(std::vector<uint32_t> ids, size_t max_ranges) {
  std::vector<SrtIdRange> ranges;
  ranges.reserve(ids.size());
  for (uint32_t id : ids) ranges.emplace_back(id, id);
  return srt_merge_ranges(std::move(ranges), max_ranges);
}

Result<std::vector<sock_filter>> build_srt_steering(const std::vector<SrtSteeringTarget>& targets,
                                                    uint32_t default_index) {
  std::vector<sock_filter> prog;
  // Too short to carry a destination id: the default socket (libsrt drops it).
  prog.push_back(stmt(BPF_LD | BPF_W | BPF_LEN, 0));
  prog.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, kMinPacket, 1, 0));
  prog.push_back(stmt(BPF_RET | BPF_K, default_index));
  prog.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kDestIdOffset));
  for (const SrtSteeringTarget& t : targets) {
    for (size_t first = 0; first < t.ranges.size(); first += kRangesPerBlock) {
      size_t last = std::min(t.ranges.size(), first + kRangesPerBlock);
      std::vector<size_t> to_return;  // instructions whose jump lands on the block's return
      for (size_t i = first; i < last; ++i) {
        auto [lo, hi] = t.ranges[i];
        if (lo == hi) {
          to_return.push_back(prog.size());
          prog.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, lo, 0, 0));  // jt patched below
        } else {
          prog.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, lo, 0, 1));  // below lo: next range
          to_return.push_back(prog.size());
          prog.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, hi, 0, 0));  // above hi: next; else jf patched
        }
      }
      prog.push_back(stmt(BPF_JMP | BPF_JA, 1));  // in none of this block's ranges
      size_t ret = prog.size();
      prog.push_back(stmt(BPF_RET | BPF_K, t.socket_index));
      for (size_t at : to_return) {
        auto distance = uint8_t(ret - at - 1);
        if (prog[at].code == (BPF_JMP | BPF_JEQ | BPF_K)) prog[at].jt = distance;
        else prog[at].jf = distance;
      }
    }
  }
  prog.push_back(stmt(BPF_RET | BPF_K, default_index));
  if (prog.size() > BPF_MAXINSNS) {
    return Result<std::vector<sock_filter>>::Error("SRT steering needs " + std::to_string(prog.size()) +
                                                   " BPF instructions, more than " + std::to_string(BPF_MAXINSNS));
  }
  return prog;
}

Status attach_srt_steering(int fd, const std::vector<sock_filter>& program) {
  sock_fprog fprog{};
  fprog.len = static_cast<unsigned short>(program.size());
  fprog.filter = const_cast<sock_filter*>(program.data());
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof(fprog)) != 0) {
    return Status::Error(std::string("setsockopt(SO_ATTACH_REUSEPORT_CBPF): ") + strerror(errno));
  }
  return Status::Ok();
}

SrtDrainBoard* SrtDrainBoard::create() {
  void* mem = mmap(nullptr, sizeof(SrtDrainBoard), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  return new (mem) SrtDrainBoard();
}

void SrtDrainBoard::destroy(SrtDrainBoard* board) {
  if (!board) return;
  board->~SrtDrainBoard();
  munmap(board, sizeof(SrtDrainBoard));
}

bool SrtDrainBoard::publish(int32_t pid, const std::vector<SrtIdRange>& ranges) {
  for (SrtDrainNote& n : notes) {
    int32_t expected = kFree;
    if (!n.state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire)) continue;
    n.pid = pid;
    n.count = uint32_t(std::min(ranges.size(), SrtDrainNote::kMaxRanges));
    std::copy_n(ranges.begin(), n.count, n.ranges);
    n.state.store(kReady, std::memory_order_release);
    return true;
  }
  return false;
}

std::vector<std::pair<int32_t, std::vector<SrtIdRange>>> SrtDrainBoard::collect() {
  std::vector<std::pair<int32_t, std::vector<SrtIdRange>>> out;
  for (SrtDrainNote& n : notes) {
    if (n.state.load(std::memory_order_acquire) != kReady) continue;
    out.emplace_back(n.pid, std::vector<SrtIdRange>(n.ranges, n.ranges + n.count));
    n.state.store(kFree, std::memory_order_release);
  }
  return out;
}

}  // namespace sp
