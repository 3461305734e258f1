// One SRT session's relay: see srt_relay.h.
#include "srt/srt_relay.h"

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

SrtRelay::SrtRelay(std::string ctx, SrtSocket client, std::string peer, SrtRoute route,
                   std::string streamid, std::string origin_streamid, Pick pick, const SrtConf& conf,
                   int64_t now_ms)
    : ctx_(std::move(ctx)),
      peer_(std::move(peer)),
      route_(std::move(route)),
      streamid_(std::move(streamid)),
      origin_streamid_(std::move(origin_streamid)),
      pick_(std::move(pick)),
      conf_(conf),
      start_ms_(now_ms),
      origin_start_ms_(now_ms),
      last_data_ms_(now_ms) {
  client_.sock = std::move(client);
}

SrtRelay::~SrtRelay() = default;  // SrtSocket closes both sides

Status SrtRelay::start(int eid) {
  eid_ = eid;
  SP_INFO(ctx_, "srt session start: peer %s, streamid \"%s\", key %s, mode %s, origin %s %s:%u",
          peer_.c_str(), streamid_.c_str(), route_.key.c_str(), std::string(srt_mode_name(route_.id.mode)).c_str(),
          pick_.origin.server.c_str(), pick_.host.c_str(), unsigned(pick_.port));
  // Until the origin is connected only errors of the client matter; its
  // data waits in libsrt's receive buffer.
  subscribe(client_, SRT_EPOLL_ERR);
  return connect_origin();
}

Status SrtRelay::reconnect(Pick pick, int64_t now_ms) {
  origin_ = Leg{};  // srt_close(): also out of the epoll
  pick_ = std::move(pick);
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

bool SrtRelay::on_event(SRTSOCKET s, int events, int64_t now_ms) {
  const bool is_client = s == client_.sock.get();
  Leg& near = is_client ? client_ : origin_;
  Leg& far = is_client ? origin_ : client_;
  if (events & SRT_EPOLL_ERR) snapshot_stats(near);
  if (!is_client && !relaying_) {
    if (events & SRT_EPOLL_ERR || srt_getsockstate(s) != SRTS_CONNECTED) {
      int why = srt_getrejectreason(s);
      origin_failed_ = why < SRT_REJC_PREDEFINED;  // not a refusal by the origin's application
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
  relaying_ = true;
  last_data_ms_ = now_ms;
  SP_INFO(ctx_, "srt origin %s %s:%u connected after %lldms", pick_.origin.server.c_str(), pick_.host.c_str(),
          unsigned(pick_.port), (long long)(now_ms - start_ms_));
  update_subscriptions();
  // The caller may have sent while the origin connect was under way.
  return pump(client_, origin_, now_ms);
}

bool SrtRelay::pump(Leg& from, Leg& to, int64_t now_ms) {
  char buf[kMaxMessage];
  for (int i = 0; i < kBatch && to.pending.empty(); ++i) {
    int n = srt_recvmsg(from.sock.get(), buf, sizeof(buf));
    if (n == SRT_ERROR) {
      int err = srt_getlasterror(nullptr);
      if (would_block(err)) break;
      return fail(side_name(from) + " closed (" + srt_error_text() + ")");
    }
    if (n <= 0) break;
    from.bytes_in += uint64_t(n);
    last_data_ms_ = now_ms;
    int w = srt_sendmsg2(to.sock.get(), buf, n, nullptr);
    if (w != SRT_ERROR) continue;
    if (!would_block(srt_getlasterror(nullptr))) {
      return fail(side_name(to) + " closed (" + srt_error_text() + ")");
    }
    to.pending.assign(buf, buf + n);  // stop reading `from` until this is out
  }
  update_subscriptions();
  return true;
}

bool SrtRelay::flush(Leg& to) {
  if (to.pending.empty()) return true;
  int w = srt_sendmsg2(to.sock.get(), to.pending.data(), int(to.pending.size()), nullptr);
  if (w != SRT_ERROR) {
    to.pending.clear();
    return true;
  }
  if (would_block(srt_getlasterror(nullptr))) return true;
  return fail(side_name(to) + " closed (" + srt_error_text() + ")");
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
  SP_INFO(ctx_,
          "srt session end: peer %s, key %s, origin %s %s:%u, bytes client->origin %llu origin->client %llu, "
          "%lldms, client [%s], origin [%s], reason: %s",
          peer_.c_str(), route_.key.c_str(), pick_.origin.server.c_str(), pick_.host.c_str(), unsigned(pick_.port),
          (unsigned long long)client_.bytes_in, (unsigned long long)origin_.bytes_in,
          (long long)(now_ms - start_ms_), client_stats.c_str(), origin_stats.c_str(), reason.c_str());
  origin_.sock.reset();
  client_.sock.reset();
}

}  // namespace sp
