// Protocol control, command and data message payloads (see message.h).
#include "rtmp/message.h"

#include "core/proxy_loop.h"
#include "rtmp/bytes.h"

namespace sp::rtmp {
namespace {

using amf0::Property;
using amf0::Value;

Message control_message(uint8_t type, std::vector<uint8_t> payload) {
  Message m;
  m.type_id = type;
  m.csid = kCsidControl;
  m.stream_id = 0;
  m.timestamp = 0;
  m.payload = std::move(payload);
  return m;
}

Message u32_message(uint8_t type, uint32_t v) {
  std::vector<uint8_t> p;
  put_u32(&p, v);
  return control_message(type, std::move(p));
}

Value info_object(std::string_view level, std::string_view code, std::string_view description) {
  return Value::Object({{"level", Value::String(std::string(level))},
                        {"code", Value::String(std::string(code))},
                        {"description", Value::String(std::string(description))}});
}

// Name, then optional transaction id and object, then args: shared by
// commands and (without the id/object) data messages.
Result<std::vector<Value>> decode_values(const Message& m, bool amf3_prefix_allowed) {
  std::span<const uint8_t> body(m.payload);
  // Flash sends AMF3 commands (type 17) as a 0x00 format byte before AMF0.
  if (amf3_prefix_allowed && !body.empty() && body[0] == 0) body = body.subspan(1);
  Result<std::vector<Value>> values = amf0::decode_all(body);
  if (!values.ok()) return values;
  if (values->empty() || !(*values)[0].is_string())
    return Result<std::vector<Value>>::Error(ErrorKind::bad_input, "rtmp: command or data message without a name");
  return values;
}

}  // namespace

// ---- protocol control --------------------------------------------------------

Result<uint32_t> decode_u32_control(const Message& m) {
  ByteReader r(m.payload);
  uint32_t v;
  if (!r.u32(&v)) {
    return Result<uint32_t>::Error(ErrorKind::bad_input,
                                   "rtmp: control message type " + std::to_string(m.type_id) + " is too short");
  }
  return v;
}

Result<PeerBandwidth> decode_peer_bandwidth(const Message& m) {
  ByteReader r(m.payload);
  PeerBandwidth pb;
  uint8_t limit;
  if (!r.u32(&pb.window) || !r.u8(&limit))
    return Result<PeerBandwidth>::Error(ErrorKind::bad_input, "rtmp: set peer bandwidth is too short");
  if (limit > 2)
    return Result<PeerBandwidth>::Error(ErrorKind::bad_input,
                                        "rtmp: bad peer bandwidth limit " + std::to_string(limit));
  pb.limit = BandwidthLimit(limit);
  return pb;
}

Result<UserControl> decode_user_control(const Message& m) {
  ByteReader r(m.payload);
  UserControl uc;
  if (!r.u16(&uc.event)) return Result<UserControl>::Error(ErrorKind::bad_input, "rtmp: user control is too short");
  // Every known event has a 4-byte value; unknown events may carry anything,
  // so only the known ones are held to it.
  bool known = uc.event <= user_control::kPingResponse && uc.event != 5;
  if (!r.u32(&uc.value) && known)
    return Result<UserControl>::Error(ErrorKind::bad_input,
                                      "rtmp: user control event " + std::to_string(uc.event) + " is too short");
  if (uc.event == user_control::kSetBufferLength && !r.u32(&uc.buffer_ms))
    return Result<UserControl>::Error(ErrorKind::bad_input, "rtmp: set buffer length is too short");
  return uc;
}

Message set_chunk_size_message(uint32_t size) { return u32_message(msg_type::kSetChunkSize, size); }
Message abort_message(uint32_t csid) { return u32_message(msg_type::kAbort, csid); }
Message ack_message(uint32_t seq) { return u32_message(msg_type::kAck, seq); }
Message window_ack_size_message(uint32_t window) {
  return u32_message(msg_type::kWindowAckSize, window);
}

Message set_peer_bandwidth_message(uint32_t window, BandwidthLimit limit) {
  std::vector<uint8_t> p;
  put_u32(&p, window);
  put_u8(&p, uint8_t(limit));
  return control_message(msg_type::kSetPeerBandwidth, std::move(p));
}

Message user_control_message(const UserControl& uc) {
  std::vector<uint8_t> p;
  put_u16(&p, uc.event);
  put_u32(&p, uc.value);
  if (uc.event == user_control::kSetBufferLength) put_u32(&p, uc.buffer_ms);
  return control_message(msg_type::kUserControl, std::move(p));
}

Message stream_begin_message(uint32_t stream_id) {
  return user_control_message({user_control::kStreamBegin, stream_id, 0});
}
Message ping_response_message(uint32_t timestamp) {
  return user_control_message({user_control::kPingResponse, timestamp, 0});
}

// ---- commands and data -------------------------------------------------------

Result<Command> decode_command(const Message& m) {
  if (m.type_id != msg_type::kCommandAmf0 && m.type_id != msg_type::kCommandAmf3)
    return Result<Command>::Error(ErrorKind::bad_input,
                                  "rtmp: message type " + std::to_string(m.type_id) + " is not a command");
  Result<std::vector<Value>> values = decode_values(m, m.type_id == msg_type::kCommandAmf3);
  if (!values.ok()) return values.status();
  std::vector<Value>& v = *values;
  Command c;
  c.name = std::move(v[0].str);
  size_t next = 1;
  if (next < v.size() && v[next].is_number()) c.transaction_id = v[next++].number;
  if (next < v.size()) c.object = std::move(v[next++]);
  for (; next < v.size(); ++next) c.args.push_back(std::move(v[next]));
  return c;
}

std::vector<uint8_t> encode_command(const Command& c) {
  std::vector<uint8_t> out;
  amf0::encode(Value::String(c.name), &out);
  amf0::encode(Value::Number(c.transaction_id), &out);
  amf0::encode(c.object, &out);
  for (const Value& a : c.args) amf0::encode(a, &out);
  return out;
}

Message command_message(const Command& c, uint32_t stream_id, uint32_t csid) {
  Message m;
  m.type_id = msg_type::kCommandAmf0;
  m.stream_id = stream_id;
  m.csid = csid;
  m.payload = encode_command(c);
  return m;
}

Result<DataMessage> decode_data(const Message& m) {
  if (m.type_id != msg_type::kDataAmf0 && m.type_id != msg_type::kDataAmf3)
    return Result<DataMessage>::Error(ErrorKind::bad_input,
                                      "rtmp: message type " + std::to_string(m.type_id) + " is not a data message");
  Result<std::vector<Value>> values = decode_values(m, m.type_id == msg_type::kDataAmf3);
  if (!values.ok()) return values.status();
  DataMessage d;
  d.name = std::move((*values)[0].str);
  d.values.assign(std::make_move_iterator(values->begin() + 1),
                  std::make_move_iterator(values->end()));
  return d;
}

std::vector<uint8_t> encode_data(const DataMessage& d) {
  std::vector<uint8_t> out;
  amf0::encode(Value::String(d.name), &out);
  for (const Value& v : d.values) amf0::encode(v, &out);
  return out;
}

// ---- reply builders -----------------------------------------------------------

Command connect_result(double transaction_id, double object_encoding) {
  Command c;
  c.name = "_result";
  c.transaction_id = transaction_id;
  c.object = Value::Object({{"fmsVer", Value::String("FMS/3,5,3,888")},
                            {"capabilities", Value::Number(127)},
                            {"mode", Value::Number(1)}});
  Value info = info_object("status", status::kConnectSuccess, "Connection succeeded.");
  info.set("objectEncoding", Value::Number(object_encoding));
  c.args.push_back(std::move(info));
  return c;
}

Command connect_error(double transaction_id, std::string_view code, std::string_view description) {
  Command c;
  c.name = "_error";
  c.transaction_id = transaction_id;
  c.args.push_back(info_object("error", code, description));
  return c;
}

Command create_stream_result(double transaction_id, uint32_t stream_id) {
  Command c = simple_result(transaction_id);
  c.args.push_back(Value::Number(stream_id));
  return c;
}

Command simple_result(double transaction_id) {
  Command c;
  c.name = "_result";
  c.transaction_id = transaction_id;
  return c;
}

std::string_view error_status_code(ErrorKind kind, bool publishing) {
  switch (kind) {  // every kind listed, so a new one warns here until its code is decided
    case ErrorKind::bad_input:
    case ErrorKind::not_found:
    case ErrorKind::internal:
    case ErrorKind::upstream:
    case ErrorKind::unavailable:
    case ErrorKind::full:
    case ErrorKind::timeout: break;
  }
  return publishing ? status::kPublishBadName : status::kPlayStreamNotFound;
}

Command on_status(std::string_view level, std::string_view code, std::string_view description) {
  Command c;
  c.name = "onStatus";
  c.transaction_id = 0;
  c.args.push_back(info_object(level, code, description));
  return c;
}

const amf0::Value* status_info(const Command& c) {
  for (const Value& a : c.args)
    if (a.is_object()) return &a;
  // Some servers put the info object in the command-object slot.
  return c.object.is_object() ? &c.object : nullptr;
}

Command connect_command(double transaction_id, amf0::Value properties) {
  Command c;
  c.name = "connect";
  c.transaction_id = transaction_id;
  c.object = std::move(properties);
  return c;
}

bool connect_lists_proxy(const Command& connect, uint64_t proxy) {
  const amf0::Value* via = connect.object.find(kRtmpViaProperty);
  return via && via->is_string() && proxy_chain_lists(via->str, proxy);
}

void connect_add_proxy(Command* connect, uint64_t proxy) {
  if (!connect->object.is_object()) return;
  const amf0::Value* via = connect->object.find(kRtmpViaProperty);
  std::string chain = via && via->is_string() ? via->str : std::string();
  connect->object.set(kRtmpViaProperty, amf0::Value::String(proxy_chain_append(chain, proxy)));
}

Command create_stream_command(double transaction_id) {
  Command c;
  c.name = "createStream";
  c.transaction_id = transaction_id;
  return c;
}

Command publish_command(double transaction_id, std::string_view stream, std::string_view type) {
  Command c;
  c.name = "publish";
  c.transaction_id = transaction_id;
  c.args.push_back(Value::String(std::string(stream)));
  c.args.push_back(Value::String(std::string(type)));
  return c;
}

Command play_command(double transaction_id, std::string_view stream) {
  Command c;
  c.name = "play";
  c.transaction_id = transaction_id;
  c.args.push_back(Value::String(std::string(stream)));
  return c;
}

}  // namespace sp::rtmp
