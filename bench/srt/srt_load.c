// Many SRT sessions from one process, for bench/srt/run's memory figures
// (one srt-live-transmit per session would measure process start-up, not
// the proxy). Built by the bench with `cc ... -lsrt` (libsrt is already the
// proxy's dependency).
//
//   srt_load origin PORT
//     An SRT listener that accepts every caller and discards what it sends
//     (the proxy's origin). Prints "ready" once listening.
//   srt_load callers HOST PORT COUNT STREAMID_FORMAT PPS
//     Opens COUNT live-mode callers, the i-th with streamid
//     printf(STREAMID_FORMAT, i), prints "connected N" once all have
//     connected (N: how many did), then sends PPS 1316-byte messages a
//     second on each until stdin closes.
#include <srt/srt.h>

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int do_origin(int port) {
  SRTSOCKET lsn = srt_create_socket();
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int no = 0;
  srt_setsockflag(lsn, SRTO_RCVSYN, &no, sizeof(no));
  if (srt_bind(lsn, (struct sockaddr*)&sa, sizeof(sa)) == SRT_ERROR || srt_listen(lsn, 4096) == SRT_ERROR) {
    fprintf(stderr, "origin: %s\n", srt_getlasterror_str());
    return 1;
  }
  int eid = srt_epoll_create();
  int in = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  srt_epoll_add_usock(eid, lsn, &in);
  printf("ready\n");
  fflush(stdout);
  char buf[1500];
  SRT_EPOLL_EVENT ev[256];
  for (;;) {
    int n = srt_epoll_uwait(eid, ev, 256, 1000);
    for (int i = 0; i < n; i++) {
      if (ev[i].fd == lsn) {
        SRTSOCKET s = srt_accept(lsn, NULL, NULL);
        if (s != SRT_INVALID_SOCK) srt_epoll_add_usock(eid, s, &in);
        continue;
      }
      if (ev[i].events & SRT_EPOLL_ERR) {
        srt_close(ev[i].fd);
        continue;
      }
      while (srt_recvmsg(ev[i].fd, buf, sizeof(buf)) > 0) {
      }
    }
  }
}

static int do_callers(const char* host, int port, int count, const char* fmt, double pps) {
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, host, &sa.sin_addr);
  SRTSOCKET* socks = calloc(count, sizeof(SRTSOCKET));
  int connected = 0;
  for (int i = 0; i < count; i++) {
    char sid[512];
    snprintf(sid, sizeof(sid), fmt, i);
    socks[i] = srt_create_socket();
    srt_setsockflag(socks[i], SRTO_STREAMID, sid, (int)strlen(sid));
    if (srt_connect(socks[i], (struct sockaddr*)&sa, sizeof(sa)) == SRT_ERROR) {
      fprintf(stderr, "caller %d: %s\n", i, srt_getlasterror_str());
      srt_close(socks[i]);
      socks[i] = SRT_INVALID_SOCK;
      continue;
    }
    int no = 0;
    srt_setsockflag(socks[i], SRTO_SNDSYN, &no, sizeof(no));
    connected++;
  }
  printf("connected %d\n", connected);
  fflush(stdout);
  char msg[1316];
  memset(msg, 0xff, sizeof(msg));
  for (int off = 0; off < (int)sizeof(msg); off += 188) msg[off] = 0x47;
  struct pollfd stdin_fd = {0, POLLIN, 0};
  const int period_ms = pps > 0 ? (int)(1000.0 / pps) : 1000;
  for (;;) {
    if (poll(&stdin_fd, 1, period_ms) > 0) {
      char c;
      if (read(0, &c, 1) <= 0) break;  // stdin closed: done
    }
    for (int i = 0; i < count && pps > 0; i++) {
      if (socks[i] != SRT_INVALID_SOCK) srt_sendmsg(socks[i], msg, sizeof(msg), -1, 0);
    }
  }
  for (int i = 0; i < count; i++) {
    if (socks[i] != SRT_INVALID_SOCK) srt_close(socks[i]);
  }
  free(socks);
  return 0;
}

int main(int argc, char** argv) {
  srt_startup();
  srt_setloglevel(2);  // errors only (LOG_CRIT)
  if (argc >= 3 && !strcmp(argv[1], "origin")) return do_origin(atoi(argv[2]));
  if (argc >= 7 && !strcmp(argv[1], "callers")) {
    return do_callers(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5], atof(argv[6]));
  }
  fprintf(stderr, "usage: srt_load origin PORT | callers HOST PORT COUNT STREAMID_FORMAT PPS\n");
  return 2;
}
