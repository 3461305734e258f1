// One SRT session's relay: see srt_relay.h.
#include "srt/srt_relay.h"

#include <algorithm>

#include "core/access_log.h"
#include "core/log.h"

namespace sp {

namespace {

// Live-mode messages are at most one SRT payload (payload_size <= 1456).
constexpr int kMaxMessage = 1500;
// Messages moved per readiness event before other sockets get a turn; the
// epoll is level-triggered, so what is left is reported again at once.
constexpr int kBatch = 64;

bool would_block(int err) { return err == SRT_EASYNCRCV || err == SRT_EASYNCSND; }

std::string stats_text(const SRT_TRACEBSTATS& st) {
  char buf[160];
  snprintf(buf, sizeof(buf), "lost %d retrans %d dropped %d rtt %.1fms", st.pktRcvLossTotal, st.pktRetransTotal,
           st.pktRcvDropTotal + st.pktSndDropTotal, st.msRTT);
  return buf;
}

}  // namespace

// What the proxy does with each SRT option, and why:
//   SRTO_TRANSTYPE live: media, message by message (one message = one SRT
//     payload, relayed 1:1, so both hops use the same SRTO_PAYLOADSIZE).
//   SRTO_RCVSYN/SNDSYN off: the service's one thread waits in libsrt's epoll.
//   SRTO_RCVLATENCY (`latency`): the TSBPD window of a hop the proxy receives
//     with TSBPD on, which is only a caller publishing without m=publish;
//     normally the proxy receives with TSBPD off (srt_relay.h, "Latency").
//   SRTO_PEERLATENCY (`peer_latency`): the least latency the proxy asks of
//     whoever receives from it (the origin for a publisher, the player for a
//     player); that receiver's TSBPD window is the stream's one latency, so
//     set it like the origin's own latency to keep what a direct connection
//     would have. (The caller's own latency wish cannot be read on the hop
//     that has TSBPD off: libsrt negotiates latency only with TSBPD.)
//   SRTO_CONNTIMEO (`connect_timeout`): the origin connect.
//   SRTO_PASSPHRASE/PBKEYLEN: per hop, decrypted and encrypted again.
//   SRTO_TSBPDMODE/TLPKTDROP: off on the receiving side only
//     (srt_deliver_as_received), on (live mode's default) on the sending one.
Status apply_srt_hop_options(SRTSOCKET s, const SrtConf& conf) {
  const bool no = false;
  const int32_t live = SRTT_LIVE;
  const int32_t latency = int32_t(conf.latency_ms);
  const int32_t peer_latency = int32_t(conf.peer_latency_ms);
  const int32_t payload = conf.payload_size;
  const int32_t connect_ms = int32_t(conf.connect_timeout_ms);
  Status st;
  if (!(st = srt_set_option(s, SRTO_TRANSTYPE, live, "SRTO_TRANSTYPE")).ok()) return st;
  if (!(st = srt_set_option(s, SRTO_RCVSYN, no, "SRTO_RCVSYN")).ok()) return st;
  if (!(st = srt_set_option(s, SRTO_SNDSYN, no, "SRTO_SNDSYN")).ok()) return st;
  if (!(st = srt_set_option(s, SRTO_RCVLATENCY, latency, "SRTO_RCVLATENCY")).ok()) return st;
  if (!(st = srt_set_option(s, SRTO_PEERLATENCY, peer_latency, "SRTO_PEERLATENCY")).ok()) return st;
  if (!(st = srt_set_option(s, SRTO_PAYLOADSIZE, payload, "SRTO_PAYLOADSIZE")).ok()) return st;
  if (!(st = srt_set_option(s, SRTO_CONNTIMEO, connect_ms, "SRTO_CONNTIMEO")).ok()) return st;
  if (conf.passphrase.empty()) return Status::Ok();
  // Per hop: the proxy decrypts what the caller sends and encrypts again
  // toward the origin, each hop with its own key material.
  if (!(st = srt_set_string_option(s, SRTO_PASSPHRASE, conf.passphrase, "SRTO_PASSPHRASE")).ok()) return st;
  const int32_t keylen = conf.pbkeylen;
  return srt_set_option(s, SRTO_PBKEYLEN, keylen, "SRTO_PBKEYLEN");
}

Status srt_deliver_as_received(SRTSOCKET s) {
  const bool no = false;
  Status st = srt_set_option(s, SRTO_TSBPDMODE, no, "SRTO_TSBPDMODE");
  if (!st.ok()) return st;
  return srt_set_option(s, SRTO_TLPKTDROP, no, "SRTO_TLPKTDROP");
}

SrtRelay::SrtRelay(std::string ctx, SrtSocket client, std::string peer, SrtRoute route,
                   std::string streamid, std::string origin_streamid, const SrtConf& conf, int64_t now_ms)
    : ctx_(std::move(ctx)),
      peer_(std::move(peer)),
      route_(std::move(route)),
      streamid_(std::move(streamid)),
      origin_streamid_(std::move(origin_streamid)),
      conf_(conf),
      start_ms_(now_ms),
      origin_start_ms_(now_ms),
      last_data_ms_(now_ms) {
  client_.sock = std::move(client);
  // The listen callback turned TSBPD off for a publisher (srt_service.cpp).
  bool tsbpd = true;
  int len = sizeof(tsbpd);
  if (srt_getsockflag(client_.sock.get(), SRTO_TSBPDMODE, &tsbpd, &len) != SRT_ERROR && !tsbpd) {
    deliver_early(client_);
  }
  client_.send_floor = srt_time_now();
  meter_.begin(metrics::Protocol::srt, 0);
}

SrtRelay::~SrtRelay() = default;  // SrtSocket closes both sides

void SrtRelay::watch(int eid) {
  eid_ = eid;
  subscribe(client_, SRT_EPOLL_ERR);
}

Status SrtRelay::start(Pick pick) {
  pick_ = std::move(pick);
  started_ = true;
  meter_.set_origin(pick_.origin.slot, pick_.origin.server);
  SP_INFO(ctx_, "srt session start: peer %s, streamid \"%s\", key %s, mode %s, origin %s %s:%u",
          peer_.c_str(), streamid_.c_str(), route_.key.c_str(), std::string(srt_mode_name(route_.id.mode)).c_str(),
          pick_.origin.server.c_str(), pick_.host.c_str(), unsigned(pick_.port));
  // Until the origin is connected only errors of the client matter; its
  // data waits in libsrt's receive buffer (watch() subscribed them).
  subscribe(client_, SRT_EPOLL_ERR);
  return connect_origin();
}

void SrtRelay::close_origin() {
  origin_ = Leg{};  // srt_close(): also out of the epoll
}

Status SrtRelay::reconnect(Pick pick, int64_t now_ms) {
  origin_ = Leg{};  // srt_close(): also out of the epoll
  pick_ = std::move(pick);
  meter_.set_origin(pick_.origin.slot, pick_.origin.server);
  origin_failed_ = false;
  reason_.clear();
  origin_start_ms_ = now_ms;
  return connect_origin();
}

Status SrtRelay::connect_origin() {
  Result<SockAddr> addr = make_sock_addr(pick_.host, pick_.port);
  if (!addr.ok()) return Status::Error(ErrorKind::unavailable, "origin address: " + addr.error());
  origin_.sock.reset(srt_create_socket());
  if (!origin_.sock) return Status::Error(ErrorKind::unavailable, "srt_create_socket: " + srt_error_text());
  Status st = apply_srt_hop_options(origin_.sock.get(), conf_);
  if (!st.ok()) return st;
  // A player's stream comes from the origin: this side receives it.
  if (route_.id.mode != SrtMode::kPublish) {
    if (!(st = srt_deliver_as_received(origin_.sock.get())).ok()) return st;
    deliver_early(origin_);
  }
  if (!(st = srt_set_string_option(origin_.sock.get(), SRTO_STREAMID, origin_streamid_, "SRTO_STREAMID")).ok()) {
    return st;
  }
  // Subscribe before connecting so the completion cannot be missed.
  subscribe(origin_, SRT_EPOLL_OUT | SRT_EPOLL_ERR);
  if (srt_connect(origin_.sock.get(), addr->sa(), int(addr->len)) == SRT_ERROR) {
    origin_failed_ = true;
    return Status::Error(ErrorKind::unavailable, "connecting to origin: " + srt_error_text());
  }
  return Status::Ok();
}

void SrtRelay::deliver_early(Leg& leg) {
  leg.early = true;
  // A gap still open after the end receiver's latency would be too late
  // there; and at most kMaxHeld messages (~2.7 MB) wait behind one.
  constexpr size_t kMaxHeld = 2048;
  leg.order = std::make_unique<SrtReorder>(kMaxHeld, conf_.peer_latency_ms * 1000);
}

bool SrtRelay::on_event(SRTSOCKET s, int events, int64_t now_ms) {
  const bool is_client = s == client_.sock.get();
  Leg& near = is_client ? client_ : origin_;
  Leg& far = is_client ? origin_ : client_;
  if (events & SRT_EPOLL_ERR) snapshot_stats(near);
  if (!is_client && !relaying_) {
    if (events & SRT_EPOLL_ERR || srt_getsockstate(s) != SRTS_CONNECTED) {
      int why = srt_getrejectreason(s);
      origin_failed_ = why < SRT_REJC_PREDEFINED;  // not a refusal by the origin's application
      meter_.origin_connect(why == SRT_REJ_TIMEOUT ? metrics::ConnectResult::timeout : metrics::ConnectResult::refused, 0);
      return fail("origin connect failed: " + srt_reject_text(why));
    }
    return on_origin_connected(now_ms);
  }
  if (!relaying_) {  // client error while the origin connect is under way
    return fail("client closed before the origin answered");
  }
  if (events & SRT_EPOLL_OUT) {
    if (!flush(near)) return false;
  }
  if (events & SRT_EPOLL_IN) {
    if (!pump(near, far, now_ms)) return false;
  }
  if (events & SRT_EPOLL_ERR) {
    // Read what is left first (above), then report the close.
    return fail(side_name(near) + " closed");
  }
  update_subscriptions();
  return true;
}

bool SrtRelay::on_origin_connected(int64_t now_ms) {
  meter_.origin_connect(metrics::ConnectResult::ok, (now_ms - origin_start_ms_) * 1000);
  relaying_ = true;
  last_data_ms_ = now_ms;
  origin_.send_floor = srt_time_now();
  SP_INFO(ctx_, "srt origin %s %s:%u connected after %lldms, %s", pick_.origin.server.c_str(), pick_.host.c_str(),
          unsigned(pick_.port), (long long)(now_ms - start_ms_),
          client_.early   ? "caller's stream delivered as received"
          : origin_.early ? "origin's stream delivered as received"
                          : "both sides with TSBPD");
  update_subscriptions();
  // The caller may have sent while the origin connect was under way.
  return pump(client_, origin_, now_ms);
}

bool SrtRelay::pump(Leg& from, Leg& to, int64_t now_ms, bool polled) {
  char buf[kMaxMessage];
  if (from.order && !pass_in_order(from, to)) return false;
  int batch = kBatch;
  if (polled) {
    // Polled every few ms: ask first rather than have libsrt fail a read
    // (an exception inside libsrt, the dearest part of an idle poll). An
    // epoll event reads on until libsrt says there is no more, which also
    // clears its readiness.
    int32_t avail = 0;
    int len = sizeof(avail);
    if (srt_getsockflag(from.sock.get(), SRTO_RCVDATA, &avail, &len) != SRT_ERROR) batch = std::min(batch, int(avail));
  }
  // One arrival time for the batch: it is read in microseconds, and the
  // clock read per message showed in profiles.
  const int64_t now_us = from.order ? srt_time_now() : 0;
  for (int i = 0; i < batch && to.pending.empty(); ++i) {
    SRT_MSGCTRL in = srt_msgctrl_default;
    int n = srt_recvmsg2(from.sock.get(), buf, sizeof(buf), &in);
    if (n == SRT_ERROR) {
      int err = srt_getlasterror(nullptr);
      if (would_block(err)) break;
      return fail(side_name(from) + " closed (" + srt_error_text() + ")");
    }
    if (n <= 0) break;
    from.bytes_in += uint64_t(n);
    if (&from == &client_) meter_.client_in(uint64_t(n)), meter_.origin_out(uint64_t(n));
    else meter_.origin_in(uint64_t(n)), meter_.client_out(uint64_t(n));
    last_data_ms_ = now_ms;
    if (from.order) {
      // The whole batch goes through the reorder queue before any is sent:
      // a retransmitted message read together with the ones sent after it
      // gets its time from theirs (SrtReorder::pop).
      from.order->push(in.pktseq, buf, size_t(n), from.clock.local_time(in.srctime, now_us), now_us);
      continue;
    }
    SRT_MSGCTRL out = srt_msgctrl_default;
    int w = srt_sendmsg2(to.sock.get(), buf, n, &out);
    if (w != SRT_ERROR) continue;
    if (!would_block(srt_getlasterror(nullptr))) {
      return fail(side_name(to) + " closed (" + srt_error_text() + ")");
    }
    to.pending.assign(buf, buf + n);  // stop reading `from` until this is out
    to.pending_srctime = out.srctime;
  }
  if (from.order && !pass_in_order(from, to)) return false;
  update_subscriptions();
  return true;
}

bool SrtRelay::pass_in_order(Leg& from, Leg& to) {
  SrtReorder::Message m;
  const int64_t now_us = srt_time_now();
  while (to.pending.empty() && from.order->pop(&m, now_us)) {
    // Never before the last one sent: the next hop's timestamps go forward.
    SRT_MSGCTRL out = srt_msgctrl_default;
    out.srctime = std::max(m.srctime, to.send_floor);
    to.send_floor = out.srctime;
    int w = srt_sendmsg2(to.sock.get(), m.data.data(), int(m.data.size()), &out);
    if (w != SRT_ERROR) continue;
    if (!would_block(srt_getlasterror(nullptr))) {
      return fail(side_name(to) + " closed (" + srt_error_text() + ")");
    }
    to.pending = std::move(m.data);  // stop reading `from` until this is out
    to.pending_srctime = out.srctime;
  }
  return true;
}

bool SrtRelay::flush(Leg& to) {
  if (to.pending.empty()) return true;
  SRT_MSGCTRL out = srt_msgctrl_default;
  out.srctime = to.pending_srctime;
  int w = srt_sendmsg2(to.sock.get(), to.pending.data(), int(to.pending.size()), &out);
  if (w != SRT_ERROR) {
    to.pending.clear();
    return true;
  }
  if (would_block(srt_getlasterror(nullptr))) return true;
  return fail(side_name(to) + " closed (" + srt_error_text() + ")");
}

bool SrtRelay::poll_received(int64_t now_ms) {
  if (!relaying_) return true;
  // As update_subscriptions(): a side is read only while the other side has
  // nothing pending.
  if (client_.early && origin_.pending.empty() && !pump(client_, origin_, now_ms, true)) return false;
  if (origin_.early && client_.pending.empty() && !pump(origin_, client_, now_ms, true)) return false;
  return true;
}

void SrtRelay::update_subscriptions() {
  if (!relaying_) return;
  // Read a side only while the other side has no pending message; wait for
  // writability only while there is something pending.
  const int in = SRT_EPOLL_IN, out = SRT_EPOLL_OUT, err = SRT_EPOLL_ERR;
  subscribe(client_, err | (origin_.pending.empty() ? in : 0) | (client_.pending.empty() ? 0 : out));
  subscribe(origin_, err | (client_.pending.empty() ? in : 0) | (origin_.pending.empty() ? 0 : out));
}

void SrtRelay::subscribe(Leg& leg, int flags) {
  if (!leg.sock || leg.subscribed == flags) return;
  if (leg.subscribed == 0) srt_epoll_add_usock(eid_, leg.sock.get(), &flags);
  else srt_epoll_update_usock(eid_, leg.sock.get(), &flags);
  leg.subscribed = flags;
}

bool SrtRelay::fail(std::string reason) {
  if (reason_.empty()) reason_ = std::move(reason);
  return false;
}

void SrtRelay::snapshot_stats(Leg& leg) {
  SRT_TRACEBSTATS st{};
  if (leg.sock && srt_bstats(leg.sock.get(), &st, 0) != SRT_ERROR) {
    leg.stats = st;
    leg.has_stats = true;
  }
}

bool SrtRelay::check_timers(int64_t now_ms) {
  // libsrt forgets a broken socket's counters soon after the peer is gone,
  // so keep the latest ones for the end line.
  snapshot_stats(client_);
  snapshot_stats(origin_);
  if (!relaying_) {
    // libsrt enforces SRTO_CONNTIMEO; this is the backstop if it never says.
    if (now_ms - origin_start_ms_ <= conf_.connect_timeout_ms + 1000) return true;
    origin_failed_ = true;
    meter_.origin_connect(metrics::ConnectResult::timeout, 0);
    return fail("origin connect timed out");
  }
  if (conf_.idle_timeout_ms > 0 && now_ms - last_data_ms_ > conf_.idle_timeout_ms) {
    return fail("idle for " + std::to_string(conf_.idle_timeout_ms) + "ms");
  }
  return true;
}

void SrtRelay::finish(const std::string& reason, int64_t now_ms) {
  snapshot_stats(client_);
  snapshot_stats(origin_);
  std::string client_stats = client_.has_stats ? stats_text(client_.stats) : "no stats";
  std::string origin_stats = origin_.has_stats ? stats_text(origin_.stats) : "no stats";
  // Messages of an as-received side never received (a gap given up) or
  // received too late for their turn.
  for (Leg* leg : {&client_, &origin_}) {
    if (!leg->order) continue;
    (leg == &client_ ? client_stats : origin_stats) +=
        " unrecovered " + std::to_string(leg->order->skipped() + leg->order->dropped());
  }
  SP_INFO(ctx_,
          "srt session end: peer %s, key %s, origin %s %s:%u, bytes client->origin %llu origin->client %llu, "
          "%lldms, client [%s], origin [%s], reason: %s",
          peer_.c_str(), route_.key.c_str(), started_ ? pick_.origin.server.c_str() : "-",
          started_ ? pick_.host.c_str() : "-", unsigned(pick_.port),
          (unsigned long long)client_.bytes_in, (unsigned long long)origin_.bytes_in,
          (long long)(now_ms - start_ms_), client_stats.c_str(), origin_stats.c_str(), reason.c_str());
  SessionRecord r;
  r.ctx = ctx_;
  r.client = peer_;
  r.stream_key = route_.key;
  r.origin = started_ ? std::string_view(pick_.origin.server) : std::string_view();
  r.bytes_in = client_.bytes_in;
  r.bytes_out = origin_.bytes_in;
  r.duration_ms = now_ms - start_ms_;
  r.reason = metrics::classify_end(reason);
  r.reason_text = reason;
  end_session(meter_, r);
  origin_.sock.reset();
  client_.sock.reset();
}

}  // namespace sp
