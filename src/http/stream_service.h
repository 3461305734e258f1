// The HTTP stream service object (http_stream.h has the behaviour): the
// `http_stream` listeners of a worker, its client connections (StreamConn,
// stream_conn.h) and what every request needs from the worker: the loop, the
// configuration, the registry (through its RegistryClient, whichever backend
// holds it), the resolved static root and "destroy later".
//
// Classes of the service and their one job each:
//   HttpStreamService  listeners, the set of connections, destroy-later
//   StreamConn         one client connection: the keep-alive loop, one
//                      StreamRequest at a time (stream_conn.h)
//   StreamRequest      one request: loop check, routing, the answer, the
//                      access log, the client count (stream_request.h)
//   StreamRelay        an origin's answer streamed to the client: HTTP-FLV/
//                      TS/AAC/MP3 and HLS segments (stream_relay.h)
//   HlsPlaylistFetch   an HLS playlist fetched whole, redirects followed,
//                      rewritten, the session stored (hls_fetch.h)
//   serve_static_file  files from `root` (stream_static.h)
// Pure helpers: stream_route.h (routing), location.h (redirects),
// hls_session.h (session records), http_static.h, hls_playlist.h, query.h,
// body_reader.h (origin body framing over received bytes).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/deferred_free.h"
#include "core/event_ptr.h"
#include "http/http_conf.h"
#include "http/http_server.h"
#include "http/tls.h"
#include "module/module.h"

namespace sp {

class StreamConn;

class HttpStreamService : public Service {
 public:
  explicit HttpStreamService(WorkerContext& ctx);
  ~HttpStreamService() override;

  Status start(WorkerContext& ctx);

  const char* name() const override { return "http_stream"; }
  void stop_accepting() override;
  size_t active_sessions() const override { return conns_.size(); }

  event_base* base() const { return base_; }
  const HttpStreamConf& conf() const { return conf_; }
  RegistryClient& registry() { return registry_; }
  const std::string& real_root() const { return real_root_; }

  // Destroys `obj` from the loop, after the callback that gave it up returns.
  template <class T>
  void bury(std::unique_ptr<T> obj) {
    graveyard_.later(std::move(obj));
  }

  // The connection closed: its slot is free, the object destroyed later.
  void conn_closed(StreamConn* c);

 private:
  void accept(BufferEventPtr bev, const SockAddr& peer, bool tls);

  event_base* base_;
  HttpStreamConf conf_;
  RegistryClient& registry_;
  ConnectionLimiter& limiter_;
  SslCtxPtr tls_;
  HttpListener listener_;
  std::string real_root_;
  bool stopped_ = false;
  std::unordered_map<StreamConn*, std::unique_ptr<StreamConn>> conns_;
  DeferredFree graveyard_{base_};  // last: destroys what it holds before the rest goes
};

}  // namespace sp
