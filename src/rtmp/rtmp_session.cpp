// RTMP proxy session (see rtmp_session.h for the life of a session).
//
// Notes on the choices made here:
// - The client only ever talks to the proxy until publish/play: we answer
//   connect, releaseStream, FCPublish, createStream, ... ourselves, because the
//   origin is not known before the stream name is. Then the origin gets the
//   client's own connect object (tcUrl, app, flashVer, ...), the
//   releaseStream/FCPublish it sent, createStream, and the client's publish or
//   play command byte for byte (name with ?params, start/duration/reset), so
//   the origin sees what it would have seen without the proxy, plus one
//   connect property, srsProxyVia (the proxy-loop marker, core/proxy_loop.h):
//   a connect that already lists this proxy is rejected with
//   NetConnection.Connect.Rejected before any origin is picked.
// - While the origin is being set up the client is not read: its next
//   messages (metadata, SetBufferLength, ...) wait in the socket or in the
//   chunk reader and are relayed once the origin said yes. While the
//   registry is asked (State::registry_wait, see rtmp_session.h) the client
//   is read into its chunk reader only, within the preconnect limits, so
//   its going away is seen and cancels the look-up.
// - Per hop: Set Chunk Size / Abort (applied by ChunkReader), Window Ack Size
//   and Acks, Set Peer Bandwidth and pings stay on the hop they arrived on.
//   Stream-level user control events (StreamBegin, EOF, SetBufferLength...) and
//   everything else cross, with the message stream id mapped.
// - Large payloads are queued by reference (evbuffer_add_reference) into the
//   output buffer; only the few bytes of each chunk header are copied.
// - While relaying, audio and video are not reassembled: each side's chunk
//   reader hands them out chunk by chunk (ChunkReader::set_streamed_types)
//   and the other side's writer re-chunks them at once (write_piece), so a
//   session holds at most a chunk per direction instead of a whole
//   (key)frame. The chunk size toward each peer stays the configured
//   chunk_size, announced once before any media: pieces larger than it are
//   cut, smaller ones wait in the writer until they fill a chunk, so what
//   a session holds per chunk stream is bounded by chunk_size (4096 by
//   default). Following the sender's size instead would change the chunk
//   size in mid-stream, which nginx-rtmp (as an origin) mis-reads when
//   more bytes than the new size follow in one read.
// - Socket I/O is done by hand rather than with bufferevents, because this
//   is the hot path of a fan-out: one recv() per readiness into a buffer
//   shared by the worker (no FIONREAD ioctl, no per-connection input buffer),
//   and output written with writev() as soon as a batch of input has been
//   processed; the write event is registered only while a socket is full, so
//   a relay that keeps up costs no epoll_ctl calls.
// - Back-pressure: past kHighWater bytes queued toward one side we stop
//   reading the other, and resume once the queue is below kLowWater. One read
//   is at most kMaxSingleRead, so memory per session stays around kHighWater
//   + kMaxSingleRead + the chunk reader's partial messages.
// - Until the origin accepted its publish/play the client is a stranger: its
//   chunk reader may hold at most `preconnect_buffer` (one message no larger,
//   all partial messages and the decoded commands kept for the origin
//   together no more), those bytes are charged to the worker's
//   `preconnect_worker_buffer` (preconnect_budget.h), its commands are
//   decoded only up to 16 KiB, and replies it does not read may not pile up
//   past preconnect_buffer. Breaking a rule ends the session at once, with a
//   log line naming the peer.
// - Closing is graceful for ordinary ends (flush what is queued, FIN, then
//   read and discard until the peer's EOF, at most kCloseMs) so an error
//   status reaches the client before the connection goes away; bad input
//   ends the session at once.
#include "rtmp/rtmp_session.h"

#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>

#include "core/access_log.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/proxy_loop.h"
#include "registry/stream_key.h"

namespace sp::rtmp {
namespace {

constexpr uint32_t kWindowAckSize = 2500000;
// A player that stops reading costs at most kHighWater + kMaxSingleRead
// (man/srs-proxy.conf.5, "rtmp { }"; test_stress_stalled). Media is queued
// chunk by chunk, so a keyframe does not need to fit; the kernel's socket
// buffers absorb bursts above it.
constexpr size_t kHighWater = 1024 * 1024;
constexpr size_t kLowWater = 256 * 1024;
constexpr size_t kMaxSingleRead = 256 * 1024;
// Longest a closing session waits for its output to drain and the peer's EOF.
constexpr int64_t kCloseMs = 3000;
// Payloads at least this big are queued by reference instead of copied.
constexpr size_t kReferenceMin = 2048;

// Clients are strangers: fewer chunk streams and smaller messages than the
// reader's defaults, still far above any real encoder (a 4K keyframe is a
// few MB; encoders use a handful of chunk streams).
ChunkReaderLimits client_limits() {
  ChunkReaderLimits l;
  l.max_message_size = 8 * 1024 * 1024;
  l.max_buffered_bytes = 16 * 1024 * 1024;
  l.max_chunk_streams = 64;
  return l;
}

// Until the origin accepted its publish/play a client is unidentified: its
// commands need a few KiB, so it may not make the session hold more than
// preconnect_buffer (see feed_unidentified for the worker-wide share).
ChunkReaderLimits preconnect_limits(const RtmpConf& conf) {
  ChunkReaderLimits l = client_limits();
  l.max_message_size = uint32_t(std::min<uint64_t>(conf.preconnect_buffer, l.max_message_size));
  l.max_buffered_bytes = size_t(std::min<uint64_t>(conf.preconnect_buffer, l.max_buffered_bytes));
  return l;
}

// About how much memory a decoded command holds (see amf0::footprint).
size_t command_footprint(const Command& c) {
  size_t n = sizeof(Command) + c.name.capacity() + amf0::footprint(c.object) - sizeof(amf0::Value);
  n += c.args.capacity() * sizeof(amf0::Value);
  for (const amf0::Value& a : c.args) n += amf0::footprint(a) - sizeof(amf0::Value);
  return n;
}

size_t minus(size_t a, size_t b) { return a > b ? a - b : 0; }

// Decoding multiplies memory (a 1-byte null becomes a whole amf0::Value,
// about 100 bytes), so the commands of a client not yet accepted are decoded
// only up to this size: real ones (connect, createStream, publish...) are a
// few hundred bytes.
constexpr size_t kMaxCommandBeforeRelay = 16 * 1024;

// The name of an AMF0 command without decoding the rest ("" if it has none).
std::string_view amf0_command_name(const Message& m) {
  const std::vector<uint8_t>& p = m.payload;
  if (p.size() < 3 || p[0] != uint8_t(amf0::Type::string)) return {};
  size_t n = size_t(p[1]) << 8 | p[2];
  if (p.size() < 3 + n) return {};
  return std::string_view(reinterpret_cast<const char*>(p.data()) + 3, n);
}

// Input of every session of the worker lands here first and is handed to a
// chunk reader (which keeps what it needs) before the callback returns.
uint8_t g_recv_buffer[kMaxSingleRead];

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

// A forwarded message's payload, kept alive until every chunk that references
// it has been written to the socket.
struct PayloadRef {
  Message msg;
  int refs = 1;
  static void release(const void*, size_t, void* arg) {
    auto* r = static_cast<PayloadRef*>(arg);
    if (--r->refs == 0) delete r;
  }
};

struct EmitCtx {
  evbuffer* out;
  PayloadRef* ref;  // null: copy payloads
  uint64_t bytes = 0;
};

void emit_chunk(void* arg, std::span<const uint8_t> header, std::span<const uint8_t> payload) {
  auto* c = static_cast<EmitCtx*>(arg);
  evbuffer_add(c->out, header.data(), header.size());
  // By reference only when the bytes are the message's own (a relayed
  // piece may also come out of the writer's buffer of a short chunk).
  const std::vector<uint8_t>* own = c->ref ? &c->ref->msg.payload : nullptr;
  if (own && payload.size() >= kReferenceMin && payload.data() >= own->data() &&
      payload.data() + payload.size() <= own->data() + own->size()) {
    c->ref->refs++;
    evbuffer_add_reference(c->out, payload.data(), payload.size(), &PayloadRef::release, c->ref);
  } else if (!payload.empty()) {
    evbuffer_add(c->out, payload.data(), payload.size());
  }
  c->bytes += header.size() + payload.size();
}

bool is_stream_event(uint16_t event) {
  return event == user_control::kStreamBegin || event == user_control::kStreamEof ||
         event == user_control::kStreamDry || event == user_control::kSetBufferLength ||
         event == user_control::kStreamIsRecorded;
}

const char* state_word(bool publishing) { return publishing ? "publish" : "play"; }

}  // namespace

Session::Session(const SessionEnv& env, evutil_socket_t fd, const SockAddr& peer, DoneFn on_done)
    : env_(env),
      id_(new_context_id()),
      peer_(peer),
      peer_text_(peer.to_string()),
      on_done_(std::move(on_done)),
      client_("client", preconnect_limits(env.conf)),
      origin_("origin", ChunkReaderLimits{}) {
  client_.fd.reset(fd);
  timer_.reset(event_new(env_.base, -1, 0, &Session::on_timer, this));
}

Session::~Session() {
  if (state_ != State::done) abort("worker exiting");
}

void Session::start() {
  started_ms_ = monotonic_ms();
  last_activity_ms_ = started_ms_;
  meter_.begin(metrics::Protocol::rtmp, metrics::listener_of_fd(metrics::Protocol::rtmp, client_.fd.get()));
  SP_INFO(id_, "rtmp client %s connected", peer_text_.c_str());
  if (!timer_ || !open_hop(client_, client_.fd.get(), &Session::on_client_read, &Session::on_client_write)) {
    fail("out of memory creating the session");
    return;
  }
  set_reading(client_, true);
  deadline_ms_ = started_ms_ + env_.conf.handshake_timeout_ms;
  arm_timer(deadline_ms_);
}

void Session::abort(const char* reason) {
  if (state_ == State::done) return;
  if (end_reason_.empty()) end_reason_ = reason;
  state_ = State::done;
  pick_call_.reset();
  log_end();
  env_.preconnect.release(&preconnect_charged_);
  if (counted_) env_.registry.add_client(stream_key_, Proto::rtmp, -1, monotonic_ms());
  counted_ = false;
}

// ---- libevent callbacks -------------------------------------------------------

void Session::on_client_read(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<Session*>(arg);
  s->readable(s->client_);
}
void Session::on_origin_read(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<Session*>(arg);
  s->readable(s->origin_);
}
void Session::on_client_write(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<Session*>(arg);
  s->writable(s->client_);
}
void Session::on_origin_write(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<Session*>(arg);
  s->writable(s->origin_);
}

void Session::on_timer(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<Session*>(arg);
  int64_t now = monotonic_ms();
  switch (s->state_) {
    case State::client_c0c1:
    case State::client_c2:
    case State::client_commands:
      if (now < s->deadline_ms_) break;
      s->fail("handshake_timeout: no publish or play within " +
              std::to_string(s->env_.conf.handshake_timeout_ms) + " ms");
      return;
    case State::registry_wait:
      if (now < s->deadline_ms_) break;
      s->pick_call_.reset();
      if (!s->origins_tried_.empty()) {
        s->give_up();
        return;
      }
      s->refuse(ErrorKind::timeout, "the registry did not answer for stream " + s->stream_key_ +
                                        " within connect_timeout (" +
                                        std::to_string(s->env_.conf.connect_timeout_ms) + " ms)");
      s->close("registry look-up timed out after " + std::to_string(s->env_.conf.connect_timeout_ms) + " ms");
      return;
    case State::origin_connect:
    case State::origin_handshake:
    case State::origin_commands:
      if (now < s->deadline_ms_) break;
      if (s->state_ != State::origin_commands) s->report_origin_failure("timed out");
      s->refuse(ErrorKind::timeout, "origin " + s->describe_origin() + " did not answer within connect_timeout (" +
                                        std::to_string(s->env_.conf.connect_timeout_ms) + " ms)");
      s->close("origin connect_timeout");
      return;
    case State::relay:
      if (now - s->last_activity_ms_ >= s->env_.conf.idle_timeout_ms) {
        s->close("idle_timeout");
        return;
      }
      s->arm_timer(s->last_activity_ms_ + s->env_.conf.idle_timeout_ms);
      return;
    case State::closing:
      if (now < s->deadline_ms_) break;
      s->finish();
      return;
    case State::done:
      return;
  }
  s->arm_timer(s->deadline_ms_);
}

// ---- socket plumbing -------------------------------------------------------------

bool Session::open_hop(Hop& hop, evutil_socket_t fd, event_callback_fn on_read, event_callback_fn on_write) {
  hop.fd.reset(fd);
  evutil_make_socket_nonblocking(fd);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  hop.read_ev.reset(event_new(env_.base, fd, EV_READ | EV_PERSIST, on_read, this));
  hop.write_ev.reset(event_new(env_.base, fd, EV_WRITE | EV_PERSIST, on_write, this));
  hop.out.reset(evbuffer_new());
  return hop.read_ev && hop.write_ev && hop.out;
}

void Session::set_reading(Hop& hop, bool on) {
  if (!hop.read_ev || hop.reading == on) return;
  hop.reading = on;
  if (on) event_add(hop.read_ev.get(), nullptr);
  else event_del(hop.read_ev.get());
}

void Session::readable(Hop& hop) {
  ssize_t n = recv(hop.fd.get(), g_recv_buffer, sizeof g_recv_buffer, 0);
  if (n < 0 && would_block(errno)) return;
  if (n <= 0) {
    hop_closed(hop, n == 0 ? "connection closed" : strerror(errno));
    return;
  }
  last_activity_ms_ = monotonic_ms();
  if (state_ == State::closing || state_ == State::done) return;  // lingering: discard
  std::span<const uint8_t> bytes(g_recv_buffer, size_t(n));
  if (&hop == &client_) meter_.client_in(uint64_t(n));
  else meter_.origin_in(uint64_t(n));
  if (&hop == &client_) client_bytes(bytes);
  else origin_bytes(bytes);
  flush_all();
}

// Writes what is queued toward `hop` now; registers the write event only if
// the socket could not take it all. Applies back-pressure both ways.
void Session::flush(Hop& hop) {
  if (state_ == State::done || !hop.out || hop.connecting || hop.eof) return;
  while (hop.queued() > 0) {
    int n = evbuffer_write(hop.out.get(), hop.fd.get());
    if (n > 0) continue;
    if (n < 0 && would_block(errno)) break;
    std::string why = n < 0 ? strerror(errno) : "write failed";
    evbuffer_drain(hop.out.get(), hop.queued());
    hop_closed(hop, why);
    return;
  }
  bool stuck = hop.queued() > 0;
  // Before the relay only our replies go to the client: a few hundred bytes
  // per command, so more than preconnect_buffer queued means it never reads.
  size_t pre_relay_max = &hop == &client_ ? size_t(env_.conf.preconnect_buffer) : kHighWater;
  if (state_ < State::relay && hop.queued() > pre_relay_max) {
    // Replies pile up only for a peer that sends commands and never reads.
    if (&hop == &client_) fail("the client does not read its replies");
    else close("the origin does not read");
    return;
  }
  if (stuck != hop.writing) {
    hop.writing = stuck;
    if (stuck) event_add(hop.write_ev.get(), nullptr);
    else event_del(hop.write_ev.get());
  }
  if (state_ != State::relay) return;
  Hop& from = other(hop);
  if (!from.paused && hop.queued() > kHighWater) {
    from.paused = true;
    set_reading(from, false);
    SP_DEBUG(id_, "rtmp: more than %zu bytes queued toward the %s, pausing reads from the %s", kHighWater,
             hop.name, from.name);
  } else if (from.paused && hop.queued() <= kLowWater) {
    from.paused = false;
    set_reading(from, true);
    SP_DEBUG(id_, "rtmp: the %s drained, resuming reads from the %s", hop.name, from.name);
  }
}

void Session::flush_all() {
  flush(client_);
  flush(origin_);
}

void Session::writable(Hop& hop) {
  if (hop.connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(hop.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == EINPROGRESS) return;
    hop.connecting = false;
    if (err != 0) {
      hop_closed(hop, strerror(err));
      return;
    }
    origin_connected();
    return;
  }
  flush(hop);
  if (state_ == State::closing) closing_progress();
}

// ---- client side ----------------------------------------------------------------

void Session::client_bytes(std::span<const uint8_t> bytes) {
  if (state_ == State::client_c0c1 || state_ == State::client_c2) {
    if (!read_client_handshake(&bytes)) return;
  }
  if (!feed(client_, bytes)) return;
  process_client_messages();
}

// Moves up to `want` bytes of *in into *acc; true once *acc holds `want`.
static bool gather(std::vector<uint8_t>* acc, size_t want, std::span<const uint8_t>* in) {
  size_t take = std::min(want - acc->size(), in->size());
  acc->insert(acc->end(), in->begin(), in->begin() + take);
  *in = in->subspan(take);
  return acc->size() == want;
}

// Returns true when the handshake is complete; *bytes keeps what follows it.
bool Session::read_client_handshake(std::span<const uint8_t>* bytes) {
  std::vector<uint8_t>& hs = client_.handshake;
  if (state_ == State::client_c0c1) {
    if (hs.empty() && !bytes->empty() && (*bytes)[0] != handshake::kVersion) {
      // Fail at the first byte: garbage (an HTTP request, TLS) is shorter than C0+C1.
      fail("bad handshake: C0 version " + std::to_string((*bytes)[0]) + " is not 3");
      return false;
    }
    if (!gather(&hs, handshake::kC0C1Size, bytes)) return false;
    client_.handshake_bytes += hs.size();
    Result<handshake::ServerReply> reply = handshake::server_reply(hs);
    hs.clear();
    if (!reply.ok()) {
      fail("bad handshake: " + reply.error());
      return false;
    }
    send_raw(client_, reply->s0s1s2);
    state_ = State::client_c2;
  }
  if (!gather(&hs, handshake::kPacketSize, bytes)) return false;
  client_.handshake_bytes += hs.size();
  Status st = handshake::server_check_c2(hs);
  hs = {};
  if (!st.ok()) {
    fail("bad handshake: " + st.message());
    return false;
  }
  state_ = State::client_commands;
  client_chunks_ = true;
  return true;
}

void Session::process_client_messages() {
  Message m;
  while ((state_ == State::client_commands || state_ == State::relay) && client_.reader.next(&m))
    client_message(m);
}

void Session::client_message(Message& m) {
  if (control_message(client_, m)) return;
  if (state_ == State::relay) {
    if (m.type_id == msg_type::kCommandAmf0) map_stream_argument(m);
    forward(client_, origin_, m);
    return;
  }
  if (m.type_id == msg_type::kCommandAmf0 || m.type_id == msg_type::kCommandAmf3) {
    client_command(m);
    return;
  }
  SP_DEBUG(id_, "rtmp: ignoring message type %u from the client before publish/play", m.type_id);
}

void Session::client_command(Message& m) {
  if (m.payload.size() > kMaxCommandBeforeRelay) {
    fail("command of " + std::to_string(m.payload.size()) + " bytes before publish/play was accepted (at most " +
         std::to_string(kMaxCommandBeforeRelay) + ")");
    return;
  }
  Result<Command> cmd = decode_command(m);
  if (!cmd.ok()) {
    fail("malformed command: " + cmd.error());
    return;
  }
  const std::string& name = cmd->name;
  double tid = cmd->transaction_id;
  if (name == "connect") {
    if (!connected_ && !keep_for_origin(*cmd)) return;
    answer_connect(*cmd);
    return;
  }
  if (!connected_) {
    if (name == "publish" || name == "play") {
      publishing_ = name == "publish";
      client_.stream_id = m.stream_id;
      refuse(ErrorKind::bad_input, name + " before connect");
      close(name + " before connect");
    } else {
      fail("command \"" + name + "\" before connect");
    }
    return;
  }
  if (name == "releaseStream" || name == "FCPublish" || name == "FCSubscribe") {
    if (pre_publish_.size() < 8) {
      if (!keep_for_origin(*cmd)) return;
      pre_publish_.push_back(*cmd);
    }
    if (tid != 0) send(client_, command_message(simple_result(tid), 0));
    // Encoders of the FMLE family wait for onFCPublish before they publish.
    if (name == "FCPublish") {
      Command on_fc = on_status("status", status::kPublishStart, "FCPublish received.");
      on_fc.name = "onFCPublish";
      send(client_, command_message(on_fc, 0));
    }
  } else if (name == "createStream") {
    send(client_, command_message(create_stream_result(tid, 1), 0));
  } else if (name == "publish" || name == "play") {
    client_publish_or_play(m, *cmd);
  } else if (name == "deleteStream" || name == "closeStream") {
    close("client sent " + name + " before publish/play");
  } else if (name == "getStreamLength" || name == "_checkbw" || name == "FCUnpublish") {
    if (tid != 0) send(client_, command_message(simple_result(tid), 0));
  } else {
    SP_DEBUG(id_, "rtmp: ignoring command \"%s\" before publish/play", name.c_str());
  }
}

// deleteStream / closeStream name the stream in an argument too: the
// origin must hear its own id.
void Session::map_stream_argument(Message& m) {
  // Only these two are decoded: decoding every relayed command would let a
  // client make the worker build ~100 bytes of values per byte it sends.
  std::string_view name = amf0_command_name(m);
  if (name != "deleteStream" && name != "closeStream") return;
  Result<Command> cmd = decode_command(m);
  if (!cmd.ok() || (cmd->name != "deleteStream" && cmd->name != "closeStream")) return;
  bool changed = false;
  for (amf0::Value& a : cmd->args) {
    if (a.is_number() && uint32_t(a.number) == client_.stream_id) {
      a.number = origin_.stream_id;
      changed = true;
    }
  }
  if (changed) m.payload = encode_command(*cmd);
}

void Session::answer_connect(const Command& cmd) {
  if (connected_) {
    fail("second connect on one connection");
    return;
  }
  if (!cmd.object.is_object() || cmd.object.get_string("tcUrl").empty()) {
    send(client_, command_message(connect_error(cmd.transaction_id, status::kConnectRejected,
                                                "connect without a tcUrl"),
                                  0));
    close("connect without a tcUrl");
    return;
  }
  // A connect that already passed through this proxy is a proxy loop
  // (core/proxy_loop.h): refuse it before it costs another origin session.
  if (connect_lists_proxy(cmd, proxy_id())) {
    SP_WARN(id_, "rtmp client %s: proxy loop: the connect already passed through this proxy (%s, %s=\"%s\"), "
            "rejected", peer_text_.c_str(), proxy_id_hex(proxy_id()).c_str(), std::string(kRtmpViaProperty).c_str(),
            cmd.object.get_string(kRtmpViaProperty).c_str());
    send(client_, command_message(connect_error(cmd.transaction_id, status::kConnectRejected,
                                                "proxy loop detected: this request already passed through srs-proxy " +
                                                    proxy_id_hex(proxy_id())),
                                  0));
    close("proxy loop detected");
    return;
  }
  connected_ = true;
  connect_ = cmd;
  send(client_, window_ack_size_message(kWindowAckSize));
  send(client_, set_peer_bandwidth_message(kWindowAckSize, BandwidthLimit::dynamic));
  send(client_, set_chunk_size_message(env_.conf.chunk_size));
  (void)client_.writer.set_chunk_size(env_.conf.chunk_size);  // the table bounds it
  double encoding = cmd.object.get_number("objectEncoding", 0);
  send(client_, command_message(connect_result(cmd.transaction_id, encoding), 0));
}

void Session::client_publish_or_play(Message& m, const Command& cmd) {
  publishing_ = cmd.name == "publish";
  client_.stream_id = m.stream_id;
  if (cmd.args.empty() || !cmd.args[0].is_string() || cmd.args[0].str.empty()) {
    refuse(ErrorKind::bad_input, cmd.name + " without a stream name");
    close(cmd.name + " without a stream name");
    return;
  }
  stream_name_ = cmd.args[0].str;
  std::string tc_url = connect_.object.get_string("tcUrl");
  Result<std::string> key = stream_key_from_rtmp(tc_url, stream_name_);
  if (!key.ok()) {
    refuse(key.kind(), "invalid stream \"" + stream_name_ + "\": " + key.error());
    close("invalid stream: " + key.error());
    return;
  }
  stream_key_ = *key;
  publish_ = m;
  // The registry look-up and every origin attempt share connect_timeout.
  deadline_ms_ = monotonic_ms() + env_.conf.connect_timeout_ms;
  state_ = State::registry_wait;
  arm_timer(deadline_ms_);
  ask_registry();
}

void Session::ask_registry() {
  // Read on while waiting: the bytes stay in the chunk reader (preconnect
  // limits), and a client that goes away ends the wait (close()).
  set_reading(client_, true);
  RegistryCall call =
      env_.registry.pick(stream_key_, Proto::rtmp, monotonic_ms(), [this](Result<Pick> p) { picked(std::move(p)); });
  // Answered already (memory): pick_call_ may hold a look-up picked() made.
  if (call.pending()) pick_call_ = std::move(call);
}

void Session::picked(Result<Pick> pick) {
  pick_call_.reset();
  if (state_ != State::registry_wait) return;  // ended meanwhile (the call is dropped then; belt and braces)
  bool retry = !origins_tried_.empty();
  if (!pick.ok()) {
    if (retry) {
      SP_WARN(id_, "rtmp %s key=%s: no other origin after %s: %s", peer_text_.c_str(), stream_key_.c_str(),
              retry_note_.c_str(), pick.error().c_str());
      give_up();
    } else {
      refuse(pick.kind(), "no origin for stream " + stream_key_ + ": " + pick.error());
      close("no origin: " + pick.error());
    }
    flush_all();
    return;
  }
  if (retry) {
    if (std::ranges::find(origins_tried_, pick->origin.server) != origins_tried_.end()) {
      give_up();
      flush_all();
      return;
    }
    SP_WARN(id_, "rtmp %s; %s key=%s retried on origin %s (%s:%u) with %lld ms left", retry_note_.c_str(),
            state_word(publishing_), stream_key_.c_str(), pick->origin.server.c_str(), pick->host.c_str(),
            unsigned(pick->port), (long long)(deadline_ms_ - monotonic_ms()));
  }
  pick_ = std::move(*pick);
  picked_ = true;
  meter_.set_origin(pick_.origin.slot, pick_.origin.server);
  if (!retry) {
    SP_INFO(id_, "rtmp %s %s name=\"%s\" key=%s origin=%s", peer_text_.c_str(), state_word(publishing_),
            stream_name_.c_str(), stream_key_.c_str(), describe_origin().c_str());
  }
  // The client's next messages wait until the origin has said yes.
  set_reading(client_, false);
  start_origin();
  flush_all();
}

// ---- origin side ----------------------------------------------------------------

void Session::start_origin() {
  state_ = State::origin_connect;
  // deadline_ms_: set before the first pick, shared by the retries.
  arm_timer(deadline_ms_);
  Result<SockAddr> addr = make_sock_addr(pick_.host, pick_.port);
  if (!addr.ok()) {
    refuse(ErrorKind::unavailable, "origin " + describe_origin() + " has a bad address: " + addr.error());
    close("bad origin address");
    return;
  }
  int fd = socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || !open_hop(origin_, fd, &Session::on_origin_read, &Session::on_origin_write)) {
    if (fd >= 0 && origin_.fd.get() != fd) ::close(fd);
    fail(std::string("cannot create the origin socket: ") + strerror(errno));
    return;
  }
  origin_connect_us_ = metrics::now_us();
  if (connect(fd, addr->sa(), addr->len) == 0) {
    origin_connected();
    return;
  }
  if (errno != EINPROGRESS) {
    std::string why = strerror(errno);
    origin_failed(why, ErrorKind::unavailable, "origin " + describe_origin() + " unreachable: " + why,
                  "origin unreachable: " + why);
    return;
  }
  origin_.connecting = true;
  origin_.writing = true;
  event_add(origin_.write_ev.get(), nullptr);
}

void Session::origin_connected() {
  meter_.origin_connect(metrics::ConnectResult::ok, metrics::now_us() - origin_connect_us_);
  hello_ = handshake::client_hello(handshake::Kind::complex);
  send_raw(origin_, hello_.c0c1);
  state_ = State::origin_handshake;
  set_reading(origin_, true);
  flush(origin_);
}

void Session::origin_bytes(std::span<const uint8_t> bytes) {
  if (state_ == State::origin_handshake && !read_origin_handshake(&bytes)) return;
  if (!feed(origin_, bytes)) return;
  process_origin_messages();
}

bool Session::read_origin_handshake(std::span<const uint8_t>* bytes) {
  std::vector<uint8_t>& hs = origin_.handshake;
  if (!gather(&hs, handshake::kS0S1S2Size, bytes)) return false;
  origin_.handshake_bytes += hs.size();
  Result<std::vector<uint8_t>> c2 = handshake::client_c2(hs, hello_);
  hs = {};
  if (!c2.ok()) {
    origin_failed(c2.error(), ErrorKind::upstream, "origin " + describe_origin() + " handshake failed: " + c2.error(),
                  "origin handshake: " + c2.error());
    return false;
  }
  env_.registry.report_success(pick_.origin.server, monotonic_ms());
  send_raw(origin_, *c2);
  state_ = State::origin_commands;
  send(origin_, set_chunk_size_message(env_.conf.chunk_size));
  (void)origin_.writer.set_chunk_size(env_.conf.chunk_size);
  Command connect = connect_;  // the client's own properties and extra arguments
  connect.transaction_id = 1;
  connect_add_proxy(&connect, proxy_id());  // loop marker, see core/proxy_loop.h
  send(origin_, command_message(connect, 0));
  return true;
}

void Session::process_origin_messages() {
  Message m;
  while ((state_ == State::origin_commands || state_ == State::relay) && origin_.reader.next(&m))
    origin_message(m);
}

void Session::origin_message(Message& m) {
  if (control_message(origin_, m)) return;
  if (state_ == State::relay) {
    forward(origin_, client_, m);
    return;
  }
  if (m.type_id == msg_type::kCommandAmf0 || m.type_id == msg_type::kCommandAmf3) {
    origin_command(m);
    return;
  }
  // Data before the status (e.g. |RtmpSampleAccess) belongs to the client.
  if (origin_.stream_id != 0) forward(origin_, client_, m);
}

void Session::origin_command(Message& m) {
  Result<Command> cmd = decode_command(m);
  if (!cmd.ok()) {
    refuse(ErrorKind::upstream, "origin " + describe_origin() + " sent a malformed command");
    close("origin sent a malformed command: " + cmd.error());
    return;
  }
  const amf0::Value* info = status_info(*cmd);
  std::string level = info ? info->get_string("level") : "";
  std::string status_code = info ? info->get_string("code") : "";
  std::string description = info ? info->get_string("description") : "";
  if (cmd->name == "_error") {
    // The origin's own code goes to the client; only a missing one is ours.
    if (status_code.empty()) {
      refuse(ErrorKind::upstream, "origin " + describe_origin() + " refused: " + description);
    } else {
      send_status("error", status_code, "origin " + describe_origin() + " refused: " + description);
    }
    close("origin refused: " + status_code + " " + description);
    return;
  }
  if (cmd->name == "_result" && cmd->transaction_id == 1 && create_stream_tid_ == 0) {
    send_origin_stream_commands();
    return;
  }
  if (cmd->name == "_result" && cmd->transaction_id == create_stream_tid_ && origin_.stream_id == 0) {
    for (const amf0::Value& a : cmd->args)
      if (a.is_number()) origin_.stream_id = uint32_t(a.number);
    if (origin_.stream_id == 0) {
      refuse(ErrorKind::upstream, "origin " + describe_origin() + " gave no stream id");
      close("origin createStream without a stream id");
      return;
    }
    Message p = publish_;
    p.stream_id = origin_.stream_id;
    send(origin_, p);
    return;
  }
  if (cmd->name != "onStatus") return;  // onBWDone, onFCPublish, other _results
  forward(origin_, client_, m);
  if (level == "error") {
    close("origin status " + status_code + ": " + description);
    return;
  }
  bool started = publishing_ ? status_code == status::kPublishStart
                             : status_code == status::kPlayStart || status_code == status::kPlayReset;
  if (started) start_relay();
}

void Session::report_origin_failure(const std::string& why) {
  const char* what = state_ == State::origin_connect ? "connect to " : "handshake with ";
  if (state_ == State::origin_connect) meter_.origin_connect(metrics::connect_result_of(why), 0);
  env_.registry.report_failure(pick_.origin.server,
                               "rtmp " + std::string(what) + pick_.host + ":" + std::to_string(pick_.port) + ": " + why,
                               monotonic_ms());
}

void Session::origin_failed(const std::string& why, ErrorKind kind, std::string description, std::string reason) {
  constexpr size_t kMaxOrigins = 3;  // origins one client may try
  report_origin_failure(why);
  origins_tried_.push_back(pick_.origin.server);
  give_up_ = GiveUp{kind, std::move(description), std::move(reason)};
  if (monotonic_ms() >= deadline_ms_ || origins_tried_.size() >= kMaxOrigins) {
    give_up();
    return;
  }
  retry_note_ = "origin " + describe_origin() + " failed (" + why + ")";
  origin_ = Hop("origin", ChunkReaderLimits{});  // closes the failed socket and its events
  state_ = State::registry_wait;
  arm_timer(deadline_ms_);
  ask_registry();
}

void Session::give_up() {
  refuse(give_up_.kind, give_up_.description);
  close(give_up_.reason);
}

void Session::send_origin_stream_commands() {
  double tid = 2;
  for (Command c : pre_publish_) {
    c.transaction_id = tid++;
    send(origin_, command_message(c, 0));
  }
  create_stream_tid_ = tid;
  send(origin_, command_message(create_stream_command(tid), 0));
}

void Session::start_relay() {
  state_ = State::relay;
  int64_t now = monotonic_ms();
  last_activity_ms_ = now;
  arm_timer(now + env_.conf.idle_timeout_ms);
  // The origin started the publish or play: the pin lasts.
  if (Status st = env_.registry.confirm(stream_key_, pick_.origin.server, now); !st.ok()) {
    SP_WARN(id_, "rtmp stream %s not pinned: %s", stream_key_.c_str(), st.message().c_str());
  }
  env_.registry.add_client(stream_key_, Proto::rtmp, +1, now);
  counted_ = true;
  identified();
  SP_INFO(id_, "rtmp relaying %s key=%s origin=%s stream ids client %u origin %u",
          state_word(publishing_), stream_key_.c_str(), describe_origin().c_str(), client_.stream_id,
          origin_.stream_id);
  forget_replay();
  relay_media(client_);
  relay_media(origin_);
  set_reading(client_, true);
  process_client_messages();  // what arrived while the origin was set up
}

// What was kept to set up the origin (the client's commands, our C0C1) is
// not needed once the relay runs: a relaying session keeps only its hops.
void Session::forget_replay() {
  hello_ = {};
  connect_ = {};
  std::vector<Command>().swap(pre_publish_);
  publish_ = {};
  kept_bytes_ = 0;
}

// Audio and video from `from` are relayed piece by piece from now on.
void Session::relay_media(Hop& from) {
  from.reader.set_streamed_types(1u << msg_type::kAudio | 1u << msg_type::kVideo);
}

// ---- both sides --------------------------------------------------------------------

// Hands input to `hop`'s chunk reader. False when the session ended.
bool Session::feed(Hop& hop, std::span<const uint8_t> bytes) {
  if (&hop == &client_ && !identified_) return feed_unidentified(bytes);
  Status st = hop.reader.feed(bytes);
  if (!st.ok()) {
    if (&hop == &client_) {
      fail("bad chunk stream: " + st.message());
    } else {
      refuse(ErrorKind::upstream, "origin " + describe_origin() + " sent a bad chunk stream");
      close("origin chunk stream: " + st.message());
    }
    return false;
  }
  send_ack_if_due(hop);
  return true;
}

// The client before its publish/play was accepted: its reader may hold at
// most preconnect_buffer, and no more than the worker's budget has left.
bool Session::feed_unidentified(std::span<const uint8_t> bytes) {
  PreconnectBudget& budget = env_.preconnect;
  ChunkReaderLimits limits = client_.reader.limits();
  // The commands kept for the origin take their share first.
  size_t own = minus(size_t(env_.conf.preconnect_buffer), kept_bytes_);
  size_t worker_room = minus(budget.max_buffered(preconnect_charged_), kept_bytes_);
  limits.max_buffered_bytes = std::min(own, worker_room);
  client_.reader.set_limits(limits);
  Status st = client_.reader.feed(bytes);
  budget.update(&preconnect_charged_, client_.reader.buffered_bytes() + kept_bytes_);
  if (st.ok()) {
    send_ack_if_due(client_);
    return true;
  }
  ChunkLimit hit = client_.reader.limit_hit();
  if (hit == ChunkLimit::buffered_bytes && worker_room < own) {
    fail("worker's preconnect_worker_buffer is full (" + std::to_string(budget.used()) + " of " +
         std::to_string(budget.limit()) + " bytes held for clients not yet playing or publishing): " +
         st.message());
  } else if (hit == ChunkLimit::message_size || hit == ChunkLimit::buffered_bytes) {
    fail("over preconnect_buffer (" + std::to_string(env_.conf.preconnect_buffer) +
         " bytes) before publish/play was accepted: " + st.message());
  } else {
    fail("bad chunk stream: " + st.message());
  }
  return false;
}

// The commands replayed to the origin are kept decoded until then, which can
// take far more memory than their bytes on the wire: they count, with the
// partial messages, against preconnect_buffer and the worker's budget.
bool Session::keep_for_origin(const Command& cmd) {
  size_t add = command_footprint(cmd);
  size_t held = client_.reader.buffered_bytes() + kept_bytes_ + add;
  std::string what = "\"" + cmd.name + "\" would keep " + std::to_string(add) + " bytes for the origin";
  if (held > env_.conf.preconnect_buffer) {
    fail("over preconnect_buffer (" + std::to_string(env_.conf.preconnect_buffer) +
         " bytes) before publish/play was accepted: " + what);
    return false;
  }
  if (held > env_.preconnect.max_buffered(preconnect_charged_)) {
    fail("worker's preconnect_worker_buffer is full (" + std::to_string(env_.preconnect.used()) + " of " +
         std::to_string(env_.preconnect.limit()) + " bytes held for clients not yet playing or publishing): " +
         what);
    return false;
  }
  kept_bytes_ += add;
  env_.preconnect.update(&preconnect_charged_, held);
  return true;
}

// The origin accepted the client: from now on the ordinary client limits.
void Session::identified() {
  identified_ = true;
  env_.preconnect.release(&preconnect_charged_);
  client_.reader.set_limits(client_limits());
}

// Protocol control stays on its hop. True when `m` was consumed.
bool Session::control_message(Hop& from, Message& m) {
  switch (m.type_id) {
    case msg_type::kSetChunkSize:  // applied by ChunkReader already
      return true;
    case msg_type::kAbort: {  // applied by ChunkReader already; a relayed piece may be cut off
      Result<uint32_t> csid = decode_u32_control(m);
      Hop& to = other(from);
      if (csid.ok() && to.out && to.writer.abort_piece(*csid)) send(to, abort_message(*csid));
      return true;
    }
    case msg_type::kAck:
    case msg_type::kSetPeerBandwidth:
      return true;
    case msg_type::kWindowAckSize: {
      Result<uint32_t> w = decode_u32_control(m);
      if (w.ok()) from.ack_window = *w;
      return true;
    }
    case msg_type::kUserControl:
      break;
    default:
      return false;
  }
  Result<UserControl> uc = decode_user_control(m);
  if (!uc.ok()) {
    SP_DEBUG(id_, "rtmp: %s sent a bad user control message: %s", from.name, uc.error().c_str());
    return true;
  }
  if (uc->event == user_control::kPingRequest) {
    send(from, ping_response_message(uc->value));
    return true;
  }
  Hop& to = other(from);
  // Stream events cross once both stream ids are known, with the id mapped.
  if (is_stream_event(uc->event) && from.stream_id != 0 && to.stream_id != 0 && to.out &&
      (state_ == State::relay || &from == &origin_)) {
    UserControl mapped = *uc;
    if (mapped.value == from.stream_id) mapped.value = to.stream_id;
    send(to, user_control_message(mapped));
  }
  return true;
}

void Session::send_ack_if_due(Hop& from) {
  if (from.ack_window == 0 || from.bytes_in() - from.acked < from.ack_window) return;
  from.acked = from.bytes_in();
  send(from, ack_message(uint32_t(from.acked)));
}

// Relays `m` (consumed) to `to`, with its message stream id mapped. The
// payload bytes go to the socket buffer by reference.
void Session::forward(Hop& from, Hop& to, Message& m) {
  if (!to.out) return;
  if (m.stream_id != 0 && m.stream_id == from.stream_id) m.stream_id = to.stream_id;
  auto* ref = new PayloadRef{std::move(m), 1};
  EmitCtx ctx{to.out.get(), ref};
  if (ref->msg.piece) {  // one chunk of a streamed message
    to.writer.write_piece(ref->msg, &emit_chunk, &ctx);
  } else {
    to.writer.write(ref->msg, &emit_chunk, &ctx);
  }
  PayloadRef::release(nullptr, 0, ref);
  count_out(to, ctx.bytes);
}

// Sends a message of our own (control, replies): small, copied.
void Session::send(Hop& to, const Message& m) {
  if (!to.out) return;
  EmitCtx ctx{to.out.get(), nullptr};
  to.writer.write(m, &emit_chunk, &ctx);
  count_out(to, ctx.bytes);
}

void Session::send_raw(Hop& to, std::span<const uint8_t> bytes) {
  if (!to.out) return;
  evbuffer_add(to.out.get(), bytes.data(), bytes.size());
  count_out(to, bytes.size());
}

void Session::refuse(ErrorKind kind, const std::string& description) {
  send_status("error", error_status_code(kind, publishing_), description);
}

void Session::send_status(std::string_view level, std::string_view code, const std::string& description) {
  if (!client_chunks_ || !client_.out) return;  // still in the handshake: it cannot read a status
  SP_DEBUG(id_, "rtmp: onStatus %.*s to the client: %s", int(code.size()), code.data(), description.c_str());
  send(client_, command_message(on_status(level, code, description), client_.stream_id));
}

void Session::hop_closed(Hop& hop, const std::string& why) {
  hop.eof = true;
  set_reading(hop, false);
  if (hop.writing) {
    hop.writing = false;
    event_del(hop.write_ev.get());
  }
  if (state_ == State::closing) {
    closing_progress();
    return;
  }
  if (state_ == State::done) return;
  if (&hop == &origin_ && state_ != State::relay) {
    bool connecting = state_ == State::origin_connect;
    ErrorKind kind = connecting ? ErrorKind::unavailable : ErrorKind::upstream;
    std::string description = "origin " + describe_origin() + (connecting ? " unreachable: " : " failed: ") + why;
    if (connecting || state_ == State::origin_handshake) {
      origin_failed(why, kind, std::move(description), "origin " + why);
      return;
    }
    refuse(kind, description);
    close("origin " + why);
    return;
  }
  if (&hop == &client_ && state_ <= State::client_commands && !connected_) {
    fail("client " + why + " during the handshake");
    return;
  }
  close(std::string(hop.name) + " " + why);
}

// ---- ending ------------------------------------------------------------------------

void Session::fail(const std::string& reason) {
  SP_WARN(id_, "rtmp client %s: %s", peer_text_.c_str(), reason.c_str());
  if (end_reason_.empty()) end_reason_ = reason;
  finish();
}

void Session::close(const std::string& reason) {
  if (state_ == State::closing || state_ == State::done) return;
  if (end_reason_.empty()) end_reason_ = reason;
  pick_call_.reset();  // a look-up under way is not wanted any more
  bool origin_ready = state_ == State::origin_commands || state_ == State::relay;
  state_ = State::closing;
  // An origin not yet talking RTMP has nothing owed to it.
  if (!origin_ready) drop_hop(origin_);
  set_reading(client_, false);
  set_reading(origin_, false);
  deadline_ms_ = monotonic_ms() + kCloseMs;
  arm_timer(deadline_ms_);
  closing_progress();
}

// Closing: flush each side's output, then send FIN and read (discarding)
// until the peer's EOF; a reset would destroy data the peer has not read yet.
void Session::closing_progress() {
  bool waiting = false;
  for (Hop* h : {&client_, &origin_}) {
    if (!h->out || h->eof) continue;
    flush(*h);
    if (state_ != State::closing) return;  // a write error may have finished the session
    if (h->eof) continue;
    waiting = true;
    if (h->queued() > 0 || h->shut) continue;
    h->shut = true;
    shutdown(h->fd.get(), SHUT_WR);
    set_reading(*h, true);
  }
  if (!waiting) finish();
}

void Session::drop_hop(Hop& hop) {
  set_reading(hop, false);
  hop.read_ev.reset();
  hop.write_ev.reset();
  hop.out.reset();
  hop.fd.reset();
  hop.writing = false;
  hop.connecting = false;
}

void Session::finish() {
  if (state_ == State::done) return;
  state_ = State::done;
  pick_call_.reset();
  if (timer_) event_del(timer_.get());
  for (Hop* h : {&client_, &origin_}) {
    set_reading(*h, false);
    if (h->writing) event_del(h->write_ev.get());
    h->writing = false;
  }
  log_end();
  env_.preconnect.release(&preconnect_charged_);
  if (counted_) env_.registry.add_client(stream_key_, Proto::rtmp, -1, monotonic_ms());
  counted_ = false;
  on_done_(this);  // the owner destroys us (and closes the sockets) later, from the loop
}

void Session::log_end() {
  double secs = double(monotonic_ms() - started_ms_) / 1000.0;
  SP_INFO(id_,
          "rtmp session end peer=%s %s key=%s origin=%s client_in=%" PRIu64 " client_out=%" PRIu64
          " origin_in=%" PRIu64 " origin_out=%" PRIu64 " duration=%.3fs reason=%s",
          peer_text_.c_str(), stream_name_.empty() ? "-" : state_word(publishing_),
          stream_key_.empty() ? "-" : stream_key_.c_str(), picked_ ? describe_origin().c_str() : "-",
          client_.bytes_in(), client_.bytes_out, origin_.bytes_in(), origin_.bytes_out, secs,
          end_reason_.c_str());
  SessionRecord r;
  r.ctx = id_;
  r.client = peer_text_;
  r.stream_key = stream_key_;
  r.origin = picked_ ? std::string_view(pick_.origin.server) : std::string_view();
  r.bytes_in = client_.bytes_in();
  r.bytes_out = client_.bytes_out;
  r.duration_ms = monotonic_ms() - started_ms_;
  r.reason = metrics::classify_end(end_reason_);
  r.reason_text = end_reason_;
  end_session(meter_, r);
}

void Session::arm_timer(int64_t at_ms) {
  if (!timer_) return;
  int64_t delay = std::max<int64_t>(at_ms - monotonic_ms(), 0);
  timeval tv = ms_to_timeval(delay + 1);
  event_add(timer_.get(), &tv);
}

std::string Session::describe_origin() const {
  return pick_.origin.server + " (" + pick_.host + ":" + std::to_string(pick_.port) + ")";
}

}  // namespace sp::rtmp
