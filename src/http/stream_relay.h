// An origin's answer streamed to an HTTP stream client: HTTP-FLV / TS / AAC
// / MP3 live streams (picked from the registry, retried on the stream's new
// origin when the picked one fails before its head, counted once the origin
// answers 2xx) and the segments of an HLS session (the session names the
// origin: no pick, no retry, no count). Status and end-to-end headers pass
// through; a body of known length keeps the client connection, any other is
// sent close-delimited. Back-pressure: the origin is not read while the
// client's output is full (HttpConn::output_full()) and read again on its
// drain. Body bytes go to the client as views of the worker's read buffer,
// or, for identity bodies to plaintext clients, spliced from the origin's
// socket to the client's (HttpConn::splice_from()).
#pragma once

#include <string>

#include "http/stream_origin.h"

namespace sp {

class StreamRelay : public OriginLeg {
 public:
  // `live_key`: the picked stream (from `server`), counted and its pin
  // confirmed once the origin answers 2xx; empty for an HLS segment.
  StreamRelay(StreamRequest& req, std::string live_key, std::string server)
      : OriginLeg(req), live_key_(std::move(live_key)), live_server_(std::move(server)) {}

  // Starts the origin request; the request is over when it cannot start.
  void start(const std::string& host, uint16_t port, const std::string& target) { open(host, port, target, true); }

  void on_client_drain() override;
  void on_origin_head(OriginClient& origin, const HttpResponseHead& head) override;
  void on_origin_body(OriginClient& origin, std::span<const std::string_view> pieces) override;
  ssize_t on_origin_splice(OriginClient& origin, int fd, size_t max) override;
  void on_origin_end(OriginClient& origin, const Status& result) override;

 private:
  void pause_if_full(OriginClient& origin);

  std::string live_key_, live_server_;  // cleared once counted
  bool paused_ = false;
};

}  // namespace sp
