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
//
// Latency. The proxy terminates SRT on both hops, and a libsrt receiver with
// timestamp-based packet delivery (TSBPD) holds every packet until its send
// time + the hop's latency: relayed that way, each stream would pay one whole
// latency window in the proxy on top of the one the end receiver applies.
// So the side the proxy receives the stream on delivers as received:
//   - that socket has SRTO_TSBPDMODE off (and with it SRTO_TLPKTDROP, which
//     needs TSBPD): libsrt hands a packet over once it and all before it are
//     there, retransmissions still recover losses on that hop, and nothing is
//     dropped for being late there;
//   - each message goes on with srt_sendmsg2() carrying its source time
//     (SRT_MSGCTRL::srctime, mapped to our clock by SrtSourceClock), so the
//     far hop's timestamps are the original ones and the end receiver's
//     TSBPD plays every packet at its original time + its latency, as if it
//     were connected to the origin directly: the stream's timing survives a
//     retransmission on the first hop, and that hop's delay is taken out of
//     the end receiver's latency budget, not added to it;
//   - libsrt then hands over a message sent without the in-order flag (the
//     usual live sender) as soon as it arrives, so a retransmitted one comes
//     after those sent behind it: SrtReorder restores sequence order;
//   - the side the proxy sends on keeps TSBPD (the flag is announced per
//     socket in the handshake; off, the end receiver would lose its TSBPD).
// Which socket receives follows the streamid's m= (SrtMode): publish, the
// caller's socket (set in the listen callback, before libsrt answers the
// handshake); request (the default), the origin's socket. A caller that
// publishes without m=publish still works, the old way: its hop's TSBPD
// holds each packet one latency in the proxy, and the origin hop delivers
// as received. libsrt signals a TSBPD-off socket readable only when it sends
// an ACK (every 10 ms), so the service also reads these sockets every 10 ms
// on its own clock (poll_received()), not only on that signal; see
// srt_service.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "srt/srt_conf.h"
#include "core/metrics.h"
#include "core/net_addr.h"
#include "registry/registry.h"
#include "srt/srt_handle.h"
#include "srt/srt_route.h"
#include "srt/srt_reorder.h"
#include "srt/srt_source_clock.h"

namespace sp {

class SrtRelay {
 public:
  // `streamid` is the caller's (logged); `origin_streamid` the one sent to
  // the origin (with the proxy-loop marker, srt_streamid_for_origin()).
  // The origin comes later, with start(): the registry is asked first.
  SrtRelay(std::string ctx, SrtSocket client, std::string peer, SrtRoute route, std::string streamid,
           std::string origin_streamid, const SrtConf& conf, int64_t now_ms);
  ~SrtRelay();
  SrtRelay(const SrtRelay&) = delete;
  SrtRelay& operator=(const SrtRelay&) = delete;

  // Subscribes the client to `eid` for errors only, so a caller that goes
  // away while the registry is asked is seen (any event then ends it);
  // its data waits in libsrt's receive buffer.
  void watch(int eid);
  // Starts the non-blocking connect to the picked origin (after watch()).
  // An error ends the session (the caller logs via finish()).
  Status start(Pick pick);
  // An origin was picked (start()): the service counts the caller as a
  // client of key() from then on.
  bool started() const { return started_; }

  // After the origin connect failed: closes the failed origin socket (out
  // of the epoll) while the registry is asked again; reconnect() follows.
  void close_origin();

  // After the origin connect failed (origin_failed(), not relaying()):
  // closes the failed origin socket and connects to `pick` instead; the
  // caller waits on. An error ends the session, as from start().
  Status reconnect(Pick pick, int64_t now_ms);

  // One epoll event for client_sock() or origin_sock(). Returns false when
  // the session is over; reason() then says why.
  bool on_event(SRTSOCKET s, int events, int64_t now_ms);

  // Idle and origin-connect deadlines. False when the session must end.
  bool check_timers(int64_t now_ms);

  // True while relaying with a side that delivers as received (TSBPD off);
  // the service then calls poll_received() every few milliseconds.
  bool delivers_early() const { return relaying_ && (client_.early || origin_.early); }
  // Moves what that side has received on, as on_event(IN) would; false when
  // the session is over (reason()).
  bool poll_received(int64_t now_ms);

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
    int64_t pending_srctime = 0;  // source time of `pending` (0: now)
    // This side is received with TSBPD off; `clock` maps its timestamps,
    // `order` puts its messages back in sequence order.
    bool early = false;
    SrtSourceClock clock;
    std::unique_ptr<SrtReorder> order;
    // Source times given to this side's srt_sendmsg2() are never before this
    // (srt_time_now() once connected: libsrt refuses a time before the
    // socket started, and the stamps must not go backwards).
    int64_t send_floor = 0;
    uint64_t bytes_in = 0;  // read from this side
    int subscribed = 0;     // epoll flags currently registered
    SRT_TRACEBSTATS stats{};  // last counters read from libsrt
    bool has_stats = false;
  };

  Status connect_origin();
  bool on_origin_connected(int64_t now_ms);
  // Moves messages from `from` to `to` until `from` is drained (or a bounded
  // batch is done) or `to` pushes back. False on a broken socket.
  // `polled`: from poll_received(), not an epoll event.
  bool pump(Leg& from, Leg& to, int64_t now_ms, bool polled = false);
  bool flush(Leg& to);
  // Sends `from`'s messages that are next in order to `to` until `to`
  // pushes back. False on a broken socket.
  bool pass_in_order(Leg& from, Leg& to);
  // `leg`'s socket has TSBPD off: its messages go through clock and order.
  void deliver_early(Leg& leg);
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
  bool started_ = false;
  metrics::SessionMeter meter_;  // core/metrics.h: from the constructor to finish()
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

// Makes `s` (not yet connected: before srt_connect(), or an accepted socket
// in the listen callback) the receiving side of a relay: SRTO_TSBPDMODE and
// SRTO_TLPKTDROP off, so it delivers as received (see "Latency" above).
Status srt_deliver_as_received(SRTSOCKET s);

}  // namespace sp
