// Cycle (module/cycle.h): a reload's new generation shares the sockets of the
// addresses that stay, and gets a socket of its own where the module asks for
// a reuseport group (SRT); the listener kinds come from the modules' tables.
#include "module/cycle.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace sp {
namespace {

// A port nothing listens on right now, on TCP and on UDP: the kernel picks a
// free UDP port and it is kept only if TCP can bind it too (parallel tests
// take ports between the two checks otherwise).
int free_port() {
  for (int attempt = 0; attempt < 50; attempt++) {
    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(u, reinterpret_cast<sockaddr*>(&a), &len);
    int t = ::socket(AF_INET, SOCK_STREAM, 0);
    bool both = ::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(t);
    ::close(u);
    if (both) return ntohs(a.sin_port);
  }
  return 0;
}

ino_t inode(int fd) {
  struct stat st{};
  fstat(fd, &st);
  return st.st_ino;
}

const Listener* find(const Cycle& c, const std::string& kind) {
  for (const Listener& l : c.listeners.items()) {
    if (l.kind == kind) return &l;
  }
  return nullptr;
}

TEST(Cycle, ReloadSharesSocketsAndGivesReuseportGroupsNewOnes) {
  std::string api = "127.0.0.1:" + std::to_string(free_port());
  std::string rtmp = "127.0.0.1:" + std::to_string(free_port());
  std::string srt = "127.0.0.1:" + std::to_string(free_port());
  std::string text = "system_api { listen " + api + "; } rtmp { listen " + rtmp + "; } srt { listen " + srt + "; }";
  LoadOptions o;
  o.apply_environment = false;
  auto first_conf = load_config_text(text, "t.conf", o);
  ASSERT_TRUE(first_conf.ok()) << first_conf.error();
  auto first = Cycle::create(*first_conf, nullptr);
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ((*first)->generation, 1);
  ASSERT_EQ((*first)->listeners.items().size(), 3u);
  const Listener* r1 = find(**first, "rtmp");
  const Listener* s1 = find(**first, "srt");
  ASSERT_TRUE(r1 && s1);
  EXPECT_FALSE(r1->udp);
  EXPECT_TRUE(s1->udp && s1->reuseport_group);

  auto next_conf = load_config_text(text, "t.conf", o);
  ASSERT_TRUE(next_conf.ok());
  auto next = Cycle::create(*next_conf, first->get());
  ASSERT_TRUE(next.ok()) << next.error();
  EXPECT_EQ((*next)->generation, 2);
  const Listener* r2 = find(**next, "rtmp");
  const Listener* s2 = find(**next, "srt");
  ASSERT_TRUE(r2 && s2);
  EXPECT_NE(r2->fd, r1->fd);
  EXPECT_EQ(inode(r2->fd), inode(r1->fd));  // the same socket: its accept queue never closes
  EXPECT_NE(inode(s2->fd), inode(s1->fd));  // a socket of its own in the group
  EXPECT_EQ(s2->conf.addr, s1->conf.addr);
}

}  // namespace
}  // namespace sp
