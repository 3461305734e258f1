// RTMP message payloads: protocol control messages (types 1-6), AMF0 command
// (20) and data (18) messages, and builders for the replies a server owes its
// clients (connect _result, createStream _result, onStatus) and the commands
// the proxy sends an origin. Pure code over chunk.h's Message and amf0.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "rtmp/amf0.h"
#include "rtmp/chunk.h"

namespace sp::rtmp {

// Message type ids.
namespace msg_type {
inline constexpr uint8_t kSetChunkSize = 1;
inline constexpr uint8_t kAbort = 2;
inline constexpr uint8_t kAck = 3;
inline constexpr uint8_t kUserControl = 4;
inline constexpr uint8_t kWindowAckSize = 5;
inline constexpr uint8_t kSetPeerBandwidth = 6;
inline constexpr uint8_t kAudio = 8;
inline constexpr uint8_t kVideo = 9;
inline constexpr uint8_t kDataAmf3 = 15;
inline constexpr uint8_t kSharedObjectAmf3 = 16;
inline constexpr uint8_t kCommandAmf3 = 17;
inline constexpr uint8_t kDataAmf0 = 18;
inline constexpr uint8_t kSharedObjectAmf0 = 19;
inline constexpr uint8_t kCommandAmf0 = 20;
inline constexpr uint8_t kAggregate = 22;
}  // namespace msg_type

// User control event types (message type 4).
namespace user_control {
inline constexpr uint16_t kStreamBegin = 0;
inline constexpr uint16_t kStreamEof = 1;
inline constexpr uint16_t kStreamDry = 2;
inline constexpr uint16_t kSetBufferLength = 3;
inline constexpr uint16_t kStreamIsRecorded = 4;
inline constexpr uint16_t kPingRequest = 6;
inline constexpr uint16_t kPingResponse = 7;
}  // namespace user_control

// Set Peer Bandwidth limit types.
enum class BandwidthLimit : uint8_t { hard = 0, soft = 1, dynamic = 2 };

// ---- protocol control --------------------------------------------------------

// Types 1, 2, 3 and 5 carry one 32-bit number (chunk size, csid, sequence
// number, window size).
Result<uint32_t> decode_u32_control(const Message& m);

struct PeerBandwidth {
  uint32_t window = 0;
  BandwidthLimit limit = BandwidthLimit::dynamic;
};
Result<PeerBandwidth> decode_peer_bandwidth(const Message& m);

struct UserControl {
  uint16_t event = 0;
  // Stream id for stream events, timestamp for ping request/response.
  uint32_t value = 0;
  uint32_t buffer_ms = 0;  // kSetBufferLength only
};
Result<UserControl> decode_user_control(const Message& m);

// Builders: all on chunk stream 2, message stream 0, timestamp 0.
Message set_chunk_size_message(uint32_t size);
Message abort_message(uint32_t csid);
Message ack_message(uint32_t sequence_number);
Message window_ack_size_message(uint32_t window);
Message set_peer_bandwidth_message(uint32_t window, BandwidthLimit limit);
Message user_control_message(const UserControl& uc);
Message stream_begin_message(uint32_t stream_id);
Message ping_response_message(uint32_t timestamp);

// ---- commands and data -------------------------------------------------------

// An AMF0 command: name, transaction id, command object (often null), args.
struct Command {
  std::string name;
  double transaction_id = 0;
  amf0::Value object = amf0::Value::Null();
  std::vector<amf0::Value> args;
};

// Decodes a type 20 payload, or a type 17 one (AMF3 command whose body, as
// sent by Flash, is a 0x00 byte followed by AMF0). Lenient about what follows
// the name: missing transaction id or object default to 0 / null.
Result<Command> decode_command(const Message& m);
std::vector<uint8_t> encode_command(const Command& c);
Message command_message(const Command& c, uint32_t stream_id, uint32_t csid = kCsidCommand);

// A type 18 data message: a name ("@setDataFrame", "onMetaData", ...) and values.
struct DataMessage {
  std::string name;
  std::vector<amf0::Value> values;
};
Result<DataMessage> decode_data(const Message& m);
std::vector<uint8_t> encode_data(const DataMessage& d);

// ---- status codes and reply builders -------------------------------------

namespace status {
inline constexpr std::string_view kConnectSuccess = "NetConnection.Connect.Success";
inline constexpr std::string_view kConnectRejected = "NetConnection.Connect.Rejected";
inline constexpr std::string_view kConnectFailed = "NetConnection.Connect.Failed";
inline constexpr std::string_view kPublishStart = "NetStream.Publish.Start";
inline constexpr std::string_view kPublishBadName = "NetStream.Publish.BadName";
inline constexpr std::string_view kUnpublishSuccess = "NetStream.Unpublish.Success";
inline constexpr std::string_view kPlayStart = "NetStream.Play.Start";
inline constexpr std::string_view kPlayReset = "NetStream.Play.Reset";
inline constexpr std::string_view kPlayStop = "NetStream.Play.Stop";
inline constexpr std::string_view kPlayStreamNotFound = "NetStream.Play.StreamNotFound";
inline constexpr std::string_view kPlayFailed = "NetStream.Play.Failed";
inline constexpr std::string_view kStreamFailed = "NetStream.Failed";
}  // namespace status

// The onStatus code a client gets when its publish or play fails with an
// error of `kind` (core/result.h): the one place RTMP turns an ErrorKind into
// its answer. Every kind gives NetStream.Publish.BadName to a publisher and
// NetStream.Play.StreamNotFound to a player: the codes SRS sends, which
// clients (ffmpeg, OBS, players) read as "this stream cannot be served here",
// whatever the reason; the description says the reason.
std::string_view error_status_code(ErrorKind kind, bool publishing);

// The _result for connect: properties {fmsVer, capabilities, mode} and info
// {level: status, code: NetConnection.Connect.Success, description,
// objectEncoding}.
Command connect_result(double transaction_id, double object_encoding = 0);
// The _error for connect, e.g. code NetConnection.Connect.Rejected.
Command connect_error(double transaction_id, std::string_view code, std::string_view description);
// `_result` with a null object and the new message stream id.
Command create_stream_result(double transaction_id, uint32_t stream_id);
// A bare `_result` (releaseStream, FCPublish, FCUnpublish, ...).
Command simple_result(double transaction_id);
// onStatus with info {level, code, description}; level is "status" or "error".
Command on_status(std::string_view level, std::string_view code, std::string_view description);
// The info object of an onStatus/_result/_error (first argument), or nullptr.
const amf0::Value* status_info(const Command& c);

// Commands the proxy sends an origin.
Command connect_command(double transaction_id, amf0::Value properties);
Command create_stream_command(double transaction_id);
Command publish_command(double transaction_id, std::string_view stream, std::string_view type);
Command play_command(double transaction_id, std::string_view stream);

// Proxy-loop marker (core/proxy_loop.h): the srsProxyVia string property of
// a connect command object, a chain of the proxies the connect passed
// through. Origins ignore properties they do not know.
// True when the connect's chain lists `proxy` (false without an object or
// property, or with a property of another type).
bool connect_lists_proxy(const Command& connect, uint64_t proxy);
// Appends `proxy` to the chain (creating the property; a non-string one is
// replaced). No-op when the command object is not an object.
void connect_add_proxy(Command* connect, uint64_t proxy);

}  // namespace sp::rtmp
