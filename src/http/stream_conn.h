// One client connection of the HTTP stream service: the HttpConn and its
// keep-alive loop. Each request head that arrives gets a new StreamRequest,
// which lives until its answer is over (or the client is gone) and is then
// destroyed; nothing of one request is left for the next but the socket.
#pragma once

#include <memory>
#include <string>

#include "http/http_server.h"

namespace sp {

class HttpStreamService;
class StreamRequest;

class StreamConn : public HttpConn::Handler {
 public:
  StreamConn(HttpStreamService& svc, BufferEventPtr bev, const SockAddr& peer, bool tls);
  // A worker exiting with a request still running (shutdown_timeout) ends
  // it here, so it gives back its client count in the shared registry.
  ~StreamConn() override;

  void start() { conn_.start(); }
  void drain() { conn_.drain(); }
  bool closed() const { return conn_.closed(); }

  // The request's answer is over: it is destroyed from the loop.
  void request_done(StreamRequest* req);

  // HttpConn::Handler
  void on_request(HttpConn& conn, const HttpRequestHead& head, std::string body) override;
  void on_drain(HttpConn& conn) override;
  void on_close(HttpConn& conn, const std::string& reason) override;

 private:
  HttpStreamService& svc_;
  HttpConn conn_;
  std::unique_ptr<StreamRequest> request_;  // after conn_: destroyed first
};

}  // namespace sp
