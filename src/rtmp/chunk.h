// The RTMP chunk stream: how messages are cut into chunks on the wire and put
// back together. After the handshake every byte in both directions is chunks.
//
// ChunkReader is incremental: the session feeds whatever the socket gave it
// (split anywhere, even inside a header) and pops complete Messages. It
// applies Set Chunk Size and Abort itself, at the exact byte where they take
// effect, and still hands them out so the session can see them. Memory is
// bounded: one message may not exceed max_message_size, and the partial
// messages of all chunk streams together may not exceed max_buffered_bytes.
// What counts is the memory the partial messages hold (their capacity, which
// the reader grows itself, at chunk boundaries), so the count does not depend
// on how the input was split. The limits may be changed between feeds: a
// session keeps a stranger on small ones until it knows who it is.
//
// A relay need not hold whole messages: messages whose type is in the
// reader's streamed set (set_streamed_types; audio and video while relaying)
// are handed out chunk by chunk as pieces (Message::piece), and the reader
// keeps at most the chunk in progress. ChunkWriter::write_piece re-chunks the
// pieces toward the other peer as they come, so a session's memory per
// direction is about one chunk, not one (key)frame.
//
// ChunkWriter does the reverse for one outgoing direction, remembering the
// last header per chunk stream so it can pick the smallest header (fmt 0-3).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace sp::rtmp {

inline constexpr uint32_t kDefaultChunkSize = 128;   // until Set Chunk Size says otherwise
inline constexpr uint32_t kMaxChunkSize = 0xffffff;  // the largest value peers may announce
inline constexpr uint32_t kMinCsid = 2;               // 0 and 1 only select the header form
inline constexpr uint32_t kMaxCsid = 65599;           // 64 + 0xffff, the 3-byte basic header
inline constexpr uint32_t kExtendedTimestamp = 0xffffff;

// Chunk stream ids used by convention (any 2..65599 is legal).
inline constexpr uint32_t kCsidControl = 2;   // protocol control messages, stream 0
inline constexpr uint32_t kCsidCommand = 3;   // connect, createStream, _result...

// One complete RTMP message.
struct Message {
  uint8_t type_id = 0;
  uint32_t timestamp = 0;  // absolute, in milliseconds (wraps at 2^32)
  uint32_t stream_id = 0;  // message stream id (0 = the NetConnection)
  uint32_t csid = kCsidCommand;
  std::vector<uint8_t> payload;
  // A piece of a streamed message (ChunkReader::set_streamed_types): payload
  // holds one chunk's bytes, which start at `offset` in a message of
  // `length` bytes. Pieces of one message come in order; the last one ends
  // at `length`.
  bool piece = false;
  uint32_t offset = 0;
  uint32_t length = 0;
};

struct ChunkReaderLimits {
  uint32_t max_message_size = 16 * 1024 * 1024;
  size_t max_buffered_bytes = 32 * 1024 * 1024;
  // Real peers use a handful of chunk streams; each remembered one costs memory.
  size_t max_chunk_streams = 1024;
};

// Which limit a failed feed ran into (none for malformed input).
enum class ChunkLimit { none, message_size, buffered_bytes, chunk_streams };

class ChunkReader {
 public:
  explicit ChunkReader(ChunkReaderLimits limits = {});

  // Consumes all of `bytes`. Once an error is returned the stream is out of
  // sync for good: every later call returns the same error.
  Status feed(std::span<const uint8_t> bytes);
  // The next complete message, in arrival order; false when none is ready.
  bool next(Message* out);
  size_t ready() const { return ready_.size() - ready_head_; }

  uint32_t chunk_size() const { return chunk_size_; }
  // Bytes held in partial messages right now (what the buffer cap counts):
  // the memory reserved for them, at most their declared lengths.
  size_t buffered_bytes() const { return buffered_; }

  const ChunkReaderLimits& limits() const { return limits_; }
  // New limits for the headers and chunks that follow; what is already
  // buffered stays. Lowering max_buffered_bytes below buffered_bytes() makes
  // the next chunk that needs more memory fail.
  void set_limits(const ChunkReaderLimits& limits) { limits_ = limits; }
  // After a failed feed: the limit it exceeded, if that was the cause.
  ChunkLimit limit_hit() const { return limit_hit_; }
  // Bytes fed so far, for the session's acknowledgement window.
  uint64_t total_bytes() const { return total_bytes_; }

  // Messages whose type_id has its bit set in `mask` (1u << type_id) and
  // that travel on a chunk stream above kCsidCommand (so they never share
  // one with the control and command messages a session writes itself) are
  // no longer reassembled: each of their chunks is handed out by next() as
  // a piece (Message::piece) once the chunk is complete. Applies to messages
  // whose first chunk comes after the call; 0 (the default) turns it off.
  void set_streamed_types(uint32_t mask) { streamed_types_ = mask; }

 private:
  // What the reader remembers per chunk stream: the last header, to expand
  // fmt 1-3 headers, and the message being reassembled.
  struct Stream {
    bool has_header = false;
    uint8_t type_id = 0;
    uint32_t stream_id = 0;
    uint32_t length = 0;
    uint32_t timestamp = 0;
    uint32_t delta = 0;          // what fmt 3 adds when it starts a new message
    bool extended = false;       // last header carried an extended timestamp
    uint32_t extended_value = 0;
    std::vector<uint8_t> payload;  // partial message (streamed: the chunk in progress)
    bool in_message = false;
    bool streamed = false;  // the message in progress is handed out as pieces
    uint32_t handed = 0;    // streamed: bytes of it already handed out
  };

  // Returns how many bytes of `in` were consumed (0 = need more), or error.
  Result<size_t> parse_header(std::span<const uint8_t> in);
  static void advance_timestamp(Stream* s, uint8_t fmt, uint32_t ts_field, bool new_message);
  Result<size_t> take_payload(std::span<const uint8_t> in);
  Status consume(std::span<const uint8_t> bytes);
  Status finish_split_header(std::span<const uint8_t>* in);
  Status complete_message(uint32_t csid, Stream* s);
  void hand_out_piece(uint32_t csid, Stream* s);
  Message take_payload(uint32_t csid, Stream* s);
  void push_ready(Message&& m);
  Status apply_control(const Message& m);
  Status reserve_chunk(uint32_t csid, Stream* s);
  Status limit_error(ChunkLimit which, std::string message);

  ChunkReaderLimits limits_;
  uint32_t chunk_size_ = kDefaultChunkSize;
  std::unordered_map<uint32_t, Stream> streams_;
  std::vector<uint8_t> header_buf_;  // an incomplete chunk header carried to the next feed
  uint32_t current_csid_ = 0;        // chunk whose payload is being read
  Stream* current_ = nullptr;        // its state (map nodes never move; none are erased)
  uint32_t chunk_left_ = 0;          // payload bytes still due in the current chunk
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
  // Complete messages not yet taken, from ready_head_ on. Freed whenever
  // drained, so an idle reader holds no queue memory (a deque would).
  std::vector<Message> ready_;
  size_t ready_head_ = 0;
  Status error_;
  ChunkLimit limit_hit_ = ChunkLimit::none;
  uint32_t streamed_types_ = 0;
};

class ChunkWriter {
 public:
  // The outgoing chunk size. The caller must send Set Chunk Size to the peer
  // first (see message.h), then switch the writer.
  Status set_chunk_size(uint32_t size);
  uint32_t chunk_size() const { return chunk_size_; }

  // Appends msg as chunks to *out, using msg.csid.
  void write(const Message& msg, std::vector<uint8_t>* out);

  // The same chunks without copying the payload: emit(ctx, header, slice) is
  // called once per chunk, in order, with the chunk's header bytes (valid
  // only during the call) and its slice of msg.payload. A relay uses it to
  // hand payload bytes to its socket buffer by reference.
  using Emit = void (*)(void* ctx, std::span<const uint8_t> header, std::span<const uint8_t> payload);
  void write(const Message& msg, Emit emit, void* ctx);

  // Writes one piece of a relayed message (Message::piece, from a reader's
  // streamed types), in order, first piece first (it picks the header as
  // write() does). Every chunk whose bytes are all there is emitted at once
  // (payload valid only during the call); bytes that do not fill a chunk
  // wait in the writer, at most one chunk per chunk stream, until the next
  // piece completes it. Pieces at least as large as this writer's chunk
  // size never wait (the usual case: encoders and origins send 4096 or more).
  void write_piece(const Message& piece, Emit emit, void* ctx);
  // The sender aborted the message in progress on `csid`: its waiting bytes
  // and the rest of its pieces are dropped and the chunk stream starts over
  // with a full header. True if chunks of it were already emitted, so the
  // peer must be sent an Abort for csid.
  bool abort_piece(uint32_t csid);
  // Bytes waiting for a chunk to fill, all chunk streams together.
  size_t pending_bytes() const;

  // Forgets the last header of every chunk stream, so the next message on each
  // starts with a full fmt 0 header (e.g. after sending an Abort).
  void reset();

 private:
  struct Last {
    uint8_t type_id = 0;
    uint32_t stream_id = 0;
    uint32_t length = 0;
    uint32_t timestamp = 0;
    uint32_t delta = 0;
    bool delta_valid = false;  // last header was fmt 1/2 (fmt 3 may repeat its delta)
    bool extended = false;
    // A message relayed piece by piece (write_piece), while open.
    bool piece_open = false;
    bool piece_extended = false;  // its chunks repeat piece_ts_field
    uint32_t piece_ts_field = 0;
    uint32_t piece_total = 0;
    uint32_t piece_sent = 0;       // bytes emitted as chunks
    uint8_t piece_header_len = 0;  // its first chunk's header, until emitted
    uint8_t piece_header[18] = {};
    std::vector<uint8_t> pending;  // bytes short of a whole chunk
  };

  // Picks and records the first header of a `length`-byte message on
  // msg.csid into header_; *extended / *ts_field say what continuation
  // chunks repeat.
  Last& start_message(const Message& msg, uint32_t length, bool* extended, uint32_t* ts_field);
  // header_ = the header of the piece message's next chunk.
  void piece_chunk_header(const Last& l, uint32_t csid);
  void emit_pending(Last& l, uint32_t csid, Emit emit, void* ctx);

  uint32_t chunk_size_ = kDefaultChunkSize;
  std::unordered_map<uint32_t, Last> last_;
  std::vector<uint8_t> header_;  // scratch for the emitting write(), reused
};

// Header encoding helpers, public so tests can craft hostile chunks.
void put_basic_header(std::vector<uint8_t>* out, uint8_t fmt, uint32_t csid);

}  // namespace sp::rtmp
