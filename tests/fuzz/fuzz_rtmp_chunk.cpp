// Fuzz target: the RTMP chunk stream after the handshake and the AMF0 inside
// its messages. The input is fed to one ChunkReader whole and to another in
// pieces of varying size (a socket splits anywhere): both must agree, on the
// messages and on the memory they count for partial messages. Every
// message is decoded the way the session does (control, command, data), and
// every AMF0 value that decodes must survive encode -> decode unchanged.
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
  while (whole.next(&a)) {
    FUZZ_CHECK(pieces.next(&b));
    FUZZ_CHECK(a.type_id == b.type_id && a.timestamp == b.timestamp && a.stream_id == b.stream_id &&
               a.csid == b.csid && a.payload == b.payload);
    decode_message(a);
  }
  FUZZ_CHECK(!pieces.next(&b));
  return 0;
}
