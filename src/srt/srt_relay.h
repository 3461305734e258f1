// One SRT session: the accepted caller socket and the proxy's own caller
// socket to the origin, relaying live-mode messages both ways until either
// side closes, the session idles out or the service stops.
//
// A relay is driven entirely by the SRT service's thread (see srt_service.h):
// that thread owns one libsrt epoll and hands each readiness event of either
// socket to on_event(). Nothing here blocks: both sockets are non-blocking,
// the origin connect completes through the epoll (OUT = connected, ERR =
// failed, with libsrt's rejection reason).
//
// Back-pressure: a message the far side's send buffer cannot take is kept
// (one per direction) and the near side is no longer read until it is
// written, so memory per session is bounded by libsrt's own buffers plus two
// messages. In live mode libsrt drops what is too late anyway (TLPKTDROP).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "srt/srt_conf.h"
#include "core/net_addr.h"
#include "registry/registry.h"
#include "srt/srt_handle.h"
#include "srt/srt_route.h"

namespace sp {

class SrtRelay {
 public:
  // `streamid` is the caller's (logged); `origin_streamid` the one sent to
  // the origin (with the proxy-loop marker, srt_streamid_for_origin()).
  SrtRelay(std::string ctx, SrtSocket client, std::string peer, SrtRoute route, std::string streamid,
           std::string origin_streamid, Pick pick, const SrtConf& conf, int64_t now_ms);
  ~SrtRelay();
  SrtRelay(const SrtRelay&) = delete;
  SrtRelay& operator=(const SrtRelay&) = delete;

  // Subscribes the client to `eid` and starts the non-blocking connect to
  // the origin. An error ends the session (the caller logs via finish()).
  Status start(int eid);

  // After the origin connect failed (origin_failed(), not relaying()):
  // closes the failed origin socket and connects to `pick` instead; the
  // caller waits on. An error ends the session, as from start().
  Status reconnect(Pick pick, int64_t now_ms);

  // One epoll event for client_sock() or origin_sock(). Returns false when
  // the session is over; reason() then says why.
  bool on_event(SRTSOCKET s, int events, int64_t now_ms);

  // Idle and origin-connect deadlines. False when the session must end.
  bool check_timers(int64_t now_ms);

  // Logs the end line (bytes, libsrt loss/retransmit counts, reason) and
  // closes both sockets. Called exactly once, by the service.
  void finish(const std::string& reason, int64_t now_ms);

  SRTSOCKET client_sock() const { return client_.sock.get(); }
  SRTSOCKET origin_sock() const { return origin_.sock.get(); }
  const std::string& ctx() const { return ctx_; }
  const std::string& key() const { return route_.key; }
  const std::string& reason() const { return reason_; }
  // True once the origin accepted the connection (the service then confirms
  // the stream's pin on origin_server() and reports the origin's success);
  // origin_failed(): the session ended because the origin did not answer
  // (Registry::report_failure).
  bool relaying() const { return relaying_; }
  bool origin_failed() const { return origin_failed_; }
  const std::string& origin_server() const { return pick_.origin.server; }
  const Pick& pick() const { return pick_; }
  const std::string& peer() const { return peer_; }
  int64_t start_ms() const { return start_ms_; }
  // Origins whose connect failed for this caller (the service's retry).
  std::vector<std::string>& origins_tried() { return tried_; }

 private:
  // One side of the relay. `pending` is a message read from the other side
  // that this side's send buffer could not take yet.
  struct Leg {
    SrtSocket sock;
    std::vector<char> pending;
    uint64_t bytes_in = 0;  // read from this side
    int subscribed = 0;     // epoll flags currently registered
    SRT_TRACEBSTATS stats{};  // last counters read from libsrt
    bool has_stats = false;
  };

  Status connect_origin();
  bool on_origin_connected(int64_t now_ms);
  // Moves messages from `from` to `to` until `from` is drained (or a bounded
  // batch is done) or `to` pushes back. False on a broken socket.
  bool pump(Leg& from, Leg& to, int64_t now_ms);
  bool flush(Leg& to);
  void update_subscriptions();
  void snapshot_stats(Leg& leg);
  void subscribe(Leg& leg, int flags);
  bool fail(std::string reason);
  std::string side_name(const Leg& leg) const { return &leg == &client_ ? "client" : "origin"; }

  std::string ctx_;
  std::string peer_;
  SrtRoute route_;
  std::string streamid_;
  std::string origin_streamid_;
  Pick pick_;
  const SrtConf& conf_;
  int eid_ = -1;
  Leg client_;
  Leg origin_;
  bool relaying_ = false;
  bool origin_failed_ = false;  // connect refused, rejected or timed out
  int64_t start_ms_;
  int64_t origin_start_ms_;  // the current origin connect began (reconnect)
  int64_t last_data_ms_;
  std::string reason_;
  std::vector<std::string> tried_;
};

// Applies the `srt { }` settings every hop shares (live mode, latencies,
// payload size, passphrase, non-blocking I/O) to a socket before it listens
// or connects; accepted sockets inherit them from the listener.
Status apply_srt_hop_options(SRTSOCKET s, const SrtConf& conf);

}  // namespace sp
