// RTMP message payloads: protocol control messages byte for byte, command and
// data messages from real captures, and the reply builders a server uses.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "rtmp/chunk.h"
#include "rtmp/message.h"

namespace sp::rtmp {
namespace {

using amf0::Value;

std::vector<uint8_t> fixture(const std::string& name) {
  std::ifstream f(std::string(SP_SOURCE_DIR) + "/tests/fixtures/rtmp/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::vector<Message> messages_of(const std::string& name) {
  ChunkReader r;
  EXPECT_TRUE(r.feed(fixture(name)).ok());
  std::vector<Message> out;
  Message m;
  while (r.next(&m)) out.push_back(std::move(m));
  return out;
}

Message with_payload(uint8_t type, std::vector<uint8_t> payload) {
  Message m;
  m.type_id = type;
  m.payload = std::move(payload);
  return m;
}

// ---- protocol control --------------------------------------------------------

TEST(RtmpMessage, ControlMessagesOnChunkStream2) {
  for (const Message& m : {set_chunk_size_message(4096), abort_message(6), ack_message(1),
                           window_ack_size_message(2500000),
                           set_peer_bandwidth_message(2500000, BandwidthLimit::dynamic),
                           stream_begin_message(1)}) {
    EXPECT_EQ(m.csid, kCsidControl);
    EXPECT_EQ(m.stream_id, 0u);
    EXPECT_EQ(m.timestamp, 0u);
  }
}

TEST(RtmpMessage, ControlPayloadBytes) {
  EXPECT_EQ(set_chunk_size_message(4096).payload, (std::vector<uint8_t>{0, 0, 0x10, 0}));
  EXPECT_EQ(set_chunk_size_message(4096).type_id, msg_type::kSetChunkSize);
  EXPECT_EQ(window_ack_size_message(5000000).payload, (std::vector<uint8_t>{0, 0x4c, 0x4b, 0x40}));
  EXPECT_EQ(set_peer_bandwidth_message(5000000, BandwidthLimit::dynamic).payload,
            (std::vector<uint8_t>{0, 0x4c, 0x4b, 0x40, 2}));
  EXPECT_EQ(stream_begin_message(1).payload, (std::vector<uint8_t>{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(ping_response_message(0x01020304).payload,
            (std::vector<uint8_t>{0, 7, 1, 2, 3, 4}));
  EXPECT_EQ(abort_message(6).type_id, msg_type::kAbort);
  EXPECT_EQ(ack_message(9).type_id, msg_type::kAck);
}

TEST(RtmpMessage, ControlMessagesMatchNginxBytes) {
  // nginx's first three replies to a publisher, re-encoded by us, are identical.
  std::vector<Message> msgs = messages_of("ffmpeg_publish_replies.bin");
  ASSERT_GE(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].payload, window_ack_size_message(5000000).payload);
  EXPECT_EQ(msgs[1].payload, set_peer_bandwidth_message(5000000, BandwidthLimit::dynamic).payload);
  EXPECT_EQ(msgs[2].payload, set_chunk_size_message(4096).payload);
  Result<PeerBandwidth> pb = decode_peer_bandwidth(msgs[1]);
  ASSERT_TRUE(pb.ok()) << pb.error();
  EXPECT_EQ(pb->window, 5000000u);
  EXPECT_EQ(pb->limit, BandwidthLimit::dynamic);
}

TEST(RtmpMessage, DecodesUserControlFromCaptures) {
  // rtmpdump: SetBufferLength(stream 1, 36000000 ms) after play.
  std::vector<Message> msgs = messages_of("rtmpdump_play_stream.bin");
  std::vector<UserControl> events;
  for (const Message& m : msgs) {
    if (m.type_id != msg_type::kUserControl) continue;
    Result<UserControl> uc = decode_user_control(m);
    ASSERT_TRUE(uc.ok()) << uc.error();
    events.push_back(*uc);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, user_control::kSetBufferLength);
  EXPECT_EQ(events[0].value, 0u);
  EXPECT_EQ(events[0].buffer_ms, 300u);
  EXPECT_EQ(events[1].value, 1u);
  EXPECT_EQ(events[1].buffer_ms, 36000000u);

  // nginx: StreamBegin 1 before NetStream.Play.Start.
  std::vector<Message> replies = messages_of("rtmpdump_play_replies.bin");
  Result<UserControl> begin = decode_user_control(replies[5]);
  ASSERT_TRUE(begin.ok());
  EXPECT_EQ(begin->event, user_control::kStreamBegin);
  EXPECT_EQ(begin->value, 1u);
}

TEST(RtmpMessage, UserControlRoundTrip) {
  for (UserControl uc : {UserControl{user_control::kPingRequest, 123456, 0},
                         UserControl{user_control::kPingResponse, 7, 0},
                         UserControl{user_control::kStreamEof, 1, 0},
                         UserControl{user_control::kSetBufferLength, 1, 3000}}) {
    Result<UserControl> back = decode_user_control(user_control_message(uc));
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(back->event, uc.event);
    EXPECT_EQ(back->value, uc.value);
    EXPECT_EQ(back->buffer_ms, uc.buffer_ms);
  }
}

TEST(RtmpMessage, RejectsShortControlMessages) {
  EXPECT_FALSE(decode_u32_control(with_payload(msg_type::kAck, {0, 0, 1})).ok());
  EXPECT_FALSE(decode_peer_bandwidth(with_payload(msg_type::kSetPeerBandwidth, {0, 0, 0, 1})).ok());
  EXPECT_FALSE(decode_peer_bandwidth(with_payload(msg_type::kSetPeerBandwidth, {0, 0, 0, 1, 9})).ok());
  EXPECT_FALSE(decode_user_control(with_payload(msg_type::kUserControl, {0})).ok());
  EXPECT_FALSE(decode_user_control(with_payload(msg_type::kUserControl, {0, 6, 0, 0})).ok());
  EXPECT_FALSE(
      decode_user_control(with_payload(msg_type::kUserControl, {0, 3, 0, 0, 0, 1, 0})).ok());
  Result<uint32_t> v = decode_u32_control(with_payload(msg_type::kAck, {0, 0, 1, 0}));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 256u);
}

// ---- commands -----------------------------------------------------------------

TEST(RtmpMessage, DecodesConnectFromFfmpegPlayer) {
  std::vector<Message> msgs = messages_of("ffmpeg_play_stream.bin");
  Result<Command> c = decode_command(msgs[0]);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->name, "connect");
  EXPECT_EQ(c->transaction_id, 1);
  EXPECT_EQ(c->object.get_string("flashVer"), "LNX 9,0,124,2");
  EXPECT_EQ(c->object.get_string("tcUrl"), "rtmp://127.0.0.1:19351/live");
  EXPECT_EQ(c->object.get_number("videoCodecs"), 252);
  // Re-encoding gives back the exact bytes (property order and forms kept).
  EXPECT_EQ(encode_command(*c), msgs[0].payload);
}

TEST(RtmpMessage, PlayCarriesStartAndDuration) {
  std::vector<Message> msgs = messages_of("rtmpdump_play_stream.bin");
  const Message* play = nullptr;
  for (const Message& m : msgs)
    if (m.type_id == msg_type::kCommandAmf0 && decode_command(m)->name == "play") play = &m;
  ASSERT_NE(play, nullptr);
  Result<Command> c = decode_command(*play);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->args.size(), 3u);
  EXPECT_EQ(c->args[0].str, "s");
  EXPECT_EQ(c->args[1].number, 0);
  EXPECT_EQ(c->args[2].number, 1000);
  EXPECT_EQ(play->stream_id, 1u);
}

TEST(RtmpMessage, DecodesNginxReplies) {
  std::vector<Message> msgs = messages_of("ffmpeg_publish_replies.bin");
  ASSERT_GE(msgs.size(), 6u);
  Result<Command> connect = decode_command(msgs[3]);
  ASSERT_TRUE(connect.ok());
  EXPECT_EQ(connect->name, "_result");
  ASSERT_NE(status_info(*connect), nullptr);
  EXPECT_EQ(status_info(*connect)->get_string("code"), status::kConnectSuccess);
  Result<Command> created = decode_command(msgs[4]);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->transaction_id, 4);
  ASSERT_EQ(created->args.size(), 1u);
  EXPECT_EQ(created->args[0].number, 1);
  Result<Command> started = decode_command(msgs[5]);
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(started->name, "onStatus");
  EXPECT_EQ(status_info(*started)->get_string("code"), status::kPublishStart);
  EXPECT_EQ(status_info(*started)->get_string("level"), "status");
}

TEST(RtmpMessage, CommandRoundTrip) {
  Command c;
  c.name = "publish";
  c.transaction_id = 5;
  c.args = {Value::String("s?token=abc"), Value::String("live")};
  Message m = command_message(c, 1, 8);
  EXPECT_EQ(m.type_id, msg_type::kCommandAmf0);
  EXPECT_EQ(m.stream_id, 1u);
  EXPECT_EQ(m.csid, 8u);
  Result<Command> back = decode_command(m);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->name, "publish");
  EXPECT_EQ(back->transaction_id, 5);
  EXPECT_TRUE(back->object.type == amf0::Type::null);
  ASSERT_EQ(back->args.size(), 2u);
  EXPECT_EQ(back->args[0].str, "s?token=abc");
}

TEST(RtmpMessage, DecodesAmf3CommandWithFormatByte) {
  Message m = command_message(create_stream_command(2), 0);
  m.type_id = msg_type::kCommandAmf3;
  m.payload.insert(m.payload.begin(), 0x00);
  Result<Command> c = decode_command(m);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->name, "createStream");
  EXPECT_EQ(c->transaction_id, 2);
}

TEST(RtmpMessage, LenientAboutMissingTransactionId) {
  Message m = with_payload(msg_type::kCommandAmf0, amf0::encode(Value::String("onBWDone")));
  Result<Command> c = decode_command(m);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->name, "onBWDone");
  EXPECT_EQ(c->transaction_id, 0);
  EXPECT_TRUE(c->object.type == amf0::Type::null);
}

TEST(RtmpMessage, RejectsBadCommands) {
  EXPECT_FALSE(decode_command(with_payload(msg_type::kCommandAmf0, {})).ok());
  // Name must be a string.
  EXPECT_FALSE(decode_command(with_payload(msg_type::kCommandAmf0, amf0::encode(Value::Number(1)))).ok());
  // Malformed AMF after a good name.
  std::vector<uint8_t> p = amf0::encode(Value::String("connect"));
  p.insert(p.end(), {0x00, 0x3f, 0xf0, 0x00, 0x03, 0x00, 0x05, 'a'});
  EXPECT_FALSE(decode_command(with_payload(msg_type::kCommandAmf0, p)).ok());
  // Wrong message type.
  EXPECT_FALSE(decode_command(with_payload(msg_type::kAudio, amf0::encode(Value::String("x")))).ok());
  EXPECT_FALSE(decode_data(with_payload(msg_type::kCommandAmf0, amf0::encode(Value::String("x")))).ok());
}

TEST(RtmpMessage, DataMessageRoundTrip) {
  DataMessage d;
  d.name = "@setDataFrame";
  d.values = {Value::String("onMetaData"), Value::EcmaArray({{"width", Value::Number(160)}})};
  Result<DataMessage> back = decode_data(with_payload(msg_type::kDataAmf0, encode_data(d)));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->name, d.name);
  ASSERT_EQ(back->values.size(), 2u);
  EXPECT_EQ(back->values[1], d.values[1]);
}

// ---- reply builders --------------------------------------------------------------

TEST(RtmpMessage, ConnectResult) {
  Command c = connect_result(1);
  EXPECT_EQ(c.name, "_result");
  EXPECT_EQ(c.transaction_id, 1);
  EXPECT_FALSE(c.object.get_string("fmsVer").empty());
  EXPECT_EQ(c.object.get_number("capabilities"), 127);
  const Value* info = status_info(c);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->get_string("level"), "status");
  EXPECT_EQ(info->get_string("code"), status::kConnectSuccess);
  EXPECT_EQ(info->get_number("objectEncoding", -1), 0);
  // Survives the wire.
  Result<Command> back = decode_command(command_message(c, 0));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(status_info(*back)->get_string("code"), status::kConnectSuccess);
}

TEST(RtmpMessage, ConnectError) {
  Command c = connect_error(1, status::kConnectRejected, "no such app");
  EXPECT_EQ(c.name, "_error");
  EXPECT_EQ(status_info(c)->get_string("level"), "error");
  EXPECT_EQ(status_info(c)->get_string("description"), "no such app");
}

TEST(RtmpMessage, CreateStreamAndSimpleResults) {
  Command c = create_stream_result(4, 1);
  EXPECT_EQ(c.name, "_result");
  EXPECT_EQ(c.transaction_id, 4);
  EXPECT_TRUE(c.object.type == amf0::Type::null);
  ASSERT_EQ(c.args.size(), 1u);
  EXPECT_EQ(c.args[0].number, 1);
  // Same bytes nginx sent for createStream's _result.
  std::vector<Message> msgs = messages_of("ffmpeg_publish_replies.bin");
  EXPECT_EQ(encode_command(c), msgs[4].payload);
  EXPECT_TRUE(simple_result(2).args.empty());
}

TEST(RtmpMessage, OnStatusVariants) {
  struct {
    std::string_view level, code;
  } cases[] = {{"status", status::kPublishStart},       {"status", status::kPlayStart},
               {"status", status::kPlayReset},          {"error", status::kPublishBadName},
               {"error", status::kPlayStreamNotFound}};
  for (auto c : cases) {
    Command cmd = on_status(c.level, c.code, "stream live/s: no origin");
    EXPECT_EQ(cmd.name, "onStatus");
    EXPECT_EQ(cmd.transaction_id, 0);
    Result<Command> back = decode_command(command_message(cmd, 1, 5));
    ASSERT_TRUE(back.ok());
    const Value* info = status_info(*back);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->get_string("level"), c.level);
    EXPECT_EQ(info->get_string("code"), c.code);
    EXPECT_EQ(info->get_string("description"), "stream live/s: no origin");
  }
}

TEST(RtmpMessage, OriginCommands) {
  Value props = Value::Object({{"app", Value::String("live")},
                               {"tcUrl", Value::String("rtmp://proxy/live")}});
  Command connect = connect_command(1, props);
  EXPECT_EQ(connect.name, "connect");
  EXPECT_EQ(connect.object, props);
  EXPECT_EQ(create_stream_command(2).name, "createStream");
  Command publish = publish_command(3, "s?token=abc", "live");
  ASSERT_EQ(publish.args.size(), 2u);
  EXPECT_EQ(publish.args[0].str, "s?token=abc");
  EXPECT_EQ(publish.args[1].str, "live");
  Command play = play_command(4, "s");
  ASSERT_EQ(play.args.size(), 1u);
  EXPECT_EQ(play.args[0].str, "s");
}

}  // namespace
// ---- proxy-loop marker (core/proxy_loop.h) ------------------------------------------

TEST(RtmpMessage, ConnectCarriesTheProxyChain) {
  constexpr uint64_t kA = 0xaULL, kB = 0xbULL;
  std::vector<Message> msgs = messages_of("ffmpeg_play_stream.bin");
  Result<Command> c = decode_command(msgs[0]);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_FALSE(connect_lists_proxy(*c, kA));
  // Proxy A replays the client's connect with itself appended...
  connect_add_proxy(&*c, kA);
  Result<Command> at_b = decode_command(command_message(*c, 0));
  ASSERT_TRUE(at_b.ok()) << at_b.error();
  EXPECT_EQ(at_b->object.get_string("srsProxyVia"), "000000000000000a");
  EXPECT_EQ(at_b->object.get_string("tcUrl"), "rtmp://127.0.0.1:19351/live");  // the rest is kept
  EXPECT_TRUE(connect_lists_proxy(*at_b, kA));
  EXPECT_FALSE(connect_lists_proxy(*at_b, kB));
  // ... B appends itself, and the connect that comes back to A is recognised.
  connect_add_proxy(&*at_b, kB);
  Result<Command> back = decode_command(command_message(*at_b, 0));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->object.get_string("srsProxyVia"), "000000000000000a.000000000000000b");
  EXPECT_TRUE(connect_lists_proxy(*back, kA));
  EXPECT_TRUE(connect_lists_proxy(*back, kB));
  // Still one property: set() replaced it.
  size_t n = 0;
  for (const amf0::Property& p : back->object.props) n += p.key == "srsProxyVia";
  EXPECT_EQ(n, 1u);
}

TEST(RtmpMessage, ProxyChainOfOddConnects) {
  constexpr uint64_t kA = 0xaULL;
  Command c;
  c.name = "connect";
  EXPECT_FALSE(connect_lists_proxy(c, kA));  // null object
  connect_add_proxy(&c, kA);
  EXPECT_FALSE(c.object.is_object());        // left alone
  c.object = amf0::Value::Object();
  c.object.set("srsProxyVia", amf0::Value::Number(10));
  EXPECT_FALSE(connect_lists_proxy(c, kA));  // not a string
  connect_add_proxy(&c, kA);
  EXPECT_EQ(c.object.get_string("srsProxyVia"), "000000000000000a");
  c.object.set("srsProxyVia", amf0::Value::String("garbage.000000000000000A"));
  EXPECT_TRUE(connect_lists_proxy(c, kA));
  // An ECMA array as the command object (some encoders) works the same.
  c.object = amf0::Value::EcmaArray();
  connect_add_proxy(&c, kA);
  EXPECT_TRUE(connect_lists_proxy(c, kA));
}

}  // namespace sp::rtmp

namespace sp::rtmp {
namespace {

TEST(RtmpMessage, EveryErrorKindHasItsStatusCode) {
  for (ErrorKind k : {ErrorKind::bad_input, ErrorKind::not_found, ErrorKind::internal, ErrorKind::upstream,
                      ErrorKind::unavailable, ErrorKind::full, ErrorKind::timeout}) {
    EXPECT_EQ(error_status_code(k, /*publishing=*/true), "NetStream.Publish.BadName") << error_kind_name(k);
    EXPECT_EQ(error_status_code(k, /*publishing=*/false), "NetStream.Play.StreamNotFound") << error_kind_name(k);
  }
}

}  // namespace
}  // namespace sp::rtmp
