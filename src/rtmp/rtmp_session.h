// One RTMP proxy session: a client connection (publisher or player), the
// connection the proxy opens to the origin picked for its stream, and the
// relay between them. This is the I/O glue; every byte format comes from the
// pure wire layer (handshake.h, chunk.h, message.h, amf0.h).
//
// Life of a session (see rtmp_session.cpp for the details of each step):
//   client handshake -> client commands (connect, createStream, ...) until
//   publish/play -> stream key -> pick (waiting for the registry) -> origin
//   TCP connect -> origin
//   handshake -> replayed connect/createStream/publish|play -> origin's
//   success status -> relay both ways -> close (flush, then lingering close).
// The relay de-chunks each side and re-chunks toward the other, so protocol
// control stays per hop and message stream ids are mapped; media payload
// bytes are handed to the output buffer by reference, never re-encoded.
// Sockets are driven directly (recv into one worker-wide buffer, writev as
// soon as a batch of input is processed, a write event only while the socket
// is full): the relay is the hot path and costs about what an L4 relay does.
//
// Waiting for the registry. The pick (and the re-pick after an origin's
// connect or handshake failed) goes through RegistryClient, which may answer
// before the call returns (memory) or later from the loop (Redis). Meanwhile
// the session is in State::registry_wait: it keeps the RegistryCall as
// pick_call_, still reads the client but only into its chunk reader (on the
// preconnect limits: nothing is processed, nothing grows past them), and
// the wait shares the origin's connect_timeout budget (deadline_ms_ is set
// when the wait starts, before the first origin attempt). The client going
// away, the deadline or the session's end drops pick_call_, so a late
// answer never reaches a closed session. A failed look-up (timeout,
// unavailable, no origin) answers the client with an error onStatus
// (error_status_code) and ends the session; its end line names the peer,
// the stream key and the reason.
//
// The owner (RtmpService) creates a session per accepted socket and is told
// through `on_done` when it has ended; it must destroy the session later, from
// the event loop, never inside that call.
#pragma once

#include <event2/buffer.h>
#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rtmp/rtmp_conf.h"
#include "core/event_ptr.h"
#include "core/metrics.h"
#include "core/net_addr.h"
#include "registry/registry.h"
#include "registry/registry_client.h"
#include "rtmp/amf0.h"
#include "rtmp/chunk.h"
#include "rtmp/handshake.h"
#include "core/unique_fd.h"
#include "rtmp/message.h"
#include "rtmp/preconnect_budget.h"

namespace sp::rtmp {

// What every session of a worker shares.
struct SessionEnv {
  event_base* base;
  const RtmpConf& conf;
  RegistryClient& registry;     // the worker's; pick may answer later (see "Waiting for the registry")
  PreconnectBudget& preconnect;  // the worker's, shared by its unidentified sessions
};

class Session {
 public:
  using DoneFn = std::function<void(Session*)>;

  // Takes ownership of the accepted socket `fd`.
  Session(const SessionEnv& env, evutil_socket_t fd, const SockAddr& peer, DoneFn on_done);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  // Ends the session now (worker exit): logs its end, no callbacks.
  void abort(const char* reason);

  const std::string& id() const { return id_; }

 private:
  enum class State {
    client_c0c1,       // waiting for C0+C1
    client_c2,         // waiting for C2
    client_commands,   // connect, createStream, ... until publish/play
    registry_wait,     // pick (or re-pick after a failed origin) asked, no answer yet
    origin_connect,    // TCP connect to the origin
    origin_handshake,  // waiting for S0+S1+S2
    origin_commands,   // replayed commands, waiting for the origin's status
    relay,
    closing,           // flushing output, then lingering until EOF
    done,
  };

  // One side of the session: a socket, its events, its output queue and its
  // chunk stream state. Declared so that the events go before the socket.
  struct Hop {
    const char* name;  // "client" / "origin", for logs
    UniqueFd fd;
    EventPtr read_ev;     // EV_READ | EV_PERSIST, added while we want input
    EventPtr write_ev;    // EV_WRITE | EV_PERSIST, added only while output is stuck
    EvBufferPtr out;      // bytes queued toward the peer
    std::vector<uint8_t> handshake;  // handshake bytes gathered so far
    ChunkReader reader;
    ChunkWriter writer;
    uint32_t stream_id = 0;       // this peer's message stream id for the stream
    uint32_t ack_window = 0;      // Window Ack Size the peer announced (0: none)
    uint64_t acked = 0;           // reader bytes at our last Ack to it
    uint64_t handshake_bytes = 0; // bytes read before the chunk stream began
    uint64_t bytes_out = 0;       // bytes queued toward this peer
    bool reading = false;         // read_ev added
    bool writing = false;         // write_ev added
    bool connecting = false;      // origin: TCP connect in progress
    bool paused = false;          // reading stopped by back-pressure
    bool eof = false;             // peer closed (or errored) its side
    bool shut = false;            // we sent FIN after flushing

    Hop(const char* n, ChunkReaderLimits limits) : name(n), reader(limits) {}
    uint64_t bytes_in() const { return handshake_bytes + reader.total_bytes(); }
    size_t queued() const { return out ? evbuffer_get_length(out.get()) : 0; }
  };

  // libevent callbacks (arg = Session*).
  static void on_client_read(evutil_socket_t, short, void* arg);
  static void on_origin_read(evutil_socket_t, short, void* arg);
  static void on_client_write(evutil_socket_t, short, void* arg);
  static void on_origin_write(evutil_socket_t, short, void* arg);
  static void on_timer(evutil_socket_t, short, void* arg);

  // Socket plumbing.
  bool open_hop(Hop& hop, evutil_socket_t fd, event_callback_fn on_read, event_callback_fn on_write);
  void set_reading(Hop& hop, bool on);
  void readable(Hop& hop);
  void flush(Hop& hop);
  void writable(Hop& hop);
  void flush_all();

  // Client side.
  void client_bytes(std::span<const uint8_t> bytes);
  bool read_client_handshake(std::span<const uint8_t>* bytes);
  void process_client_messages();
  void client_message(Message& m);
  void client_command(Message& m);
  void map_stream_argument(Message& m);
  void answer_connect(const Command& cmd);
  void client_publish_or_play(Message& m, const Command& cmd);

  // Origin side.
  void start_origin();
  void origin_connected();
  void origin_bytes(std::span<const uint8_t> bytes);
  bool read_origin_handshake(std::span<const uint8_t>* bytes);
  void process_origin_messages();
  void origin_message(Message& m);
  void origin_command(Message& m);
  void send_origin_stream_commands();
  // Asks the registry for the stream's origin; picked() gets the answer,
  // now or later (State::registry_wait).
  void ask_registry();
  void picked(Result<Pick> pick);
  // Passive health: counts a failed connect or handshake against the origin.
  void report_origin_failure(const std::string& why);
  // The origin's connect or handshake failed: reports it, then asks the
  // registry again when connect_timeout has time left and fewer than 3
  // origins were tried; picked() retries on the new origin if the registry
  // now sends the stream elsewhere (the failed one is down and no client of
  // the stream remains on it). Otherwise, or when the re-pick gives nothing
  // new, the client is refused with (kind, description) and the session
  // closes with `reason`.
  void origin_failed(const std::string& why, ErrorKind kind, std::string description, std::string reason);
  void give_up();

  // Both sides.
  bool feed(Hop& hop, std::span<const uint8_t> bytes);
  bool feed_unidentified(std::span<const uint8_t> bytes);
  bool keep_for_origin(const Command& cmd);
  void identified();
  bool control_message(Hop& from, Message& m);
  void send_ack_if_due(Hop& from);
  void forward(Hop& from, Hop& to, Message& m);
  void send(Hop& to, const Message& m);
  void send_raw(Hop& to, std::span<const uint8_t> bytes);
  // `n` bytes were queued toward `to`: the session's and the metrics' counts.
  void count_out(Hop& to, uint64_t n) {
    to.bytes_out += n;
    if (&to == &client_) meter_.client_out(n);
    else meter_.origin_out(n);
  }
  void send_status(std::string_view level, std::string_view code, const std::string& description);
  // The client's publish/play failed with an error of `kind`: an error
  // onStatus whose code comes from error_status_code (rtmp/message.h).
  void refuse(ErrorKind kind, const std::string& description);
  void start_relay();
  void forget_replay();
  void relay_media(Hop& from);
  void hop_closed(Hop& hop, const std::string& why);
  Hop& other(Hop& h) { return &h == &client_ ? origin_ : client_; }

  // Ending.
  void fail(const std::string& reason);
  void close(const std::string& reason);
  void closing_progress();
  void drop_hop(Hop& hop);
  void finish();
  void log_end();
  void arm_timer(int64_t at_ms);

  std::string describe_origin() const;

  SessionEnv env_;
  std::string id_;
  SockAddr peer_;
  std::string peer_text_;
  DoneFn on_done_;
  State state_ = State::client_c0c1;
  Hop client_;
  Hop origin_;
  EventPtr timer_;
  int64_t started_ms_ = 0;
  int64_t deadline_ms_ = 0;       // handshake / origin / closing deadline
  int64_t last_activity_ms_ = 0;  // for idle_timeout while relaying
  std::string end_reason_;
  metrics::SessionMeter meter_;      // core/metrics.h: counted from start() to finish()
  int64_t origin_connect_us_ = 0;    // when the origin connect began

  // What the client told us, replayed to the origin.
  bool client_chunks_ = false;  // handshake done: the client reads chunks
  bool connected_ = false;
  Command connect_;
  std::vector<Command> pre_publish_;  // releaseStream / FCPublish / FCSubscribe
  Message publish_;                  // the publish or play command message
  bool publishing_ = false;
  std::string stream_name_;
  std::string stream_key_;
  bool counted_ = false;  // registered as a client of stream_key_
  // Until the origin accepted publish/play the client's reader is on the
  // preconnect limits and its partial messages are charged to the worker.
  bool identified_ = false;
  size_t preconnect_charged_ = 0;
  size_t kept_bytes_ = 0;  // decoded connect_ + pre_publish_, about

  // The origin.
  Pick pick_;
  bool picked_ = false;
  std::vector<std::string> origins_tried_;  // servers that failed this client (origin_failed)
  RegistryCall pick_call_;                  // the look-up State::registry_wait waits for
  // What the client is told if the re-pick after a failed origin gives
  // nothing new (origin_failed).
  struct GiveUp {
    ErrorKind kind = ErrorKind::unavailable;
    std::string description;
    std::string reason;
  } give_up_;
  std::string retry_note_;  // "origin X failed (why)", for the retry log line
  handshake::ClientHello hello_;
  double create_stream_tid_ = 0;
};

}  // namespace sp::rtmp
