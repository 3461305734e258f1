// sp_loadclient: many RTMP and HTTP-FLV players in one process, for the scale
// bench (bench/scale/run) and its ctest version (tests/integration/test_scale.py).
//
// One libevent loop, one non-blocking socket per player. N players are spread
// over S streams (player i plays streamK with K = i mod S) and split between
// rtmp://HOST:PORT/APP/streamK and http://HOST:PORT/APP/streamK.flv by a ratio.
// They start evenly over --ramp-ms (0: all at once: a flash crowd). Each
// player records its connect time, its time to the first media byte (RTMP:
// the first audio or video message; HTTP-FLV: the first audio or video tag
// after the FLV header; codec sequence headers count, they are media the
// player needs) and the bytes it received. RTMP players answer what a player
// must: acknowledgements past the server's window and ping requests.
//
// The RTMP side reuses the project's own handshake, chunk and AMF code
// (src/rtmp); HTTP-FLV is a raw GET, the head checked, the body de-chunked
// when chunked, and FLV tag headers walked (payloads skipped).
//
// Per-player memory stays small: reads go to one buffer of the process; the
// handshake bytes are held only during the handshake; an HTTP player keeps a
// few counters once past the response head.
//
// At the end (--seconds after the last player started) it prints one JSON
// object on stdout: players started, connected, that received media, that
// still received media in the last --recent-ms, first-media latency and
// connect-time percentiles in ms, bytes, and failures by reason.
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rtmp/amf0.h"
#include "rtmp/chunk.h"
#include "rtmp/handshake.h"
#include "rtmp/message.h"

namespace {

using namespace sp::rtmp;

struct Options {
  std::string host = "127.0.0.1";
  int rtmp_port = 0;
  int http_port = 0;
  std::string app = "live";
  std::string prefix = "stream";
  int players = 100;
  int streams = 10;
  double http_ratio = 0.5;  // fraction of players on HTTP-FLV
  int ramp_ms = 0;
  int seconds = 10;         // run time after the last player started
  int media_timeout_ms = 0; // a player without media by then fails (0: --seconds)
  int recent_ms = 3000;
  int sources = 1;          // spread client sockets over 127.0.0.1..127.0.0.N
  int rcvbuf = 0;
};

int64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

event_base* g_base = nullptr;
Options g_opt;
uint8_t g_buf[65536];  // every read goes here
std::map<std::string, int> g_failures;

struct Player;
void on_event(evutil_socket_t fd, short what, void* arg);

enum class Phase : uint8_t { idle, connecting, handshake, connect_sent, create_sent, play_sent, http_head, http_body, done };

// RTMP state, freed when the player ends.
struct Rtmp {
  handshake::ClientHello hello;
  std::vector<uint8_t> hs;  // S0S1S2 collected; released after the handshake
  ChunkReader reader;
  ChunkWriter writer;
  uint32_t window = 0;
  uint64_t acked = 0;
};

// HTTP-FLV state: the head until it is parsed, then a small body walker.
struct Http {
  std::string head;
  bool chunked = false;
  // chunked framing
  uint64_t chunk_left = 0;   // data bytes left in the current chunk
  int chunk_state = 0;       // 0 size line, 1 data, 2 CRLF after data
  std::string size_line;
  // FLV walker
  uint32_t flv_skip = 13;    // bytes to skip before the next tag header (FLV header + PreviousTagSize0)
  uint8_t tag[11];
  uint8_t tag_have = 0;
};

struct Player {
  int index = 0;
  bool http = false;
  Phase phase = Phase::idle;
  int fd = -1;
  event* ev = nullptr;
  int64_t start_us = 0;
  int64_t connect_us = -1;   // connect latency
  int64_t media_us = -1;     // first media latency
  int64_t last_media_us = 0; // absolute
  uint64_t bytes = 0;
  std::vector<uint8_t> out;  // unsent bytes (rare: the kernel buffer takes commands whole)
  std::unique_ptr<Rtmp> rtmp;
  std::unique_ptr<Http> http_state;
  std::string fail;          // why it ended, empty while fine
};

std::vector<Player> g_players;

void finish(Player* p, const std::string& reason) {
  if (p->phase == Phase::done) return;
  p->phase = Phase::done;
  if (!reason.empty()) {
    p->fail = reason;
    g_failures[reason]++;
  }
  if (p->ev) {
    event_free(p->ev);
    p->ev = nullptr;
  }
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  p->rtmp.reset();
  p->http_state.reset();
  std::vector<uint8_t>().swap(p->out);
}

void want_write(Player* p, bool on) {
  event_del(p->ev);
  event_assign(p->ev, g_base, p->fd, EV_READ | EV_PERSIST | (on ? EV_WRITE : 0), on_event, p);
  event_add(p->ev, nullptr);
}

void send_bytes(Player* p, const uint8_t* data, size_t n) {
  if (p->out.empty()) {
    ssize_t w = ::send(p->fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return finish(p, std::string("send:") + strerrorname_np(errno));
    size_t sent = w < 0 ? 0 : size_t(w);
    if (sent == n) return;
    p->out.assign(data + sent, data + n);
    want_write(p, true);
    return;
  }
  p->out.insert(p->out.end(), data, data + n);
}

void flush(Player* p) {
  while (!p->out.empty()) {
    ssize_t w = ::send(p->fd, p->out.data(), p->out.size(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return finish(p, std::string("send:") + strerrorname_np(errno));
    }
    p->out.erase(p->out.begin(), p->out.begin() + w);
  }
  want_write(p, false);
}

void send_message(Player* p, const Message& m) {
  std::vector<uint8_t> wire;
  p->rtmp->writer.write(m, &wire);
  send_bytes(p, wire.data(), wire.size());
}

// A server's error description as a failure reason: digits (ports, ids)
// dropped so that one cause is one reason, and cut short.
std::string reason_text(const std::string& d) {
  std::string o;
  for (char c : d)
    if (!isdigit(uint8_t(c)) && o.size() < 80) o += c;
  return o;
}

std::string stream_name(const Player& p) { return g_opt.prefix + std::to_string(p.index % g_opt.streams); }

void got_media(Player* p) {
  int64_t t = now_us();
  if (p->media_us < 0) p->media_us = t - p->start_us;
  p->last_media_us = t;
}

// ---- RTMP -------------------------------------------------------------------

void rtmp_connect(Player* p) {
  amf0::Value props = amf0::Value::Object();
  std::string tc = "rtmp://" + g_opt.host + ":" + std::to_string(g_opt.rtmp_port) + "/" + g_opt.app;
  props.set("app", amf0::Value::String(g_opt.app));
  props.set("flashVer", amf0::Value::String("LNX 9,0,124,2"));
  props.set("tcUrl", amf0::Value::String(tc));
  props.set("fpad", amf0::Value::Boolean(false));
  props.set("capabilities", amf0::Value::Number(15));
  props.set("audioCodecs", amf0::Value::Number(4071));
  props.set("videoCodecs", amf0::Value::Number(252));
  props.set("videoFunction", amf0::Value::Number(1));
  send_message(p, command_message(connect_command(1, std::move(props)), 0));
  p->phase = Phase::connect_sent;
}

void rtmp_message(Player* p, const Message& m) {
  Rtmp& r = *p->rtmp;
  switch (m.type_id) {
    case msg_type::kAudio:
    case msg_type::kVideo:
    case msg_type::kAggregate:
      if (!m.payload.empty()) got_media(p);
      return;
    case msg_type::kWindowAckSize: {
      auto w = decode_u32_control(m);
      if (w.ok()) r.window = *w;
      return;
    }
    case msg_type::kUserControl: {
      auto uc = decode_user_control(m);
      if (uc.ok() && uc->event == user_control::kPingRequest) send_message(p, ping_response_message(uc->value));
      return;
    }
    case msg_type::kCommandAmf0:
    case msg_type::kCommandAmf3: {
      auto c = decode_command(m);
      if (!c.ok()) return finish(p, "rtmp:bad_command");
      if (c->name == "_error") {
        const amf0::Value* info = status_info(*c);
        return finish(p, "rtmp_error:" + (info ? info->get_string("code", "?") : std::string("?")));
      }
      if (c->name == "onStatus") {
        const amf0::Value* info = status_info(*c);
        if (info && info->get_string("level") == "error")
          return finish(p, "rtmp_error:" + info->get_string("code", "?") + ": " + reason_text(info->get_string("description")));
        return;
      }
      if (c->name != "_result") return;
      if (p->phase == Phase::connect_sent && c->transaction_id == 1) {
        send_message(p, window_ack_size_message(2500000));
        send_message(p, command_message(create_stream_command(2), 0));
        p->phase = Phase::create_sent;
      } else if (p->phase == Phase::create_sent && c->transaction_id == 2) {
        uint32_t sid = 1;
        for (const auto& a : c->args)
          if (a.is_number()) sid = uint32_t(a.number);
        Message play = command_message(play_command(3, stream_name(*p)), sid, 8);
        send_message(p, play);
        send_message(p, user_control_message({user_control::kSetBufferLength, sid, 1000}));
        p->phase = Phase::play_sent;
      }
      return;
    }
    default:
      return;
  }
}

void rtmp_read(Player* p, const uint8_t* data, size_t n) {
  Rtmp& r = *p->rtmp;
  if (p->phase == Phase::handshake) {
    size_t take = std::min(n, handshake::kS0S1S2Size - r.hs.size());
    r.hs.insert(r.hs.end(), data, data + take);
    data += take;
    n -= take;
    if (r.hs.size() < handshake::kS0S1S2Size) return;
    auto c2 = handshake::client_c2(r.hs, r.hello);
    if (!c2.ok()) return finish(p, "rtmp:handshake");
    send_bytes(p, c2->data(), c2->size());
    std::vector<uint8_t>().swap(r.hs);
    std::vector<uint8_t>().swap(r.hello.c0c1);
    if (p->phase == Phase::done) return;
    rtmp_connect(p);
    if (p->phase == Phase::done || n == 0) return;
  }
  if (sp::Status st = r.reader.feed({data, n}); !st.ok()) return finish(p, "rtmp:chunk_stream");
  Message m;
  while (p->phase != Phase::done && r.reader.next(&m)) rtmp_message(p, m);
  if (p->phase == Phase::done) return;
  uint64_t total = r.reader.total_bytes() + handshake::kS0S1S2Size;
  if (r.window && total - r.acked >= r.window) {
    r.acked = total;
    send_message(p, ack_message(uint32_t(total)));
  }
}

// ---- HTTP-FLV -----------------------------------------------------------------

// Walks FLV tags in de-chunked body bytes.
void flv_bytes(Player* p, const uint8_t* data, size_t n) {
  Http& h = *p->http_state;
  while (n > 0) {
    if (h.flv_skip > 0) {
      size_t k = std::min<size_t>(h.flv_skip, n);
      h.flv_skip -= uint32_t(k);
      data += k;
      n -= k;
      continue;
    }
    size_t k = std::min<size_t>(11 - h.tag_have, n);
    memcpy(h.tag + h.tag_have, data, k);
    h.tag_have += uint8_t(k);
    data += k;
    n -= k;
    if (h.tag_have < 11) return;
    h.tag_have = 0;
    uint8_t type = h.tag[0] & 0x1f;
    uint32_t size = (uint32_t(h.tag[1]) << 16) | (uint32_t(h.tag[2]) << 8) | h.tag[3];
    if (type != 8 && type != 9 && type != 18) return finish(p, "flv:bad_tag");
    if ((type == 8 || type == 9) && size > 0) got_media(p);
    h.flv_skip = size + 4;  // payload + PreviousTagSize
  }
}

void http_body(Player* p, const uint8_t* data, size_t n) {
  Http& h = *p->http_state;
  if (!h.chunked) return flv_bytes(p, data, n);
  while (n > 0 && p->phase != Phase::done) {
    if (h.chunk_state == 0) {
      const uint8_t* nl = static_cast<const uint8_t*>(memchr(data, '\n', n));
      size_t k = nl ? size_t(nl - data) + 1 : n;
      h.size_line.append(reinterpret_cast<const char*>(data), k);
      data += k;
      n -= k;
      if (h.size_line.size() > 64) return finish(p, "http:bad_chunk");
      if (!nl) return;
      h.chunk_left = strtoull(h.size_line.c_str(), nullptr, 16);
      h.size_line.clear();
      if (h.chunk_left == 0) return finish(p, "http:body_end");
      h.chunk_state = 1;
    } else if (h.chunk_state == 1) {
      size_t k = std::min<uint64_t>(h.chunk_left, n);
      flv_bytes(p, data, k);
      data += k;
      n -= k;
      h.chunk_left -= k;
      if (h.chunk_left == 0) {
        h.chunk_state = 2;
        h.chunk_left = 2;
      }
    } else {
      size_t k = std::min<uint64_t>(h.chunk_left, n);
      data += k;
      n -= k;
      h.chunk_left -= k;
      if (h.chunk_left == 0) h.chunk_state = 0;
    }
  }
}

void http_read(Player* p, const uint8_t* data, size_t n) {
  Http& h = *p->http_state;
  if (p->phase == Phase::http_head) {
    size_t old = h.head.size();
    h.head.append(reinterpret_cast<const char*>(data), n);
    size_t end = h.head.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (h.head.size() > 16384) finish(p, "http:head_too_long");
      return;
    }
    int code = 0;
    if (sscanf(h.head.c_str(), "HTTP/1.%*d %d", &code) != 1) return finish(p, "http:bad_status_line");
    if (code != 200) return finish(p, "http_status:" + std::to_string(code));
    std::string lower = h.head.substr(0, end);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(tolower(c)); });
    h.chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
    size_t body_at = end + 4 - old;
    std::string().swap(h.head);
    p->phase = Phase::http_body;
    data += body_at;
    n -= body_at;
  }
  if (n) http_body(p, data, n);
}

// ---- the loop -------------------------------------------------------------------

void on_connected(Player* p) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) return finish(p, std::string("connect:") + strerrorname_np(err));
  p->connect_us = now_us() - p->start_us;
  want_write(p, false);
  if (p->http) {
    p->phase = Phase::http_head;
    std::string req = "GET /" + g_opt.app + "/" + stream_name(*p) + ".flv HTTP/1.1\r\nHost: " + g_opt.host + ":" +
                      std::to_string(g_opt.http_port) + "\r\nUser-Agent: sp_loadclient\r\nAccept: */*\r\n\r\n";
    send_bytes(p, reinterpret_cast<const uint8_t*>(req.data()), req.size());
  } else {
    p->phase = Phase::handshake;
    p->rtmp->hello = handshake::client_hello(handshake::Kind::simple);
    p->rtmp->hs.reserve(handshake::kS0S1S2Size);
    send_bytes(p, p->rtmp->hello.c0c1.data(), p->rtmp->hello.c0c1.size());
  }
}

void on_event(evutil_socket_t, short what, void* arg) {
  Player* p = static_cast<Player*>(arg);
  if (what & EV_WRITE) {
    if (p->phase == Phase::connecting) {
      on_connected(p);
      if (p->phase == Phase::done) return;
    } else {
      flush(p);
      if (p->phase == Phase::done) return;
    }
  }
  if (!(what & EV_READ) || p->phase == Phase::connecting) return;
  for (int i = 0; i < 4 && p->phase != Phase::done; ++i) {
    ssize_t r = ::recv(p->fd, g_buf, sizeof g_buf, 0);
    if (r == 0) return finish(p, p->media_us < 0 ? "eof_before_media" : "eof_after_media");
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return finish(p, std::string("recv:") + strerrorname_np(errno));
    }
    p->bytes += size_t(r);
    if (p->http)
      http_read(p, g_buf, size_t(r));
    else
      rtmp_read(p, g_buf, size_t(r));
    if (size_t(r) < sizeof g_buf) return;
  }
}

void start_player(Player* p) {
  p->start_us = now_us();
  int port = p->http ? g_opt.http_port : g_opt.rtmp_port;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return finish(p, std::string("socket:") + strerrorname_np(errno));
  p->fd = fd;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (g_opt.rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &g_opt.rcvbuf, sizeof g_opt.rcvbuf);
  if (g_opt.sources > 1) {
    // A source address of its own per group of players: each 127.0.0.x has
    // the whole ephemeral port range. The port is picked at connect().
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + uint32_t(p->index % g_opt.sources));
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
      return finish(p, std::string("bind:") + strerrorname_np(errno));
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(uint16_t(port));
  inet_pton(AF_INET, g_opt.host.c_str(), &to.sin_addr);
  if (p->http)
    p->http_state = std::make_unique<Http>();
  else
    p->rtmp = std::make_unique<Rtmp>();
  p->phase = Phase::connecting;
  p->ev = event_new(g_base, fd, EV_WRITE | EV_PERSIST, on_event, p);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)
    return finish(p, std::string("connect:") + strerrorname_np(errno));
  event_add(p->ev, nullptr);
}

int g_next = 0;
int64_t g_t0 = 0;
event* g_ramp = nullptr;

void on_ramp(evutil_socket_t, short, void*) {
  int64_t elapsed_ms = (now_us() - g_t0) / 1000;
  int n = int(g_players.size());
  while (g_next < n &&
         (g_opt.ramp_ms == 0 || int64_t(g_next) * g_opt.ramp_ms / std::max(1, n) <= elapsed_ms))
    start_player(&g_players[g_next++]);
  if (g_next >= n) event_del(g_ramp);
}

const char* phase_name(Phase ph) {
  switch (ph) {
    case Phase::idle: return "idle";
    case Phase::connecting: return "connect";
    case Phase::handshake: return "rtmp_handshake";
    case Phase::connect_sent: return "rtmp_connect";
    case Phase::create_sent: return "rtmp_create_stream";
    case Phase::play_sent: return "rtmp_play";
    case Phase::http_head: return "http_head";
    case Phase::http_body: return "http_body";
    case Phase::done: return "done";
  }
  return "?";
}

void on_timeout(evutil_socket_t, short, void*) {
  int64_t deadline = int64_t(g_opt.media_timeout_ms) * 1000;
  int64_t t = now_us();
  for (auto& p : g_players)
    if (p.phase != Phase::done && p.phase != Phase::idle && p.media_us < 0 && t - p.start_us > deadline)
      finish(&p, p.connect_us < 0 ? "timeout_connect" : std::string("timeout_no_media_in_") + phase_name(p.phase));
}

double pct(std::vector<int64_t>& v, double q) {
  if (v.empty()) return -1;
  size_t i = size_t(q * double(v.size() - 1) + 0.5);
  return double(v[std::min(i, v.size() - 1)]) / 1000.0;
}

std::string quoted(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (uint8_t(c) >= 0x20) o += c;
  }
  return o + "\"";
}

void report() {
  std::vector<int64_t> media, conn, media_rtmp, media_http;
  int started = 0, connected = 0, got = 0, recent = 0, rtmp_got = 0, http_got = 0, rtmp_n = 0, http_n = 0,
      rtmp_recent = 0, http_recent = 0;
  uint64_t bytes = 0;
  int64_t t = now_us();
  for (auto& p : g_players) {
    (p.http ? http_n : rtmp_n)++;
    if (p.phase == Phase::idle && p.start_us == 0) continue;
    started++;
    bytes += p.bytes;
    if (p.connect_us >= 0) {
      connected++;
      conn.push_back(p.connect_us);
    }
    if (p.media_us >= 0) {
      got++;
      (p.http ? http_got : rtmp_got)++;
      media.push_back(p.media_us);
      (p.http ? media_http : media_rtmp).push_back(p.media_us);
      if (p.phase != Phase::done && t - p.last_media_us <= int64_t(g_opt.recent_ms) * 1000) {
        recent++;
        (p.http ? http_recent : rtmp_recent)++;
      }
    }
    if (p.phase != Phase::done && p.media_us >= 0) {
      // still playing: fine
    } else if (p.phase != Phase::done) {
      g_failures[std::string("no_media_at_end_in_") + phase_name(p.phase)]++;
    }
  }
  std::sort(media.begin(), media.end());
  std::sort(media_rtmp.begin(), media_rtmp.end());
  std::sort(media_http.begin(), media_http.end());
  std::sort(conn.begin(), conn.end());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"players\": %d, \"rtmp_players\": %d, \"http_players\": %d, \"streams\": %d, \"ramp_ms\": %d,\n"
         " \"started\": %d, \"connected\": %d, \"received_media\": %d, \"rtmp_received_media\": %d,"
         " \"http_received_media\": %d, \"receiving_at_end\": %d, \"rtmp_receiving_at_end\": %d,"
         " \"http_receiving_at_end\": %d, \"recent_ms\": %d,\n"
         " \"first_media_ms\": {\"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, \"max\": %.1f},\n"
         " \"rtmp_first_media_ms\": {\"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, \"max\": %.1f},\n"
         " \"http_first_media_ms\": {\"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, \"max\": %.1f},\n"
         " \"connect_ms\": {\"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, \"max\": %.1f},\n"
         " \"bytes\": %llu, \"client_cpu_s\": %.2f, \"client_maxrss_kb\": %ld,\n \"failures\": {",
         int(g_players.size()), rtmp_n, http_n, g_opt.streams, g_opt.ramp_ms, started, connected, got, rtmp_got,
         http_got, recent, rtmp_recent, http_recent, g_opt.recent_ms, pct(media, 0.5), pct(media, 0.95), pct(media, 0.99), pct(media, 1.0),
         pct(media_rtmp, 0.5), pct(media_rtmp, 0.95), pct(media_rtmp, 0.99), pct(media_rtmp, 1.0),
         pct(media_http, 0.5), pct(media_http, 0.95), pct(media_http, 0.99), pct(media_http, 1.0),
         pct(conn, 0.5), pct(conn, 0.95), pct(conn, 0.99), pct(conn, 1.0), (unsigned long long)bytes,
         double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
         ru.ru_maxrss);
  bool first = true;
  for (auto& [k, v] : g_failures) {
    printf("%s%s: %d", first ? "" : ", ", quoted(k).c_str(), v);
    first = false;
  }
  printf("}}\n");
  fflush(stdout);
}

void on_end(evutil_socket_t, short, void*) { event_base_loopexit(g_base, nullptr); }

void usage() {
  fprintf(stderr,
          "usage: sp_loadclient [--host IP] [--rtmp-port P] [--http-port P] [--app APP] [--prefix NAME]\n"
          "                     [--players N] [--streams S] [--http-ratio R] [--ramp-ms T] [--seconds D]\n"
          "                     [--media-timeout-ms M] [--recent-ms W] [--sources K] [--rcvbuf BYTES]\n"
          "Players play APP/NAME<i mod S> over RTMP, or over HTTP-FLV for a fraction R of them;\n"
          "they start evenly over T ms; the run ends D s after the last start; JSON on stdout.\n");
  exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options& o = g_opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (a == "--host") o.host = v;
    else if (a == "--rtmp-port") o.rtmp_port = atoi(v);
    else if (a == "--http-port") o.http_port = atoi(v);
    else if (a == "--app") o.app = v;
    else if (a == "--prefix") o.prefix = v;
    else if (a == "--players") o.players = atoi(v);
    else if (a == "--streams") o.streams = std::max(1, atoi(v));
    else if (a == "--http-ratio") o.http_ratio = atof(v);
    else if (a == "--ramp-ms") o.ramp_ms = atoi(v);
    else if (a == "--seconds") o.seconds = atoi(v);
    else if (a == "--media-timeout-ms") o.media_timeout_ms = atoi(v);
    else if (a == "--recent-ms") o.recent_ms = atoi(v);
    else if (a == "--sources") o.sources = std::clamp(atoi(v), 1, 254);
    else if (a == "--rcvbuf") o.rcvbuf = atoi(v);
    else usage();
  }
  if (!o.http_port) o.http_ratio = 0;
  if (!o.rtmp_port) o.http_ratio = 1;
  if (!o.rtmp_port && !o.http_port) usage();
  if (o.media_timeout_ms <= 0) o.media_timeout_ms = o.seconds * 1000;

  // One descriptor per player plus a few: raise the soft limit to the hard one.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur != RLIM_INFINITY && rlim_t(o.players) + 32 > rl.rlim_cur) {
    fprintf(stderr, "sp_loadclient: %d players need more descriptors than RLIMIT_NOFILE allows (%llu)\n", o.players,
            (unsigned long long)rl.rlim_cur);
    return 1;
  }

  g_base = event_base_new();
  if (!g_base) return 1;
  g_players.resize(size_t(o.players));
  // HTTP players are spread evenly among the RTMP ones (Bresenham), so any
  // prefix of the ramp has the same mix.
  double acc = 0;
  for (int i = 0; i < o.players; ++i) {
    g_players[size_t(i)].index = i;
    acc += o.http_ratio;
    if (acc >= 1.0 - 1e-9) {
      g_players[size_t(i)].http = true;
      acc -= 1.0;
    }
  }
  g_t0 = now_us();
  g_ramp = event_new(g_base, -1, EV_PERSIST, on_ramp, nullptr);
  timeval ms1{0, 1000};
  event_add(g_ramp, &ms1);
  on_ramp(-1, 0, nullptr);
  event* timeout = event_new(g_base, -1, EV_PERSIST, on_timeout, nullptr);
  timeval ms100{0, 100000};
  event_add(timeout, &ms100);
  event* end = evtimer_new(g_base, on_end, nullptr);
  int64_t total_ms = int64_t(o.ramp_ms) + int64_t(o.seconds) * 1000;
  timeval tv{time_t(total_ms / 1000), suseconds_t((total_ms % 1000) * 1000)};
  event_add(end, &tv);
  event_base_dispatch(g_base);
  report();
  return 0;
}
