// Keeping SRT sessions through a reload.
//
// libsrt reads its UDP socket itself and routes each datagram by the SRT
// destination socket id inside it, so one UDP socket can have one reader
// only. A reload, though, must leave the old generation's SRT sessions alone
// while the new generation takes new callers on the same port. So each
// generation gets a UDP socket of its own on the port, all of them in one
// SO_REUSEPORT group, and a classic BPF program attached to the group
// (SO_ATTACH_REUSEPORT_CBPF) steers every datagram:
//   - destination socket ids of a draining generation's live sessions go to
//     that generation's socket;
//   - everything else -- handshakes (destination id 0) and the sessions of
//     the serving generation -- goes to the serving generation's socket.
// libsrt gives socket ids from a per-process counter that starts at a random
// 30-bit value, so ids of two workers practically never meet; a draining
// worker publishes its live ids once it stops accepting (when it has more
// than fit, nearby ids are merged into ranges).
//
// Who does what:
//   - the master opens one socket per generation and SRT address, keeps a
//     copy of each until every process of that generation has exited,
//     mirrors the kernel's order of the group (the index a program returns),
//     and attaches the program after every change (SrtGroups in
//     process/srt_groups.*);
//   - a draining SRT worker writes its live ids to the SrtDrainBoard, a small
//     shared-memory area the master maps before forking, and sends the
//     master SIGUSR2 (SrtService).
// The program is pure data built here; the kernel interprets it.
#pragma once

#include <linux/filter.h>

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/result.h"

namespace sp {

// [first, last] destination socket ids, inclusive.
using SrtIdRange = std::pair<uint32_t, uint32_t>;

// The ranges sorted, overlapping or adjacent ones joined, and then, while
// there are more than `max_ranges` (at least 1), the two closest neighbours
// merged (a merged range may cover ids of no session: the price of fitting).
std::vector<SrtIdRange> srt_merge_ranges(std::vector<SrtIdRange> ranges, size_t max_ranges);

// The ids as at most `max_ranges` ranges, as srt_merge_ranges() does.
std::vector<SrtIdRange> srt_id_ranges(std::vector<uint32_t> ids, size_t max_ranges);

struct SrtSteeringTarget {
  uint32_t socket_index;  // position of the socket in the reuseport group
  std::vector<SrtIdRange> ranges;
};

// The classic BPF program for SO_ATTACH_REUSEPORT_CBPF: datagrams whose
// destination socket id (bytes 12..15 of the UDP payload, big-endian) falls
// in a target's ranges go to that target's socket, all others to
// `default_index`. Error when the ranges do not fit in BPF_MAXINSNS
// instructions (the caller merges them first: srt_steering_budget()).
Result<std::vector<sock_filter>> build_srt_steering(const std::vector<SrtSteeringTarget>& targets,
                                                    uint32_t default_index);

// How many ranges, in all, a program may hold.
constexpr size_t kSrtSteeringMaxRanges = 1900;  // 2 instructions each at most

// Attaches `program` to the reuseport group of the bound UDP socket `fd`.
Status attach_srt_steering(int fd, const std::vector<sock_filter>& program);

// Shared memory between the master and the SRT workers (MAP_SHARED, made by
// the master before the first fork). A draining worker takes a free note,
// fills it and marks it ready; the master reads ready notes when SIGUSR2
// arrives and frees them.
struct SrtDrainNote {
  static constexpr size_t kMaxRanges = 1024;
  std::atomic<int32_t> state{0};  // kFree, kWriting, kReady
  int32_t pid = 0;                // the worker that wrote it
  uint32_t count = 0;
  SrtIdRange ranges[kMaxRanges];
};

struct SrtDrainBoard {
  static constexpr int32_t kFree = 0, kWriting = 1, kReady = 2;
  static constexpr size_t kNotes = 8;
  SrtDrainNote notes[kNotes];

  // A new board in shared anonymous memory, or nullptr (errno set).
  static SrtDrainBoard* create();
  // Unmaps a board from create() (in this process; children keep theirs).
  static void destroy(SrtDrainBoard* board);
  // Worker: publishes `ranges` (at most SrtDrainNote::kMaxRanges; merge them
  // first) for `pid`; false when every note is taken (try again later).
  bool publish(int32_t pid, const std::vector<SrtIdRange>& ranges);
  // Master: every ready note as (pid, ranges); the notes are freed.
  std::vector<std::pair<int32_t, std::vector<SrtIdRange>>> collect();
};

}  // namespace sp
