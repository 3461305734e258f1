// An origin's answer streamed to an HTTP stream client: HTTP-FLV / TS / AAC
// / MP3 live streams (picked from the registry, retried on the stream's new
// origin when the picked one fails before its head, counted once the origin
// answers 2xx) and the segments of an HLS session (the session names the
// origin: no pick, no retry, no count). Status and end-to-end headers pass
// through; a body of known length keeps the client connection, any other is
// sent close-delimited. Back-pressure: above kHighWater of pending client
// output the origin is paused, below HttpConn::kLowWater resumed.
#pragma once

#include <string>

#include "http/stream_origin.h"

namespace sp {

class StreamRelay : public OriginLeg {
 public:
  static constexpr size_t kHighWater = 1024 * 1024;

  // `live_key`: the picked stream (from `server`), counted and its pin
  // confirmed once the origin answers 2xx; empty for an HLS segment.
  StreamRelay(StreamRequest& req, std::string live_key, std::string server)
      : OriginLeg(req), live_key_(std::move(live_key)), live_server_(std::move(server)) {}

  // Starts the origin request; the request is over when it cannot start.
  void start(const std::string& host, uint16_t port, const std::string& target) { open(host, port, target, true); }

  void on_client_drain() override;
  void on_origin_head(OriginClient& origin, const HttpResponseHead& head) override;
  void on_origin_body(OriginClient& origin, evbuffer* data) override;
  void on_origin_end(OriginClient& origin, const Status& result) override;

 private:
  std::string live_key_, live_server_;  // cleared once counted
  bool paused_ = false;
};

}  // namespace sp
