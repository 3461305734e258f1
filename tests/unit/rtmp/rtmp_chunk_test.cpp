// Chunk stream reader and writer: real captured streams fed in random-sized
// pieces, every header form, extended timestamps, chunk size changes, abort,
// limits, hostile headers, and writer -> reader round trips.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>

#include "rtmp/bytes.h"
#include "rtmp/chunk.h"
#include "rtmp/message.h"

namespace sp::rtmp {
namespace {

std::vector<uint8_t> fixture(const std::string& name) {
  std::ifstream f(std::string(SP_SOURCE_DIR) + "/tests/fixtures/rtmp/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Feeds `in` in random pieces of 1..max_piece bytes and drains messages.
std::vector<Message> read_all(std::span<const uint8_t> in, unsigned seed, size_t max_piece,
                              Status* status = nullptr, ChunkReaderLimits limits = {}) {
  ChunkReader reader(limits);
  std::mt19937 rng(seed);
  std::vector<Message> out;
  Status st;
  while (!in.empty() && st.ok()) {
    size_t n = std::min<size_t>(in.size(), 1 + rng() % max_piece);
    st = reader.feed(in.first(n));
    in = in.subspan(n);
    Message m;
    while (reader.next(&m)) out.push_back(std::move(m));
  }
  if (status) *status = st;
  return out;
}

std::string command_name(const Message& m) {
  Result<Command> c = decode_command(m);
  return c.ok() ? c->name : "";
}

Message make_message(uint8_t type, uint32_t ts, uint32_t sid, uint32_t csid, size_t len,
                     uint8_t fill = 0) {
  Message m;
  m.type_id = type;
  m.timestamp = ts;
  m.stream_id = sid;
  m.csid = csid;
  m.payload.resize(len);
  for (size_t i = 0; i < len; ++i) m.payload[i] = uint8_t(fill + i * 7);
  return m;
}

void expect_same(const Message& a, const Message& b) {
  EXPECT_EQ(a.type_id, b.type_id);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.stream_id, b.stream_id);
  EXPECT_EQ(a.csid, b.csid);
  EXPECT_EQ(a.payload, b.payload);
}

// A raw fmt 0 header, for hand-made hostile input.
void put_fmt0(std::vector<uint8_t>* out, uint32_t csid, uint32_t ts, uint32_t len, uint8_t type,
              uint32_t sid) {
  put_basic_header(out, 0, csid);
  put_u24(out, ts >= kExtendedTimestamp ? kExtendedTimestamp : ts);
  put_u24(out, len);
  put_u8(out, type);
  put_u32_le(out, sid);
  if (ts >= kExtendedTimestamp) put_u32(out, ts);
}

Status feed_all(ChunkReader* r, const std::vector<uint8_t>& b) { return r->feed(b); }

// ---- real captures -------------------------------------------------------------

TEST(RtmpChunk, FfmpegPublishDecodesInAnyPieces) {
  std::vector<uint8_t> stream = fixture("ffmpeg_publish_stream.bin");
  std::vector<Message> whole = read_all(stream, 0, stream.size());
  for (unsigned seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    Status st;
    std::vector<Message> msgs = read_all(stream, seed, seed % 2 ? 7 : 700, &st);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(msgs.size(), whole.size());
    for (size_t i = 0; i < msgs.size(); ++i) expect_same(msgs[i], whole[i]);
  }

  ASSERT_GE(whole.size(), 10u);
  // connect, Set Chunk Size, releaseStream, FCPublish, createStream, publish.
  Result<Command> connect = decode_command(whole[0]);
  ASSERT_TRUE(connect.ok()) << connect.error();
  EXPECT_EQ(connect->name, "connect");
  EXPECT_EQ(connect->transaction_id, 1);
  EXPECT_EQ(connect->object.get_string("tcUrl"), "rtmp://127.0.0.1:19351/live");
  EXPECT_EQ(connect->object.get_string("app"), "live");

  EXPECT_EQ(whole[1].type_id, msg_type::kSetChunkSize);
  EXPECT_EQ(*decode_u32_control(whole[1]), 4096u);

  EXPECT_EQ(command_name(whole[2]), "releaseStream");
  EXPECT_EQ(command_name(whole[3]), "FCPublish");
  EXPECT_EQ(command_name(whole[4]), "createStream");
  Result<Command> publish = decode_command(whole[5]);
  ASSERT_TRUE(publish.ok());
  EXPECT_EQ(publish->name, "publish");
  EXPECT_EQ(whole[5].stream_id, 1u);
  ASSERT_EQ(publish->args.size(), 2u);
  EXPECT_EQ(publish->args[0].str, "s");
  EXPECT_EQ(publish->args[1].str, "live");

  Result<DataMessage> meta = decode_data(whole[6]);
  ASSERT_TRUE(meta.ok()) << meta.error();
  EXPECT_EQ(meta->name, "@setDataFrame");
  ASSERT_EQ(meta->values.size(), 2u);
  EXPECT_EQ(meta->values[0].str, "onMetaData");
  EXPECT_EQ(meta->values[1].get_number("width"), 160);
  EXPECT_EQ(meta->values[1].get_number("videocodecid"), 7);

  // Then media: the AVC sequence header first, audio and video after.
  EXPECT_EQ(whole[7].type_id, msg_type::kVideo);
  EXPECT_EQ(whole[7].payload[0], 0x17);  // keyframe, AVC
  EXPECT_EQ(whole[7].payload[1], 0x00);  // sequence header
  EXPECT_EQ(whole[8].type_id, msg_type::kAudio);
  EXPECT_EQ(whole[8].payload[0] >> 4, 10);  // AAC
  size_t video = 0, audio = 0;
  uint32_t last_video_ts = 0;
  for (size_t i = 7; i < whole.size(); ++i) {
    EXPECT_EQ(whole[i].stream_id, 1u);
    if (whole[i].type_id == msg_type::kVideo) {
      ++video;
      EXPECT_GE(whole[i].timestamp, last_video_ts);
      last_video_ts = whole[i].timestamp;
    }
    audio += whole[i].type_id == msg_type::kAudio;
  }
  EXPECT_GE(video, 5u);
  EXPECT_GE(audio, 5u);
  // A 2685-byte keyframe crossed 4096-byte chunks only after the size change;
  // before it, 128-byte chunks would have been needed: the change was applied.
  EXPECT_EQ(whole[9].payload.size(), 2685u);
}

TEST(RtmpChunk, NginxReplyToPlayerDecodes) {
  std::vector<uint8_t> stream = fixture("rtmpdump_play_replies.bin");
  Status st;
  std::vector<Message> msgs = read_all(stream, 3, 100, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_GE(msgs.size(), 10u);
  EXPECT_EQ(msgs[0].type_id, msg_type::kWindowAckSize);
  EXPECT_EQ(msgs[1].type_id, msg_type::kSetPeerBandwidth);
  EXPECT_EQ(msgs[2].type_id, msg_type::kSetChunkSize);
  EXPECT_EQ(command_name(msgs[3]), "_result");
  EXPECT_EQ(msgs[5].type_id, msg_type::kUserControl);
  Result<Command> start = decode_command(msgs[6]);
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(status_info(*start)->get_string("code"), status::kPlayStart);
  Result<DataMessage> meta = decode_data(msgs[8]);
  ASSERT_TRUE(meta.ok()) << meta.error();
  EXPECT_EQ(meta->name, "onMetaData");
}

TEST(RtmpChunk, PlayerCommandSequences) {
  struct Case {
    const char* file;
    std::vector<std::string> commands;
  } cases[] = {
      {"ffmpeg_play_stream.bin", {"connect", "createStream", "getStreamLength", "play", "deleteStream"}},
      {"rtmpdump_play_stream.bin", {"connect", "createStream", "play", "deleteStream"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    Status st;
    std::vector<Message> msgs = read_all(fixture(c.file), 9, 5, &st);
    ASSERT_TRUE(st.ok()) << st.message();
    std::vector<std::string> names;
    for (const Message& m : msgs)
      if (m.type_id == msg_type::kCommandAmf0) names.push_back(command_name(m));
    EXPECT_EQ(names, c.commands);
  }
}

// ---- header forms ---------------------------------------------------------------

TEST(RtmpChunk, BasicHeaderSizes) {
  struct {
    uint32_t csid;
    size_t size;
  } cases[] = {{2, 1}, {63, 1}, {64, 2}, {319, 2}, {320, 3}, {65599, 3}};
  for (auto c : cases) {
    std::vector<uint8_t> out;
    put_basic_header(&out, 1, c.csid);
    EXPECT_EQ(out.size(), c.size) << c.csid;
    EXPECT_EQ(out[0] >> 6, 1);
  }
}

TEST(RtmpChunk, EveryCsidFormRoundTrips) {
  ChunkWriter w;
  std::vector<uint8_t> bytes;
  std::vector<Message> sent;
  for (uint32_t csid : {2u, 3u, 63u, 64u, 65u, 319u, 320u, 1000u, 65599u}) {
    sent.push_back(make_message(msg_type::kVideo, 10, 1, csid, 300, uint8_t(csid)));
    w.write(sent.back(), &bytes);
  }
  Status st;
  std::vector<Message> got = read_all(bytes, 4, 13, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < got.size(); ++i) expect_same(got[i], sent[i]);
}

TEST(RtmpChunk, WriterPicksSmallestHeader) {
  ChunkWriter w;
  std::vector<uint8_t> a, b, c, d, e;
  w.write(make_message(msg_type::kAudio, 1000, 1, 4, 10), &a);  // new csid: fmt 0
  w.write(make_message(msg_type::kAudio, 1023, 1, 4, 10), &b);  // same shape: fmt 2
  w.write(make_message(msg_type::kAudio, 1046, 1, 4, 10), &c);  // same delta: fmt 3
  w.write(make_message(msg_type::kAudio, 1070, 1, 4, 12), &d);  // new length: fmt 1
  w.write(make_message(msg_type::kAudio, 1070, 2, 4, 12), &e);  // new stream: fmt 0
  EXPECT_EQ(a[0] >> 6, 0);
  EXPECT_EQ(a.size(), 1 + 11 + 10u);
  EXPECT_EQ(b[0] >> 6, 2);
  EXPECT_EQ(b.size(), 1 + 3 + 10u);
  EXPECT_EQ(c[0] >> 6, 3);
  EXPECT_EQ(c.size(), 1 + 10u);
  EXPECT_EQ(d[0] >> 6, 1);
  EXPECT_EQ(d.size(), 1 + 7 + 12u);
  EXPECT_EQ(e[0] >> 6, 0);

  std::vector<uint8_t> all;
  for (auto* v : {&a, &b, &c, &d, &e}) all.insert(all.end(), v->begin(), v->end());
  std::vector<Message> got = read_all(all, 1, 3);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].timestamp, 1000u);
  EXPECT_EQ(got[1].timestamp, 1023u);
  EXPECT_EQ(got[2].timestamp, 1046u);
  EXPECT_EQ(got[3].timestamp, 1070u);
  EXPECT_EQ(got[4].stream_id, 2u);
}

TEST(RtmpChunk, WriterUsesFmt0WhenTimeGoesBackwards) {
  ChunkWriter w;
  std::vector<uint8_t> a, b;
  w.write(make_message(msg_type::kVideo, 500, 1, 6, 5), &a);
  w.write(make_message(msg_type::kVideo, 400, 1, 6, 5), &b);
  EXPECT_EQ(b[0] >> 6, 0);
}

TEST(RtmpChunk, Fmt3AfterFmt0RepeatsTheTimestampAsDelta) {
  // What ffmpeg, librtmp and SRS agree on: a fmt 3 header starting a new
  // message after a fmt 0 header adds the fmt 0 timestamp again.
  std::vector<uint8_t> b;
  put_fmt0(&b, 5, 40, 2, msg_type::kAudio, 1);
  b.insert(b.end(), {0xaa, 0xbb});
  put_basic_header(&b, 3, 5);
  b.insert(b.end(), {0xcc, 0xdd});
  std::vector<Message> got = read_all(b, 1, 100);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].timestamp, 40u);
  EXPECT_EQ(got[1].timestamp, 80u);
  EXPECT_EQ(got[1].payload, (std::vector<uint8_t>{0xcc, 0xdd}));
}

TEST(RtmpChunk, ZeroLengthMessage) {
  ChunkWriter w;
  std::vector<uint8_t> b;
  w.write(make_message(msg_type::kDataAmf0, 0, 1, 5, 0), &b);
  w.write(make_message(msg_type::kDataAmf0, 0, 1, 5, 3), &b);
  std::vector<Message> got = read_all(b, 1, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].payload.empty());
  EXPECT_EQ(got[1].payload.size(), 3u);
}

// ---- extended timestamps ------------------------------------------------------------

TEST(RtmpChunk, ExtendedTimestampOnContinuationChunks) {
  ChunkWriter w;
  std::vector<uint8_t> b;
  Message big = make_message(msg_type::kVideo, 0x12345678, 1, 6, 400);
  w.write(big, &b);
  // 400 bytes at 128 per chunk: 4 chunks; each continuation repeats the
  // 4-byte extended timestamp after its 1-byte header.
  EXPECT_EQ(b.size(), (1 + 11 + 4) + 3 * (1 + 4) + 400u);
  EXPECT_EQ(b[1], 0xff);
  EXPECT_EQ(b[2], 0xff);
  EXPECT_EQ(b[3], 0xff);
  for (unsigned seed = 0; seed < 5; ++seed) {
    std::vector<Message> got = read_all(b, seed, 6);
    ASSERT_EQ(got.size(), 1u);
    expect_same(got[0], big);
  }
}

TEST(RtmpChunk, ExtendedTimestampOmittedOnContinuationIsTolerated) {
  // Some encoders leave the extended timestamp off fmt 3 chunks.
  std::vector<uint8_t> b;
  put_fmt0(&b, 6, 0x01000000, 200, msg_type::kVideo, 1);
  std::vector<uint8_t> payload(200);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = uint8_t(i);
  b.insert(b.end(), payload.begin(), payload.begin() + 128);
  put_basic_header(&b, 3, 6);
  b.insert(b.end(), payload.begin() + 128, payload.end());
  // Byte by byte too: the reader must wait for 4 bytes to see the field is
  // absent, then give the bytes it looked at back to the payload.
  for (size_t piece : {1, 2, 3, 5, 9, 1000}) {
    std::vector<Message> got = read_all(b, unsigned(piece), piece);
    ASSERT_EQ(got.size(), 1u) << piece;
    EXPECT_EQ(got[0].timestamp, 0x01000000u);
    EXPECT_EQ(got[0].payload, payload);
  }
}

TEST(RtmpChunk, OmittedExtendedTimestampThenNextHeaderInSameFragment) {
  // The fmt 3 chunk carries only 2 payload bytes, so the 4 bytes the reader
  // peeks at include the next message's header.
  std::vector<uint8_t> b;
  put_fmt0(&b, 6, 0x01000000, 130, msg_type::kVideo, 1);
  b.insert(b.end(), 128, 0x42);
  put_basic_header(&b, 3, 6);
  b.insert(b.end(), {0x43, 0x44});
  put_fmt0(&b, 4, 5, 1, msg_type::kAudio, 1);
  b.push_back(0x45);
  for (size_t piece : {1, 2, 4, 7, 1000}) {
    Status st;
    std::vector<Message> got = read_all(b, unsigned(piece), piece, &st);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(got.size(), 2u) << piece;
    EXPECT_EQ(got[0].payload.size(), 130u);
    EXPECT_EQ(got[0].payload.back(), 0x44);
    EXPECT_EQ(got[1].timestamp, 5u);
    EXPECT_EQ(got[1].payload, std::vector<uint8_t>{0x45});
  }
}

TEST(RtmpChunk, ExtendedDeltas) {
  ChunkWriter w;
  std::vector<uint8_t> b;
  std::vector<Message> sent;
  // Exactly 0xffffff must use the extended field too; then deltas that need it.
  for (uint32_t ts : {0xffffffu, 0x1000000u, 0x2000005u, 0x2000006u, 0xfffffff0u}) {
    sent.push_back(make_message(msg_type::kAudio, ts, 1, 4, 300));
    w.write(sent.back(), &b);
  }
  std::vector<Message> got = read_all(b, 5, 11);
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < got.size(); ++i) expect_same(got[i], sent[i]);
}

// ---- chunk size, abort ------------------------------------------------------------

TEST(RtmpChunk, ChunkSizeChangeAppliesToTheNextChunk) {
  ChunkWriter w;
  std::vector<uint8_t> b;
  w.write(set_chunk_size_message(5000), &b);
  ASSERT_TRUE(w.set_chunk_size(5000).ok());
  Message big = make_message(msg_type::kVideo, 33, 1, 6, 12000);
  w.write(big, &b);
  ChunkReader r;
  ASSERT_TRUE(feed_all(&r, b).ok());
  EXPECT_EQ(r.chunk_size(), 5000u);
  Message m;
  ASSERT_TRUE(r.next(&m));
  EXPECT_EQ(m.type_id, msg_type::kSetChunkSize);
  ASSERT_TRUE(r.next(&m));
  expect_same(m, big);
}

TEST(RtmpChunk, LargestChunkSizeRoundTrips) {
  ChunkWriter w;
  std::vector<uint8_t> b;
  w.write(set_chunk_size_message(kMaxChunkSize), &b);
  ASSERT_TRUE(w.set_chunk_size(kMaxChunkSize).ok());
  std::vector<Message> sent = {make_message(msg_type::kVideo, 0xfffffe, 1, 6, 3 * 1024 * 1024),
                               make_message(msg_type::kVideo, 0x1000100, 1, 6, 100)};
  for (const Message& m : sent) w.write(m, &b);
  Status st;
  std::vector<Message> got = read_all(b, 8, 100000, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(got.size(), 3u);
  expect_same(got[1], sent[0]);
  expect_same(got[2], sent[1]);
}

TEST(RtmpChunk, RejectsChunkSizeZeroAndTooLarge) {
  for (uint32_t bad : {0u, 0x1000000u, 0x7fffffffu, 0x80000000u}) {
    ChunkWriter w;
    std::vector<uint8_t> b;
    Message m = set_chunk_size_message(bad);
    w.write(m, &b);
    ChunkReader r;
    Status st = feed_all(&r, b);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("chunk size"), std::string::npos) << st.message();
    // The reader stays failed.
    EXPECT_FALSE(r.feed(std::vector<uint8_t>{0x03}).ok());
    EXPECT_FALSE(w.set_chunk_size(bad).ok());
  }
}

TEST(RtmpChunk, RejectsShortSetChunkSize) {
  std::vector<uint8_t> b;
  put_fmt0(&b, 2, 0, 2, msg_type::kSetChunkSize, 0);
  b.insert(b.end(), {0x10, 0x00});
  ChunkReader r;
  EXPECT_FALSE(feed_all(&r, b).ok());
}

TEST(RtmpChunk, AbortDropsThePartialMessage) {
  std::vector<uint8_t> b;
  put_fmt0(&b, 6, 0, 300, msg_type::kVideo, 1);
  b.insert(b.end(), 128, 0x11);  // first chunk of three
  ChunkWriter w;
  w.write(abort_message(6), &b);
  // After the abort, csid 6 starts afresh with a new message.
  put_fmt0(&b, 6, 40, 3, msg_type::kVideo, 1);
  b.insert(b.end(), {1, 2, 3});
  ChunkReader r;
  ASSERT_TRUE(feed_all(&r, b).ok());
  EXPECT_EQ(r.buffered_bytes(), 0u);
  Message m;
  ASSERT_TRUE(r.next(&m));
  EXPECT_EQ(m.type_id, msg_type::kAbort);
  ASSERT_TRUE(r.next(&m));
  EXPECT_EQ(m.timestamp, 40u);
  EXPECT_EQ(m.payload, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_FALSE(r.next(&m));
}

// ---- hostile input -------------------------------------------------------------

TEST(RtmpChunk, RejectsContinuationOnFreshCsid) {
  for (uint8_t fmt : {1, 2, 3}) {
    std::vector<uint8_t> b;
    put_basic_header(&b, fmt, 7);
    b.insert(b.end(), 20, 0);
    ChunkReader r;
    Status st = feed_all(&r, b);
    ASSERT_FALSE(st.ok()) << int(fmt);
    EXPECT_NE(st.message().find("no previous header"), std::string::npos) << st.message();
  }
}

TEST(RtmpChunk, RejectsNewHeaderMidMessage) {
  std::vector<uint8_t> b;
  put_fmt0(&b, 6, 0, 300, msg_type::kVideo, 1);
  b.insert(b.end(), 128, 0);
  put_fmt0(&b, 6, 0, 10, msg_type::kVideo, 1);
  ChunkReader r;
  EXPECT_FALSE(feed_all(&r, b).ok());
}

TEST(RtmpChunk, RejectsAbsurdMessageLength) {
  std::vector<uint8_t> b;
  put_fmt0(&b, 6, 0, 0xffffff, msg_type::kVideo, 1);
  ChunkReader r(ChunkReaderLimits{.max_message_size = 1024 * 1024});
  Status st = feed_all(&r, b);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("exceeds"), std::string::npos) << st.message();
  // fmt 1 can grow a message too.
  std::vector<uint8_t> c;
  put_fmt0(&c, 6, 0, 1, msg_type::kVideo, 1);
  c.push_back(0);
  put_basic_header(&c, 1, 6);
  put_u24(&c, 0);
  put_u24(&c, 2 * 1024 * 1024);
  put_u8(&c, msg_type::kVideo);
  ChunkReader r2(ChunkReaderLimits{.max_message_size = 1024 * 1024});
  EXPECT_FALSE(feed_all(&r2, c).ok());
}

TEST(RtmpChunk, CapsBytesBufferedAcrossChunkStreams) {
  // Many chunk streams each holding a partial message: the sum is capped.
  std::vector<uint8_t> b;
  for (uint32_t csid = 3; csid < 40; ++csid) {
    put_fmt0(&b, csid, 0, 60000, msg_type::kVideo, 1);
    b.insert(b.end(), 128, 0x55);
  }
  ChunkReader r(ChunkReaderLimits{.max_message_size = 65536, .max_buffered_bytes = 2048});
  Status st = feed_all(&r, b);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("partial messages"), std::string::npos) << st.message();
}

TEST(RtmpChunk, CapsNumberOfChunkStreams) {
  std::vector<uint8_t> b;
  for (uint32_t csid = 3; csid < 20; ++csid) {
    put_fmt0(&b, csid, 0, 1, msg_type::kAudio, 1);
    b.push_back(0);
  }
  ChunkReader r(ChunkReaderLimits{.max_chunk_streams = 8});
  EXPECT_FALSE(feed_all(&r, b).ok());
}

// ---- limits for a client not yet identified (the session's preconnect_buffer) ----

std::vector<uint8_t> set_chunk_size_bytes(uint32_t size) {
  std::vector<uint8_t> b;
  ChunkWriter w;
  w.write(set_chunk_size_message(size), &b);
  return b;
}

ChunkReaderLimits preconnect(size_t cap) {
  return ChunkReaderLimits{.max_message_size = uint32_t(cap), .max_buffered_bytes = cap, .max_chunk_streams = 64};
}

TEST(RtmpChunk, RealPublisherFitsThePreconnectLimits) {
  // ffmpeg's whole publish (commands, metadata and the first media) needs
  // far less than 64 KiB at any moment, however the socket splits it.
  std::vector<uint8_t> stream = fixture("ffmpeg_publish_stream.bin");
  std::vector<Message> whole = read_all(stream, 0, stream.size());
  for (unsigned seed = 1; seed <= 10; ++seed) {
    Status st;
    std::vector<Message> msgs = read_all(stream, seed, seed % 2 ? 5 : 900, &st, preconnect(64 * 1024));
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(msgs.size(), whole.size());
  }
  // Even 4 KiB (the smallest preconnect_buffer) is enough for its commands.
  Status st;
  std::vector<Message> msgs = read_all(stream, 3, 64, &st, preconnect(4096));
  ASSERT_GE(msgs.size(), 6u) << st.message();
  EXPECT_EQ(command_name(msgs[5]), "publish");
}

TEST(RtmpChunk, PreconnectRefusesADeclaredLengthOverTheCapAtItsHeader) {
  // A 16 MiB AMF0 command announced by a stranger: refused at the header,
  // before any memory is reserved for it.
  std::vector<uint8_t> b;
  put_fmt0(&b, 3, 0, 16 * 1024 * 1024 - 1, msg_type::kCommandAmf0, 0);
  ChunkReader r(preconnect(64 * 1024));
  Status st = feed_all(&r, b);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(r.limit_hit(), ChunkLimit::message_size);
  EXPECT_NE(st.message().find("16777215 bytes on csid 3 exceeds the limit of 65536"), std::string::npos)
      << st.message();
  EXPECT_EQ(r.buffered_bytes(), 0u);
  // The stream is out of sync for good.
  EXPECT_FALSE(r.feed(std::vector<uint8_t>(10, 0)).ok());
}

TEST(RtmpChunk, PreconnectCapsPartialMessagesOfManyChunkStreams) {
  // Each message is under the cap, but together they are not: the first
  // 16 KiB chunk of 20000-byte messages on six chunk streams.
  std::vector<uint8_t> b = set_chunk_size_bytes(16384);
  for (uint32_t csid = 4; csid < 10; ++csid) {
    put_fmt0(&b, csid, 0, 20000, msg_type::kCommandAmf0, 0);
    b.insert(b.end(), 16384, 0x02);  // the rest of each message never comes
  }
  ChunkReader r(preconnect(64 * 1024));
  Status st = feed_all(&r, b);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(r.limit_hit(), ChunkLimit::buffered_bytes);
  EXPECT_EQ(st.message(), "rtmp chunk: partial messages would hold 81920 bytes (a chunk of 16384 on csid 8), "
                          "over the limit of 65536");
  // Four first chunks fit, the fifth does not.
  EXPECT_EQ(r.buffered_bytes(), 65536u);
}

TEST(RtmpChunk, BufferedCountsReservedMemoryWhateverTheSplit) {
  // Partial messages of several chunk streams with 128-byte chunks: what is
  // counted is what is reserved, chunk by chunk, and it is the same for every
  // way the input can be split.
  std::vector<uint8_t> b;
  for (uint32_t csid = 4; csid < 8; ++csid) {
    put_fmt0(&b, csid, 0, 1000, msg_type::kVideo, 1);
    b.insert(b.end(), 128, 0x33);
    put_basic_header(&b, 3, csid);
    b.insert(b.end(), 128, 0x33);  // the second chunk; the rest never comes
  }
  ChunkReader whole(preconnect(64 * 1024));
  ASSERT_TRUE(feed_all(&whole, b).ok());
  // Each holds 256 bytes: 128 reserved for the first chunk, doubled for the second.
  EXPECT_EQ(whole.buffered_bytes(), 4u * 256);
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    ChunkReader r(preconnect(64 * 1024));
    for (std::span<const uint8_t> in(b); !in.empty();) {
      size_t n = std::min<size_t>(in.size(), 1 + rng() % 50);
      ASSERT_TRUE(r.feed(in.first(n)).ok());
      in = in.subspan(n);
    }
    EXPECT_EQ(r.buffered_bytes(), whole.buffered_bytes()) << seed;
  }
  // A cap between two reservations fails at the same chunk header for every split.
  std::vector<size_t> fail_at;
  for (unsigned seed = 0; seed <= 10; ++seed) {
    std::mt19937 rng(seed);
    ChunkReader r(ChunkReaderLimits{.max_message_size = 4096, .max_buffered_bytes = 700});
    size_t pos = 0;
    Status st;
    for (std::span<const uint8_t> in(b); !in.empty() && st.ok();) {
      size_t n = seed == 0 ? in.size() : std::min<size_t>(in.size(), 1 + rng() % 50);
      st = r.feed(in.first(n));
      in = in.subspan(n);
      pos += n;
    }
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(r.limit_hit(), ChunkLimit::buffered_bytes);
    EXPECT_EQ(st.message(), "rtmp chunk: partial messages would hold 768 bytes (a chunk of 128 on csid 6), "
                            "over the limit of 700");
  }
}

TEST(RtmpChunk, CompletedMessagesGiveTheirMemoryBack) {
  std::vector<uint8_t> b;
  ChunkWriter w;
  for (int i = 0; i < 50; ++i) w.write(make_message(msg_type::kCommandAmf0, 0, 0, 3, 3000, uint8_t(i)), &b);
  ChunkReader r(preconnect(4096));
  ASSERT_TRUE(feed_all(&r, b).ok());
  EXPECT_EQ(r.buffered_bytes(), 0u);
  EXPECT_EQ(r.ready(), 50u);
}

TEST(RtmpChunk, RaisedLimitsApplyToTheNextHeader) {
  // What the session does once the origin accepted the client.
  Message big = make_message(msg_type::kVideo, 40, 1, 6, 1024 * 1024);
  std::vector<uint8_t> b;
  ChunkWriter w;
  w.write(big, &b);
  ChunkReader r(preconnect(64 * 1024));
  ASSERT_FALSE(ChunkReader(preconnect(64 * 1024)).feed(b).ok());
  r.set_limits(ChunkReaderLimits{.max_message_size = 8 * 1024 * 1024, .max_buffered_bytes = 16 * 1024 * 1024});
  ASSERT_TRUE(feed_all(&r, b).ok());
  Message m;
  ASSERT_TRUE(r.next(&m));
  expect_same(m, big);
  EXPECT_EQ(r.limit_hit(), ChunkLimit::none);
}

TEST(RtmpChunk, LoweredBufferLimitStopsTheNextReservation) {
  // The worker's budget shrinks between feeds: bytes already held stay,
  // the next chunk that needs memory is refused.
  std::vector<uint8_t> first, second;
  put_fmt0(&first, 4, 0, 1000, msg_type::kVideo, 1);
  first.insert(first.end(), 128, 1);
  put_basic_header(&second, 3, 4);
  second.insert(second.end(), 128, 1);
  ChunkReader r(preconnect(64 * 1024));
  ASSERT_TRUE(feed_all(&r, first).ok());
  EXPECT_EQ(r.buffered_bytes(), 128u);
  ChunkReaderLimits l = r.limits();
  l.max_buffered_bytes = 200;
  r.set_limits(l);
  Status st = feed_all(&r, second);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(r.limit_hit(), ChunkLimit::buffered_bytes);
}

TEST(RtmpChunk, MalformedInputIsNoLimit) {
  std::vector<uint8_t> b;
  put_basic_header(&b, 1, 7);
  b.insert(b.end(), 20, 0);
  ChunkReader r(preconnect(64 * 1024));
  ASSERT_FALSE(feed_all(&r, b).ok());
  EXPECT_EQ(r.limit_hit(), ChunkLimit::none);
}

TEST(RtmpChunk, GarbageNeverCrashes) {
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> junk(1 + rng() % 4000);
    for (uint8_t& x : junk) x = uint8_t(rng());
    ChunkReader r(ChunkReaderLimits{.max_message_size = 1 << 20, .max_buffered_bytes = 1 << 21});
    (void)r.feed(junk);
    Message m;
    while (r.next(&m)) (void)decode_command(m);
  }
}

// ---- writer -> reader ------------------------------------------------------------

// A random message on one of four lanes (chunk streams 4, 5, 6 and 400, two
// message streams); lane 1 jumps its timestamp far enough for extended
// timestamps and wraps. Audio and video, or on lane 2 data when `data_lane`.
Message random_lane_message(std::mt19937& rng, uint32_t ts[4], size_t max_len, bool data_lane, uint8_t fill) {
  int lane = int(rng() % 4);
  ts[lane] += rng() % 3 == 0 ? 0 : uint32_t(rng() % (lane == 1 ? 0x2000000 : 50));
  uint32_t csid = lane == 3 ? 400 : 4 + uint32_t(lane);
  size_t len = rng() % 3 == 0 ? 10 : rng() % max_len;
  uint8_t type = data_lane && lane == 2 ? msg_type::kDataAmf0 : lane % 2 ? msg_type::kVideo : msg_type::kAudio;
  return make_message(type, ts[lane], 1 + uint32_t(lane % 2), csid, len, fill);
}

TEST(RtmpChunk, RandomWriterReaderRoundTrip) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    ChunkWriter w;
    std::vector<uint8_t> b;
    std::vector<Message> sent;
    uint32_t ts[4] = {0, 0xfffff0, 100, 0xfffffff0u};
    for (int i = 0; i < 60; ++i) {
      if (rng() % 10 == 0) {
        uint32_t size = 1 + rng() % (rng() % 2 ? 200 : 70000);
        Message m = set_chunk_size_message(size);
        sent.push_back(m);
        w.write(m, &b);
        ASSERT_TRUE(w.set_chunk_size(size).ok());
        continue;
      }
      sent.push_back(random_lane_message(rng, ts, 5000, false, uint8_t(i)));
      w.write(sent.back(), &b);
    }
    Status st;
    std::vector<Message> got = read_all(b, unsigned(round), 1 + round * 300, &st);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < got.size(); ++i) expect_same(got[i], sent[i]);
  }
}

TEST(RtmpChunk, CountsTotalBytes) {
  ChunkReader r;
  std::vector<uint8_t> b = fixture("ffmpeg_play_stream.bin");
  ASSERT_TRUE(r.feed(b).ok());
  EXPECT_EQ(r.total_bytes(), b.size());
}

// The emitting form hands out the same bytes as the appending one, with each
// payload slice pointing into the message (no copy) and header + slice per chunk.
TEST(RtmpChunk, EmittingWriterMatchesAppendingWriter) {
  ChunkWriter a, b;
  ASSERT_TRUE(a.set_chunk_size(1000).ok());
  ASSERT_TRUE(b.set_chunk_size(1000).ok());
  std::vector<uint8_t> appended, emitted;
  struct Ctx {
    std::vector<uint8_t>* out;
    const Message* msg;
    int chunks = 0;
    bool slices_in_message = true;
  };
  uint32_t ts = 0;
  for (size_t len : {0u, 10u, 999u, 1000u, 1001u, 3500u, 3500u}) {
    ts += len == 3500 ? 0x1000000 : 40;  // exercise extended timestamps too
    Message m = make_message(msg_type::kVideo, ts, 1, 6, len);
    a.write(m, &appended);
    Ctx ctx{&emitted, &m};
    b.write(
        m,
        [](void* arg, std::span<const uint8_t> header, std::span<const uint8_t> payload) {
          auto* c = static_cast<Ctx*>(arg);
          c->chunks++;
          if (!payload.empty() && (payload.data() < c->msg->payload.data() ||
                                   payload.data() + payload.size() > c->msg->payload.data() + c->msg->payload.size()))
            c->slices_in_message = false;
          c->out->insert(c->out->end(), header.begin(), header.end());
          c->out->insert(c->out->end(), payload.begin(), payload.end());
        },
        &ctx);
    EXPECT_TRUE(ctx.slices_in_message);
    EXPECT_EQ(ctx.chunks, len == 0 ? 1 : int((len + 999) / 1000)) << len;
  }
  EXPECT_EQ(emitted, appended);
}

// ---- streamed relay (pieces) ----------------------------------------------------

constexpr uint32_t kMedia = 1u << msg_type::kAudio | 1u << msg_type::kVideo;

// What a relay does with a reader on kMedia: pieces re-chunked with
// write_piece, whole messages with write; Set Chunk Size followed when
// `follow` (the session's way) or not (the writer then holds short chunks).
struct Relay {
  ChunkReader in;
  ChunkWriter out;
  std::vector<uint8_t> wire;
  bool follow;
  size_t max_buffered = 0, max_pending = 0, pieces = 0;

  explicit Relay(bool f) : follow(f) { in.set_streamed_types(kMedia); }
  Status feed(std::span<const uint8_t> b) {
    Status st = in.feed(b);
    max_buffered = std::max(max_buffered, in.buffered_bytes());
    Message m;
    while (in.next(&m)) {
      if (m.type_id == msg_type::kSetChunkSize) {
        if (!follow) continue;
        uint32_t size = *decode_u32_control(m);
        out.write(m, &wire);
        EXPECT_TRUE(out.set_chunk_size(size).ok());
      } else if (m.type_id == msg_type::kAbort) {
        uint32_t csid = *decode_u32_control(m);
        if (out.abort_piece(csid)) out.write(abort_message(csid), &wire);
      } else if (m.piece) {
        pieces++;
        out.write_piece(m, [](void* ctx, std::span<const uint8_t> h, std::span<const uint8_t> p) {
          auto* w = static_cast<std::vector<uint8_t>*>(ctx);
          w->insert(w->end(), h.begin(), h.end());
          w->insert(w->end(), p.begin(), p.end());
        }, &wire);
        max_pending = std::max(max_pending, out.pending_bytes());
      } else {
        out.write(m, &wire);
      }
    }
    return st;
  }
};

std::vector<Message> without_control(std::vector<Message> v) {
  std::erase_if(v, [](const Message& m) { return m.type_id == msg_type::kSetChunkSize || m.type_id == msg_type::kAbort; });
  return v;
}

// Random streams (every header form, extended timestamps, chunk size changes
// on both sides) relayed piece by piece, fed in random splits: the far side
// reads the same messages, and the relay never holds more than a chunk per
// chunk stream.
TEST(RtmpChunk, StreamedRelayDeliversTheSameMessages) {
  std::mt19937 rng(11);
  for (int round = 0; round < 40; ++round) {
    SCOPED_TRACE(round);
    bool follow = round % 2 == 0;
    ChunkWriter w;
    std::vector<uint8_t> b;
    std::vector<Message> sent;
    uint32_t ts[4] = {0, 0xfffff0, 100, 0xfffffff0u};
    uint32_t max_chunk = kDefaultChunkSize;
    for (int i = 0; i < 60; ++i) {
      if (rng() % 10 == 0) {
        uint32_t size = 1 + rng() % (rng() % 2 ? 200 : 9000);
        max_chunk = std::max(max_chunk, size);
        Message m = set_chunk_size_message(size);
        w.write(m, &b);
        ASSERT_TRUE(w.set_chunk_size(size).ok());
        continue;
      }
      sent.push_back(random_lane_message(rng, ts, 20000, true, uint8_t(i)));
      w.write(sent.back(), &b);
    }
    Relay relay(follow);
    std::mt19937 cuts{unsigned(round)};
    std::span<const uint8_t> in(b);
    while (!in.empty()) {
      size_t n = std::min<size_t>(in.size(), 1 + cuts() % (1 + round * 500));
      ASSERT_TRUE(relay.feed(in.first(n)).ok());
      in = in.subspan(n);
    }
    EXPECT_GT(relay.pieces, 0u);
    Status st;
    std::vector<Message> got = without_control(read_all(relay.wire, unsigned(round), 4096, &st));
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < got.size(); ++i) expect_same(got[i], sent[i]);
    // Only the data messages (lane 2) are reassembled, up to 20000 bytes.
    EXPECT_LE(relay.max_buffered, 20000u + 3 * max_chunk);
    if (follow) {
      EXPECT_EQ(relay.max_pending, 0u);
    }
    EXPECT_EQ(relay.out.pending_bytes(), 0u);
  }
}

// A video frame is never held whole: with the reader on kMedia, the memory
// it reserves is one chunk, whatever the frame's size.
TEST(RtmpChunk, StreamedMessageHoldsOneChunk) {
  ChunkWriter w;
  ASSERT_TRUE(w.set_chunk_size(4096).ok());
  std::vector<uint8_t> b;
  w.write(set_chunk_size_message(4096), &b);
  Message frame = make_message(msg_type::kVideo, 40, 1, 6, 300000);
  w.write(frame, &b);
  ChunkReader r;
  r.set_streamed_types(kMedia);
  size_t max_buffered = 0, got = 0;
  std::vector<uint8_t> joined;
  for (size_t off = 0; off < b.size(); off += 1000) {
    ASSERT_TRUE(r.feed(std::span(b).subspan(off, std::min<size_t>(1000, b.size() - off))).ok());
    max_buffered = std::max(max_buffered, r.buffered_bytes());
    Message m;
    while (r.next(&m)) {
      if (!m.piece) continue;
      EXPECT_EQ(m.offset, joined.size());
      EXPECT_EQ(m.length, 300000u);
      EXPECT_EQ(m.timestamp, 40u);
      joined.insert(joined.end(), m.payload.begin(), m.payload.end());
      got++;
    }
  }
  EXPECT_EQ(got, (300000u + 4095) / 4096);
  EXPECT_EQ(joined, frame.payload);
  EXPECT_LE(max_buffered, 4096u);
  EXPECT_EQ(r.buffered_bytes(), 0u);
}

// Media on the control and command chunk streams (2, 3, which a session
// also writes its own messages on) is reassembled as before.
TEST(RtmpChunk, MediaOnCommandChunkStreamIsNotStreamed) {
  ChunkWriter w;
  std::vector<uint8_t> b;
  Message m = make_message(msg_type::kVideo, 0, 1, kCsidCommand, 1000);
  w.write(m, &b);
  ChunkReader r;
  r.set_streamed_types(kMedia);
  ASSERT_TRUE(r.feed(b).ok());
  Message got;
  ASSERT_TRUE(r.next(&got));
  EXPECT_FALSE(got.piece);
  expect_same(got, m);
}

// The sender aborts a frame half relayed: the far side is sent an Abort for
// that chunk stream and then reads the next frame whole.
TEST(RtmpChunk, AbortOfAStreamedMessageIsPassedOn) {
  std::vector<uint8_t> b;
  put_fmt0(&b, 6, 0, 1000, msg_type::kVideo, 1);
  b.insert(b.end(), 128, 0xaa);  // first chunk only
  ChunkWriter w;
  w.write(abort_message(6), &b);
  Message next = make_message(msg_type::kVideo, 80, 1, 6, 300);
  w.write(next, &b);
  Relay relay(true);
  ASSERT_TRUE(relay.feed(b).ok());
  Status st;
  std::vector<Message> got = read_all(relay.wire, 1, 7, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type_id, msg_type::kAbort);
  expect_same(got[1], next);
  EXPECT_EQ(relay.out.pending_bytes(), 0u);
}

}  // namespace
}  // namespace sp::rtmp
