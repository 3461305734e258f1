/* Traffic tools for the WebRTC relay benchmark (bench/webrtc/run), in C so the
 * load generator and the reference forwarder are not the bottleneck:
 *
 *   udp_load send HOST PORT COUNT SIZE FIRST_FILE [PPS]   sends FIRST_FILE's
 *       bytes (a STUN binding request), waits 200 ms, then COUNT datagrams of
 *       SIZE bytes (RTP-like header) from the same socket, with sendmmsg; paced
 *       to PPS packets per second when given (0: as fast as possible).
 *   udp_load sink PORT            counts datagrams until 1 s of silence after the
 *       first; prints "packets SECONDS" (first to last datagram).
 *   udp_load forward PORT HOST DPORT   the reference: a minimal recvmmsg/sendmmsg
 *       loop relaying whatever arrives on PORT to HOST:DPORT, until SIGTERM.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 2048

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sockaddr_in addr_of(const char* host, int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, host, &a.sin_addr);
  return a;
}

static int udp_socket(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 1 << 20; /* as the proxy's session sockets */
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  if (port) {
    struct sockaddr_in a = addr_of("127.0.0.1", port);
    if (bind(fd, (struct sockaddr*)&a, sizeof(a)) != 0) {
      perror("bind");
      exit(1);
    }
  }
  return fd;
}

static int do_send(const char* host, int port, long count, int size, const char* first, double pps) {
  int fd = udp_socket(0);
  struct sockaddr_in to = addr_of(host, port);
  if (connect(fd, (struct sockaddr*)&to, sizeof(to)) != 0) return perror("connect"), 1;
  char stun[1024];
  FILE* f = fopen(first, "rb");
  if (!f) return perror(first), 1;
  size_t n = fread(stun, 1, sizeof(stun), f);
  fclose(f);
  send(fd, stun, n, 0);
  usleep(200 * 1000);
  static uint8_t data[BATCH][SLOT];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof(msgs));
  for (int i = 0; i < BATCH; i++) {
    memset(data[i], 0xab, size);
    data[i][0] = 0x80;  /* RTP version 2 */
    data[i][1] = 96;
    iov[i].iov_base = data[i];
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  long sent = 0;
  uint16_t seq = 0;
  double t0 = now_s();
  while (sent < count) {
    int k = count - sent < BATCH ? (int)(count - sent) : BATCH;
    for (int i = 0; i < k; i++) {
      seq++;
      data[i][2] = seq >> 8;
      data[i][3] = seq & 0xff;
    }
    int r = sendmmsg(fd, msgs, k, 0);
    if (r > 0) sent += r;
    if (pps > 0) {
      double ahead = t0 + sent / pps - now_s();
      if (ahead > 0) usleep((useconds_t)(ahead * 1e6));
    }
  }
  printf("%ld %.3f\n", sent, now_s() - t0);
  return 0;
}

/* One receive batch: BATCH slots of SLOT bytes, each message on its own. */
struct batch {
  uint8_t data[BATCH][SLOT];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
};

/* Sets up the process's one batch and tells the driver we are ready. */
static struct batch* ready_batch(void) {
  static struct batch b;
  memset(b.msgs, 0, sizeof(b.msgs));
  for (int i = 0; i < BATCH; i++) {
    b.iov[i].iov_base = b.data[i];
    b.iov[i].iov_len = SLOT;
    b.msgs[i].msg_hdr.msg_iov = &b.iov[i];
    b.msgs[i].msg_hdr.msg_iovlen = 1;
  }
  printf("ready\n");
  fflush(stdout);
  return &b;
}

static int do_sink(int port) {
  int fd = udp_socket(port);
  struct mmsghdr* msgs = ready_batch()->msgs;
  long packets = 0;
  double first = 0, last = 0;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, packets ? 1000 : 60000) <= 0) break;
    int r = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (r <= 0) continue;
    if (!packets) first = now_s();
    packets += r;
    last = now_s();
  }
  printf("%ld %.3f\n", packets, last - first);
  return 0;
}

static int do_forward(int port, const char* host, int dport) {
  int in = udp_socket(port);
  int out = udp_socket(0);
  struct sockaddr_in to = addr_of(host, dport);
  connect(out, (struct sockaddr*)&to, sizeof(to));
  struct batch* b = ready_batch();
  struct iovec* iov = b->iov;
  struct mmsghdr* msgs = b->msgs;
  for (;;) {
    for (int i = 0; i < BATCH; i++) iov[i].iov_len = SLOT;
    int r = recvmmsg(in, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (r <= 0) continue;
    for (int i = 0; i < r; i++) iov[i].iov_len = msgs[i].msg_len;
    sendmmsg(out, msgs, r, 0);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 7 && !strcmp(argv[1], "send")) {
    return do_send(argv[2], atoi(argv[3]), atol(argv[4]), atoi(argv[5]), argv[6], argc > 7 ? atof(argv[7]) : 0);
  }
  if (argc >= 3 && !strcmp(argv[1], "sink")) return do_sink(atoi(argv[2]));
  if (argc >= 5 && !strcmp(argv[1], "forward")) return do_forward(atoi(argv[2]), argv[3], atoi(argv[4]));
  fprintf(stderr, "usage: udp_load send HOST PORT COUNT SIZE FIRST_FILE | sink PORT | forward PORT HOST DPORT\n");
  return 2;
}
