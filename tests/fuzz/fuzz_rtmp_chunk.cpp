// Fuzz target: the RTMP chunk stream after the handshake and the AMF0 inside
// its messages. The input is fed to one ChunkReader whole and to another in
// pieces of varying size (a socket splits anywhere): both must agree, on the
// messages and on the memory they count for partial messages. Every
// message is decoded the way the session does (control, command, data), and
// every AMF0 value that decodes must survive encode -> decode unchanged.
// Then the relay's path (check_streamed_relay): the same input read with
// audio and video handed out chunk by chunk, re-chunked by a ChunkWriter as
// the session does, and read back on the far side must give the same
// messages.
#include <algorithm>

#include "fuzz_util.h"
#include "rtmp/amf0.h"
#include "rtmp/chunk.h"
#include "rtmp/message.h"

namespace rtmp = sp::rtmp;
namespace amf0 = sp::rtmp::amf0;

namespace {

// Small limits: the defaults (16 MiB messages) would let one input allocate
// past the fuzzer's RSS limit without finding anything new.
rtmp::ChunkReaderLimits limits() {
  rtmp::ChunkReaderLimits l;
  l.max_message_size = 256 * 1024;
  l.max_buffered_bytes = 1024 * 1024;
  l.max_chunk_streams = 64;
  return l;
}

void round_trip(const amf0::Value& v) {
  std::vector<uint8_t> bytes = amf0::encode(v);
  std::span<const uint8_t> in(bytes);
  auto back = amf0::decode(&in);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(in.empty());
  FUZZ_CHECK(back.value() == v);
  FUZZ_CHECK(amf0::encode(back.value()) == bytes);
}

void decode_message(const rtmp::Message& m) {
  using namespace rtmp::msg_type;
  switch (m.type_id) {
    case kSetChunkSize:
    case kAbort:
    case kAck:
    case kWindowAckSize: (void)rtmp::decode_u32_control(m); break;
    case kSetPeerBandwidth: (void)rtmp::decode_peer_bandwidth(m); break;
    case kUserControl: (void)rtmp::decode_user_control(m); break;
    case kCommandAmf0:
    case kCommandAmf3: {
      auto c = rtmp::decode_command(m);
      if (c.ok()) {
        // What the proxy forwards to an origin is re-encoded from this.
        auto again = rtmp::decode_command(rtmp::command_message(c.value(), m.stream_id));
        FUZZ_CHECK(again.ok() && again->name == c->name);
        (void)rtmp::status_info(c.value());
      }
      break;
    }
    case kDataAmf0: {
      auto d = rtmp::decode_data(m);
      if (d.ok()) (void)rtmp::encode_data(d.value());
      break;
    }
    default: break;
  }
  auto values = amf0::decode_all(m.payload);
  if (values.ok()) {
    for (const amf0::Value& v : values.value()) {
      round_trip(v);
      (void)amf0::to_string(v);
    }
  }
}

void append(void* ctx, std::span<const uint8_t> header, std::span<const uint8_t> payload) {
  auto* out = static_cast<std::vector<uint8_t>*>(ctx);
  out->insert(out->end(), header.begin(), header.end());
  out->insert(out->end(), payload.begin(), payload.end());
}

bool is_control(const rtmp::Message& m) {
  return m.type_id == rtmp::msg_type::kSetChunkSize || m.type_id == rtmp::msg_type::kAbort;
}

// `in` was accepted by a reader that reassembles everything and gave
// `complete`. A reader that streams audio/video must accept it too, holding
// no more than that reader; relayed the way rtmp_session.cpp does (the
// writer keeps its own chunk size, an Abort goes on when part of the
// message already went out) the far side reads the same messages, control
// messages aside.
void check_streamed_relay(std::span<const uint8_t> in, const rtmp::ChunkReader& whole,
                          const std::vector<rtmp::Message>& complete) {
  using namespace rtmp::msg_type;
  rtmp::ChunkReader streamed(limits());
  streamed.set_streamed_types(1u << kAudio | 1u << kVideo);
  FUZZ_CHECK(streamed.feed(in).ok());
  FUZZ_CHECK(streamed.buffered_bytes() <= whole.buffered_bytes());

  // The session's writer keeps its own chunk size (128..4096 here, so both
  // cutting larger pieces and holding smaller ones happen), announced first.
  rtmp::ChunkWriter writer;
  std::vector<uint8_t> wire;
  uint32_t chunk_size = 128u << (in.size() % 6);
  FUZZ_CHECK(writer.set_chunk_size(chunk_size).ok());
  writer.write(rtmp::set_chunk_size_message(chunk_size), &wire);
  rtmp::Message m;
  while (streamed.next(&m)) {
    if (m.type_id == kSetChunkSize) {
      continue;  // the sender's, applied by its reader; not passed on
    } else if (m.type_id == kAbort) {
      auto csid = rtmp::decode_u32_control(m);
      if (csid.ok() && writer.abort_piece(*csid)) writer.write(rtmp::abort_message(*csid), &wire);
    } else if (m.piece) {
      FUZZ_CHECK(m.offset + m.payload.size() <= m.length);
      writer.write_piece(m, &append, &wire);
    } else {
      writer.write(m, &wire);
    }
  }

  rtmp::ChunkReaderLimits far_limits = limits();
  far_limits.max_buffered_bytes = 64 * 1024 * 1024;
  rtmp::ChunkReader far(far_limits);
  FUZZ_CHECK(far.feed(wire).ok());
  std::vector<rtmp::Message> expected;
  for (const rtmp::Message& c : complete) {
    if (!is_control(c)) expected.push_back(c);
  }
  size_t i = 0;
  while (far.next(&m)) {
    if (is_control(m)) continue;
    FUZZ_CHECK(i < expected.size());
    const rtmp::Message& e = expected[i++];
    FUZZ_CHECK(m.type_id == e.type_id && m.timestamp == e.timestamp && m.stream_id == e.stream_id && m.csid == e.csid &&
               m.payload == e.payload);
  }
  FUZZ_CHECK(i == expected.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);

  rtmp::ChunkReader whole(limits());
  sp::Status whole_status = whole.feed(in);

  rtmp::ChunkReader pieces(limits());
  sp::Status piece_status;
  size_t pos = 0;
  for (size_t i = 0; pos < size && piece_status.ok(); ++i) {
    // 1, 2, 3, 5, 8, 13, ... bytes, restarting: splits inside headers,
    // extended timestamps and payloads alike.
    static constexpr size_t kSteps[] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233};
    size_t n = std::min(size - pos, kSteps[(i + size) % std::size(kSteps)]);
    piece_status = pieces.feed(in.subspan(pos, n));
    pos += n;
  }

  FUZZ_CHECK(whole_status.ok() == piece_status.ok());
  // The buffer cap counts memory reserved at chunk headers, so it does not
  // depend on the split either: the same count, the same limit hit.
  FUZZ_CHECK(whole.buffered_bytes() == pieces.buffered_bytes());
  FUZZ_CHECK(whole.limit_hit() == pieces.limit_hit());
  rtmp::Message a, b;
  std::vector<rtmp::Message> complete;
  while (whole.next(&a)) {
    FUZZ_CHECK(pieces.next(&b));
    FUZZ_CHECK(a.type_id == b.type_id && a.timestamp == b.timestamp && a.stream_id == b.stream_id &&
               a.csid == b.csid && a.payload == b.payload);
    decode_message(a);
    complete.push_back(std::move(a));
  }
  FUZZ_CHECK(!pieces.next(&b));
  if (whole_status.ok()) check_streamed_relay(in, whole, complete);
  return 0;
}
