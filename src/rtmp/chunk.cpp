// Chunk stream reader and writer (see chunk.h).
//
// The reader is a two-state machine: either it is reading a chunk header, or
// it is copying `chunk_left_` payload bytes of the current chunk into that
// chunk stream's partial message. A header split across feeds is kept in
// header_buf_ (at most 18 bytes), so nothing but partial messages is buffered.
// Headers are parsed only when complete, so state changes happen once per chunk.
// The memory for a chunk's payload is reserved when its header is parsed
// (doubling, never past the message's declared length), and the buffer cap
// is checked there: the count is the same however the input was split.
// A streamed message (set_streamed_types) reserves one chunk at a time and
// hands each chunk out as a piece when it is complete, so the reader never
// holds more of it than the chunk in progress.
#include "rtmp/chunk.h"

#include <algorithm>
#include <string>

#include "rtmp/bytes.h"

namespace sp::rtmp {
namespace {

// 3-byte basic header + 11-byte fmt 0 header + 4-byte extended timestamp.
constexpr size_t kMaxHeaderSize = 18;
constexpr uint8_t kSetChunkSizeType = 1;
constexpr uint8_t kAbortType = 2;

std::string csid_text(uint32_t csid) { return "csid " + std::to_string(csid); }

// The 1-, 2- or 3-byte basic header: fmt and chunk stream id. False if incomplete.
bool read_basic_header(ByteReader* r, uint8_t* fmt, uint32_t* csid) {
  uint8_t b0;
  if (!r->u8(&b0)) return false;
  *fmt = b0 >> 6;
  *csid = b0 & 0x3f;
  if (*csid == 0) {
    uint8_t b1;
    if (!r->u8(&b1)) return false;
    *csid = 64 + b1;
  } else if (*csid == 1) {
    uint8_t b1, b2;
    if (!r->u8(&b1) || !r->u8(&b2)) return false;
    *csid = 64 + b1 + 256u * b2;
  }
  return true;
}

}  // namespace

// ---- reader -----------------------------------------------------------------

ChunkReader::ChunkReader(ChunkReaderLimits limits) : limits_(limits) {}

Status ChunkReader::feed(std::span<const uint8_t> bytes) {
  if (!error_.ok()) return error_;
  total_bytes_ += bytes.size();
  Status st = consume(bytes);
  if (!st.ok()) error_ = st;
  return st;
}

Status ChunkReader::consume(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    if (chunk_left_ > 0) {
      Result<size_t> n = take_payload(bytes);
      if (!n.ok()) return n.status();
      bytes = bytes.subspan(*n);
    } else if (header_buf_.empty()) {
      Result<size_t> used = parse_header(bytes);
      if (!used.ok()) return used.status();
      if (*used == 0) {  // incomplete: keep the fragment for the next feed
        header_buf_.assign(bytes.begin(), bytes.end());
        return Status::Ok();
      }
      bytes = bytes.subspan(*used);
    } else {
      Status st = finish_split_header(&bytes);
      if (!st.ok()) return st;
    }
  }
  return Status::Ok();
}

// Completes a header begun in an earlier feed: joins the kept fragment with
// the front of *in, parses, and advances *in past what the header used.
Status ChunkReader::finish_split_header(std::span<const uint8_t>* in) {
  size_t old = header_buf_.size();
  size_t add = std::min(kMaxHeaderSize - old, in->size());
  header_buf_.insert(header_buf_.end(), in->begin(), in->begin() + add);
  Result<size_t> used = parse_header(header_buf_);
  if (!used.ok()) return used.status();
  if (*used == 0) {
    *in = in->subspan(add);
    return Status::Ok();
  }
  std::vector<uint8_t> joined;
  joined.swap(header_buf_);
  if (*used >= old) {
    *in = in->subspan(*used - old);
    return Status::Ok();
  }
  // The header ended inside the kept fragment: a fmt 3 chunk whose optional
  // extended timestamp turned out to be absent. The rest of the fragment is
  // payload; *in has not been consumed at all.
  return consume(std::span<const uint8_t>(joined).subspan(*used, old - *used));
}

// Applies a header's timestamp field to its chunk stream.
void ChunkReader::advance_timestamp(Stream* s, uint8_t fmt, uint32_t ts_field, bool new_message) {
  if (fmt == 0) {
    // A fmt 0 timestamp also serves as the delta a following fmt 3 repeats
    // (what ffmpeg, librtmp and SRS do).
    s->timestamp = ts_field;
    s->delta = ts_field;
  } else if (fmt <= 2) {
    s->delta = ts_field;
    s->timestamp += ts_field;
  } else if (new_message) {
    s->timestamp += s->delta;
  }
}

Result<size_t> ChunkReader::parse_header(std::span<const uint8_t> in) {
  ByteReader r(in);
  uint8_t fmt;
  uint32_t csid;
  if (!read_basic_header(&r, &fmt, &csid)) return size_t(0);

  auto it = streams_.find(csid);
  bool known = it != streams_.end() && it->second.has_header;
  if (fmt != 0 && !known) {
    return Result<size_t>::Error(ErrorKind::bad_input, "rtmp chunk: fmt " + std::to_string(fmt) + " header on " +
                                                           csid_text(csid) + " with no previous header");
  }
  if (it == streams_.end() && streams_.size() >= limits_.max_chunk_streams) {
    return limit_error(ChunkLimit::chunk_streams, "rtmp chunk: more than " +
                                                      std::to_string(limits_.max_chunk_streams) +
                                                      " chunk streams");
  }
  Stream& s = streams_[csid];
  if (fmt != 3 && s.in_message) {
    return Result<size_t>::Error(ErrorKind::bad_input, "rtmp chunk: fmt " + std::to_string(fmt) + " header on " +
                                                           csid_text(csid) + " before its previous message completed");
  }

  // Read every field before touching state: the header may be incomplete.
  uint32_t ts_field = 0, length = s.length, stream_id = s.stream_id;
  uint8_t type_id = s.type_id;
  if (fmt <= 2 && !r.u24(&ts_field)) return size_t(0);
  if (fmt <= 1 && (!r.u24(&length) || !r.u8(&type_id))) return size_t(0);
  if (fmt == 0 && !r.u32_le(&stream_id)) return size_t(0);

  bool extended = fmt <= 2 ? ts_field == kExtendedTimestamp : s.extended;
  if (fmt <= 2 && extended && !r.u32(&ts_field)) return size_t(0);
  if (fmt == 3 && extended) {
    // The spec repeats the extended timestamp on fmt 3 chunks, but some
    // encoders omit it. Take the 4 bytes only if they repeat the value.
    std::span<const uint8_t> peek = r.rest();
    if (peek.size() < 4) return size_t(0);
    uint32_t v = uint32_t(peek[0]) << 24 | uint32_t(peek[1]) << 16 | uint32_t(peek[2]) << 8 | peek[3];
    if (v == s.extended_value) r.u32(&v);
  }

  if (length > limits_.max_message_size) {
    return limit_error(ChunkLimit::message_size,
                       "rtmp chunk: message of " + std::to_string(length) + " bytes on " + csid_text(csid) +
                           " exceeds the limit of " + std::to_string(limits_.max_message_size));
  }

  bool new_message = !s.in_message;
  advance_timestamp(&s, fmt, ts_field, new_message);
  if (fmt <= 2) {
    s.extended = extended;
    s.extended_value = extended ? ts_field : 0;
  }
  s.has_header = true;
  s.length = length;
  s.type_id = type_id;
  s.stream_id = stream_id;

  if (new_message) {
    s.in_message = true;
    s.payload.clear();
    s.streamed = csid > kCsidCommand && type_id < 32 && (streamed_types_ >> type_id & 1u) != 0;
    s.handed = 0;
  }
  current_csid_ = csid;
  current_ = &s;
  chunk_left_ = std::min<uint32_t>(chunk_size_, length - s.handed - uint32_t(s.payload.size()));
  size_t used = r.position();
  if (chunk_left_ == 0) {  // zero-length message: complete at its header
    Status st = complete_message(csid, &s);
    if (!st.ok()) return st;
    return used;
  }
  Status st = reserve_chunk(csid, &s);
  if (!st.ok()) return st;
  return used;
}

// Makes room for the chunk that starts now (chunk_left_ bytes), counted in
// buffered_ before any of it arrives. Grows by doubling (or to the end of
// the chunk, if more), never past the declared length.
Status ChunkReader::reserve_chunk(uint32_t csid, Stream* s) {
  size_t have = s->payload.capacity();
  size_t need = s->payload.size() + chunk_left_;
  if (need <= have) return Status::Ok();
  size_t grow = std::min<size_t>(s->length, std::max(need, 2 * have));
  if (buffered_ - have + grow > limits_.max_buffered_bytes) {
    return limit_error(ChunkLimit::buffered_bytes,
                       "rtmp chunk: partial messages would hold " + std::to_string(buffered_ - have + grow) +
                           " bytes (a chunk of " + std::to_string(chunk_left_) + " on " + csid_text(csid) +
                           "), over the limit of " + std::to_string(limits_.max_buffered_bytes));
  }
  s->payload.reserve(grow);
  buffered_ = buffered_ - have + s->payload.capacity();
  return Status::Ok();
}

Status ChunkReader::limit_error(ChunkLimit which, std::string message) {
  limit_hit_ = which;
  return Status::Error(ErrorKind::bad_input, std::move(message));
}

Result<size_t> ChunkReader::take_payload(std::span<const uint8_t> in) {
  Stream& s = *current_;
  size_t n = std::min<size_t>(in.size(), chunk_left_);
  s.payload.insert(s.payload.end(), in.begin(), in.begin() + n);  // within what reserve_chunk made room for
  chunk_left_ -= uint32_t(n);
  if (chunk_left_ == 0 && s.streamed) {
    hand_out_piece(current_csid_, &s);
  } else if (chunk_left_ == 0 && s.payload.size() == s.length) {
    Status st = complete_message(current_csid_, &s);
    if (!st.ok()) return st;
  }
  return n;
}

// A streamed message's chunk is complete: it goes out as a piece and its
// memory with it.
void ChunkReader::hand_out_piece(uint32_t csid, Stream* s) {
  uint32_t offset = s->handed;
  Message m = take_payload(csid, s);
  m.piece = true;
  m.offset = offset;
  m.length = s->length;
  s->handed += uint32_t(m.payload.size());
  if (s->handed == s->length) s->in_message = false;
  push_ready(std::move(m));
}

// The bytes `s` holds, as a message with its header: they leave the reader
// (and the buffer count) with it.
Message ChunkReader::take_payload(uint32_t csid, Stream* s) {
  Message m;
  m.type_id = s->type_id;
  m.timestamp = s->timestamp;
  m.stream_id = s->stream_id;
  m.csid = csid;
  buffered_ -= s->payload.capacity();
  m.payload = std::move(s->payload);
  s->payload = std::vector<uint8_t>();
  return m;
}

Status ChunkReader::complete_message(uint32_t csid, Stream* s) {
  Message m = take_payload(csid, s);
  s->in_message = false;
  Status st = apply_control(m);
  if (!st.ok()) return st;
  push_ready(std::move(m));
  return Status::Ok();
}

// Set Chunk Size and Abort change how the very next chunk is read, so the
// reader applies them itself instead of leaving it to the session.
Status ChunkReader::apply_control(const Message& m) {
  if (m.type_id != kSetChunkSizeType && m.type_id != kAbortType) return Status::Ok();
  ByteReader r(m.payload);
  uint32_t v;
  if (!r.u32(&v)) {
    return Status::Error(ErrorKind::bad_input, "rtmp chunk: control message type " + std::to_string(m.type_id) +
                                                   " has a " + std::to_string(m.payload.size()) + "-byte payload");
  }
  if (m.type_id == kSetChunkSizeType) {
    if (v == 0 || v > kMaxChunkSize)
      return Status::Error(ErrorKind::bad_input, "rtmp chunk: peer set an invalid chunk size " + std::to_string(v));
    chunk_size_ = v;
    return Status::Ok();
  }
  auto it = streams_.find(v);
  if (it != streams_.end() && it->second.in_message) {
    buffered_ -= it->second.payload.capacity();
    std::vector<uint8_t>().swap(it->second.payload);  // frees it (= {} would keep the capacity)
    it->second.in_message = false;
  }
  return Status::Ok();
}

void ChunkReader::push_ready(Message&& m) {
  if (ready_.empty()) ready_.reserve(8);
  ready_.push_back(std::move(m));
}

bool ChunkReader::next(Message* out) {
  if (ready_head_ == ready_.size()) return false;
  *out = std::move(ready_[ready_head_++]);
  if (ready_head_ == ready_.size()) {
    std::vector<Message>().swap(ready_);
    ready_head_ = 0;
  }
  return true;
}

// ---- writer -----------------------------------------------------------------

void put_basic_header(std::vector<uint8_t>* out, uint8_t fmt, uint32_t csid) {
  uint8_t top = uint8_t(fmt << 6);
  if (csid < 64) {
    put_u8(out, top | uint8_t(csid));
  } else if (csid < 64 + 256) {
    put_u8(out, top | 0);
    put_u8(out, uint8_t(csid - 64));
  } else {
    put_u8(out, top | 1);
    put_u8(out, uint8_t((csid - 64) & 0xff));
    put_u8(out, uint8_t((csid - 64) >> 8));
  }
}

Status ChunkWriter::set_chunk_size(uint32_t size) {
  if (size == 0 || size > kMaxChunkSize)
    return Status::Error(ErrorKind::bad_input, "rtmp chunk: invalid outgoing chunk size " + std::to_string(size));
  chunk_size_ = size;
  return Status::Ok();
}

void ChunkWriter::reset() { last_.clear(); }

void ChunkWriter::write(const Message& msg, std::vector<uint8_t>* out) {
  write(
      msg,
      [](void* ctx, std::span<const uint8_t> header, std::span<const uint8_t> payload) {
        auto* v = static_cast<std::vector<uint8_t>*>(ctx);
        put_bytes(v, header);
        put_bytes(v, payload);
      },
      out);
}

void ChunkWriter::write(const Message& msg, Emit emit, void* ctx) {
  uint32_t length = uint32_t(msg.payload.size());
  bool extended;
  uint32_t ts_field;
  start_message(msg, length, &extended, &ts_field);
  std::vector<uint8_t>* out = &header_;
  size_t off = 0;
  while (true) {
    size_t n = std::min<size_t>(chunk_size_, length - off);
    emit(ctx, *out, std::span(msg.payload).subspan(off, n));
    off += n;
    if (off >= length) break;
    out->clear();
    put_basic_header(out, 3, msg.csid);
    if (extended) put_u32(out, ts_field);  // continuation chunks repeat it
  }
}

ChunkWriter::Last& ChunkWriter::start_message(const Message& msg, uint32_t length, bool* extended_out,
                                              uint32_t* ts_field_out) {
  auto it = last_.find(msg.csid);
  Last& l = last_[msg.csid];

  // Pick the smallest header that lets the reader reconstruct this message.
  uint8_t fmt = 0;
  uint32_t delta = msg.timestamp - l.timestamp;
  if (it != last_.end() && msg.stream_id == l.stream_id && msg.timestamp >= l.timestamp) {
    if (length != l.length || msg.type_id != l.type_id) {
      fmt = 1;
    } else if (l.delta_valid && !l.extended && delta == l.delta) {
      fmt = 3;  // same shape, same delta: the reader repeats the last delta
    } else {
      fmt = 2;
    }
  }
  uint32_t ts_field = fmt == 0 ? msg.timestamp : delta;
  bool extended = fmt != 3 && ts_field >= kExtendedTimestamp;

  std::vector<uint8_t>* out = &header_;
  out->clear();
  put_basic_header(out, fmt, msg.csid);
  if (fmt <= 2) put_u24(out, extended ? kExtendedTimestamp : ts_field);
  if (fmt <= 1) {
    put_u24(out, length);
    put_u8(out, msg.type_id);
  }
  if (fmt == 0) put_u32_le(out, msg.stream_id);
  if (extended) put_u32(out, ts_field);
  *extended_out = extended;
  *ts_field_out = ts_field;

  l.type_id = msg.type_id;
  l.stream_id = msg.stream_id;
  l.length = length;
  l.timestamp = msg.timestamp;
  if (fmt == 1 || fmt == 2) l.delta = delta;
  // After fmt 0 readers disagree on what fmt 3 would add, so never rely on it.
  l.delta_valid = fmt != 0;
  if (fmt != 3) l.extended = extended;
  return l;
}

void ChunkWriter::piece_chunk_header(const Last& l, uint32_t csid) {
  header_.clear();
  if (l.piece_sent == 0) {
    header_.assign(l.piece_header, l.piece_header + l.piece_header_len);
    return;
  }
  put_basic_header(&header_, 3, csid);
  if (l.piece_extended) put_u32(&header_, l.piece_ts_field);
}

// Emits the whole chunks the waiting bytes make (after a chunk size change
// they may make more than one).
void ChunkWriter::emit_pending(Last& l, uint32_t csid, Emit emit, void* ctx) {
  size_t used = 0;
  while (used < l.pending.size()) {
    uint32_t n = std::min(chunk_size_, l.piece_total - l.piece_sent);
    if (l.pending.size() - used < n) break;
    piece_chunk_header(l, csid);
    emit(ctx, header_, std::span(l.pending).subspan(used, n));
    l.piece_sent += n;
    used += n;
  }
  if (used == 0) return;
  l.pending.erase(l.pending.begin(), l.pending.begin() + ptrdiff_t(used));
  if (l.pending.empty()) std::vector<uint8_t>().swap(l.pending);  // held only while a chunk is short
}

void ChunkWriter::write_piece(const Message& piece, Emit emit, void* ctx) {
  Last* l;
  if (piece.offset == 0) {
    bool extended;
    uint32_t ts_field;
    l = &start_message(piece, piece.length, &extended, &ts_field);
    l->piece_open = true;
    l->piece_extended = extended;
    l->piece_ts_field = ts_field;
    l->piece_total = piece.length;
    l->piece_sent = 0;
    l->piece_header_len = uint8_t(header_.size());
    std::copy(header_.begin(), header_.end(), l->piece_header);
    std::vector<uint8_t>().swap(l->pending);
  } else {
    auto it = last_.find(piece.csid);
    if (it == last_.end() || !it->second.piece_open) return;  // aborted: the rest is dropped
    l = &it->second;
  }
  // Pieces arrive in order and never past the message's end (ChunkReader).
  if (piece.offset != l->piece_sent + l->pending.size() ||
      piece.payload.size() > l->piece_total - piece.offset)
    return;
  emit_pending(*l, piece.csid, emit, ctx);  // the chunk size may have shrunk since
  std::span<const uint8_t> data(piece.payload);
  while (!data.empty()) {
    uint32_t n = std::min(chunk_size_, l->piece_total - l->piece_sent);
    if (l->pending.empty() && data.size() >= n) {
      piece_chunk_header(*l, piece.csid);
      emit(ctx, header_, data.first(n));
      l->piece_sent += n;
      data = data.subspan(n);
      continue;
    }
    size_t take = std::min(n - l->pending.size(), data.size());
    l->pending.insert(l->pending.end(), data.begin(), data.begin() + ptrdiff_t(take));
    data = data.subspan(take);
    emit_pending(*l, piece.csid, emit, ctx);
  }
  if (l->piece_sent == l->piece_total) l->piece_open = false;
}

bool ChunkWriter::abort_piece(uint32_t csid) {
  auto it = last_.find(csid);
  if (it == last_.end() || !it->second.piece_open) return false;
  bool started = it->second.piece_sent > 0;
  last_.erase(it);
  return started;
}

size_t ChunkWriter::pending_bytes() const {
  size_t n = 0;
  for (const auto& [csid, l] : last_) n += l.pending.size();
  return n;
}

}  // namespace sp::rtmp
