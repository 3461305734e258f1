// Tests for src/srt/srt_steering: id ranges, the BPF program, and the kernel
// steering datagrams with it through a real SO_REUSEPORT group on loopback --
// including the group's order after a member closes, which the master mirrors.
#include "srt/srt_steering.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstring>

namespace sp {
namespace {

using Ranges = std::vector<SrtIdRange>;

TEST(SrtSteeringTest, IdsBecomeSortedRanges) {
  EXPECT_EQ(srt_id_ranges({}, 10), Ranges{});
  EXPECT_EQ(srt_id_ranges({7, 3, 7, 4}, 10), (Ranges{{3, 4}, {7, 7}}));
  // Too many: the closest neighbours merge first.
  EXPECT_EQ(srt_id_ranges({10, 20, 1000, 1003, 5000}, 3), (Ranges{{10, 20}, {1000, 1003}, {5000, 5000}}));
  EXPECT_EQ(srt_id_ranges({10, 20, 1000, 1003, 5000}, 2), (Ranges{{10, 1003}, {5000, 5000}}));
  EXPECT_EQ(srt_id_ranges({10, 20, 1000}, 0), (Ranges{{10, 1000}}));
  // The counter wraps from 1 to 2^30-1: two clusters stay two ranges.
  EXPECT_EQ(srt_id_ranges({1, 2, 0x3FFFFFFE, 0x3FFFFFFF, 3}, 2), (Ranges{{1, 3}, {0x3FFFFFFE, 0x3FFFFFFF}}));
}

TEST(SrtSteeringTest, RangesMergeOverlapsAndKeepEveryId) {
  Ranges r = srt_merge_ranges({{50, 40}, {45, 60}, {61, 61}, {100, 200}, {150, 160}}, 10);
  EXPECT_EQ(r, (Ranges{{40, 61}, {100, 200}}));
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < 5000; ++i) ids.push_back(1000000 - i * 7);
  Ranges few = srt_id_ranges(ids, 64);
  EXPECT_LE(few.size(), 64u);
  for (uint32_t id : ids) {
    bool covered = false;
    for (auto [lo, hi] : few) covered |= lo <= id && id <= hi;
    ASSERT_TRUE(covered) << id;
  }
}

TEST(SrtSteeringTest, ProgramFitsTheKernelLimit) {
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < 3 * kSrtSteeringMaxRanges; ++i) ids.push_back(i * 3 + 1);  // no two adjacent
  SrtSteeringTarget a{1, srt_id_ranges(ids, kSrtSteeringMaxRanges)};
  auto prog = build_srt_steering({a}, 0);
  ASSERT_TRUE(prog.ok()) << prog.error();
  EXPECT_LE(prog->size(), size_t(BPF_MAXINSNS));
  // Unmerged, it does not fit, and says so.
  Ranges every;
  for (uint32_t id : ids) every.emplace_back(id, id);
  auto too_big = build_srt_steering({SrtSteeringTarget{1, every}}, 0);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.error().find("BPF instructions"), std::string::npos);
}

TEST(SrtSteeringTest, BoardPassesNotesFromWorkerToMaster) {
  SrtDrainBoard* board = SrtDrainBoard::create();
  ASSERT_NE(board, nullptr);
  EXPECT_TRUE(board->collect().empty());
  EXPECT_TRUE(board->publish(41, {{1, 2}, {9, 9}}));
  EXPECT_TRUE(board->publish(42, {}));
  auto notes = board->collect();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].first, 41);
  EXPECT_EQ(notes[0].second, (Ranges{{1, 2}, {9, 9}}));
  EXPECT_EQ(notes[1].first, 42);
  EXPECT_TRUE(board->collect().empty());  // freed
  for (size_t i = 0; i < SrtDrainBoard::kNotes; ++i) EXPECT_TRUE(board->publish(int32_t(i), {}));
  EXPECT_FALSE(board->publish(99, {}));  // full until the master collects
  EXPECT_EQ(board->collect().size(), SrtDrainBoard::kNotes);
}

// A reuseport group of UDP sockets on 127.0.0.1 and a client sending SRT-like
// datagrams with a chosen destination socket id.
class ReuseportGroup : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) socks_[i] = join();
    client_ = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(client_, 0);
  }
  void TearDown() override {
    for (int fd : socks_) {
      if (fd >= 0) close(fd);
    }
    close(client_);
  }

  int join() {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = port_;
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
    if (port_ == 0) {
      socklen_t len = sizeof(a);
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = a.sin_port;
    }
    return fd;
  }

  // Sends one datagram and returns which socket (0..2) got it, -1 if none.
  int deliver(uint32_t dest_id, size_t size = 64) {
    std::array<unsigned char, 64> pkt{};
    uint32_t be = htonl(dest_id);
    memcpy(&pkt[12], &be, 4);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = port_;
    EXPECT_EQ(sendto(client_, pkt.data(), size, 0, reinterpret_cast<sockaddr*>(&a), sizeof(a)), ssize_t(size));
    pollfd pfds[3];
    for (int i = 0; i < 3; ++i) pfds[i] = pollfd{socks_[i], POLLIN, 0};
    if (poll(pfds, 3, 2000) <= 0) return -1;
    int got = -1;
    for (int i = 0; i < 3; ++i) {
      if (!(pfds[i].revents & POLLIN)) continue;
      EXPECT_EQ(got, -1) << "one datagram, two sockets";
      got = i;
      char buf[64];
      recv(socks_[i], buf, sizeof(buf), 0);
    }
    return got;
  }

  void steer(const std::vector<SrtSteeringTarget>& targets, uint32_t default_index, int via) {
    auto prog = build_srt_steering(targets, default_index);
    ASSERT_TRUE(prog.ok()) << prog.error();
    Status st = attach_srt_steering(socks_[via], *prog);
    ASSERT_TRUE(st.ok()) << st.message();
  }

  std::array<int, 3> socks_{-1, -1, -1};
  int client_ = -1;
  in_port_t port_ = 0;
};

TEST_F(ReuseportGroup, DestinationIdsGoToTheirSocket) {
  steer({{1, {{100, 200}}}, {2, {{5000, 5000}, {7, 9}}}}, 0, 2);  // any member attaches for the group
  EXPECT_EQ(deliver(150), 1);
  EXPECT_EQ(deliver(100), 1);
  EXPECT_EQ(deliver(200), 1);
  EXPECT_EQ(deliver(201), 0);
  EXPECT_EQ(deliver(5000), 2);
  EXPECT_EQ(deliver(8), 2);
  EXPECT_EQ(deliver(0), 0);       // a handshake: the default socket
  EXPECT_EQ(deliver(150, 8), 0);  // too short for an id
  steer({{1, {{100, 200}}}}, 2, 0);
  EXPECT_EQ(deliver(0), 2);
  EXPECT_EQ(deliver(5000), 2);
  EXPECT_EQ(deliver(199), 1);
}

TEST_F(ReuseportGroup, ClosingAMemberMovesTheLastIntoItsPlace) {
  // The order SrtSteering mirrors: [s0, s1, s2] minus s0 is [s2, s1].
  close(socks_[0]);
  socks_[0] = -1;
  steer({{1, {{100, 200}}}}, 0, 1);
  EXPECT_EQ(deliver(150), 1);
  EXPECT_EQ(deliver(0), 2);
  // A member that joins now goes last: [s2, s1, s0'].
  socks_[0] = join();
  steer({{1, {{100, 200}}}, {2, {{300, 300}}}}, 0, 1);
  EXPECT_EQ(deliver(300), 0);
  EXPECT_EQ(deliver(150), 1);
  EXPECT_EQ(deliver(1), 2);
}

}  // namespace
}  // namespace sp
