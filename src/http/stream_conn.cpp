// One HTTP stream client connection and its keep-alive loop (see
// stream_conn.h).
#include "http/stream_conn.h"

#include "core/log.h"
#include "http/stream_request.h"
#include "http/stream_service.h"

namespace sp {

StreamConn::StreamConn(HttpStreamService& svc, BufferEventPtr bev, const SockAddr& peer, bool tls)
    : svc_(svc),
      conn_(svc.base(), std::move(bev), peer, tls, new_context_id(),
            HttpConn::Limits{svc.conf().idle_timeout_ms, svc.conf().idle_timeout_ms, 0}, this) {
  conn_.set_bad_input_protocol(metrics::Protocol::http_flv);  // the listener's protocol before a path is known
}

StreamConn::~StreamConn() = default;

void StreamConn::on_request(HttpConn& conn, const HttpRequestHead& head, std::string) {
  // The previous request, if any, ended before HttpConn read this head.
  svc_.bury(std::move(request_));
  request_ = std::make_unique<StreamRequest>(*this, svc_, conn, head);
  request_->serve(head);
}

void StreamConn::request_done(StreamRequest* req) {
  if (request_.get() == req) svc_.bury(std::move(request_));
}

void StreamConn::on_drain(HttpConn&) {
  if (request_) request_->on_client_drain();
}

void StreamConn::on_close(HttpConn&, const std::string& reason) {
  if (request_) request_->client_gone(reason);
  svc_.conn_closed(this);
}

}  // namespace sp
