// The HTTP stream service (see http_stream.h for the behaviour and
// stream_service.h for its classes): listeners, connections, the reaper.
#include "http/http_stream.h"

#include <climits>
#include <cstdlib>
#include <cstring>

#include "core/access_log.h"
#include "core/log.h"
#include "http/http_conf.h"
#include "http/stream_conn.h"
#include "http/stream_service.h"

namespace sp {

HttpStreamService::HttpStreamService(WorkerContext& ctx)
    : base_(ctx.base),
      conf_(ctx.conf.module<HttpStreamConf>()),
      registry_(ctx.registry_client),
      limiter_(ctx.limiter),
      listener_(ctx.base, [this](BufferEventPtr bev, const SockAddr& peer, bool tls) {
        accept(std::move(bev), peer, tls);
      }) {}

HttpStreamService::~HttpStreamService() = default;

Status HttpStreamService::start(WorkerContext& ctx) {
  const ListenerSet& listeners = ctx.listeners;
  for (metrics::Protocol p : {metrics::Protocol::http_flv, metrics::Protocol::http_ts, metrics::Protocol::hls}) {
    Status st = access_log::use(p, conf_.access_log, ctx.conf.access_log);
    if (!st.ok()) return Status::Error("http_stream: " + st.message());
  }
  if (!conf_.root.empty()) {
    char buf[PATH_MAX];
    if (realpath(conf_.root.c_str(), buf)) {
      real_root_ = buf;
    } else {
      SP_PWARN("http_stream: root \"%s\" unusable (%s), static files disabled", conf_.root.c_str(), strerror(errno));
    }
  }
  for (const Listener& l : listeners.items()) {
    if (l.kind != "http_stream") continue;
    SSL_CTX* tls = nullptr;
    if (l.conf.ssl) {
      if (!tls_) {
        auto made = make_tls_server_context(conf_.ssl_certificate, conf_.ssl_certificate_key);
        if (!made.ok()) return Status::Error("http_stream: " + made.error());
        tls_ = std::move(*made);
      }
      tls = tls_.get();
    }
    Status st = listener_.add(l.fd, tls);
    if (!st.ok()) return Status::Error("http_stream: " + st.message());
  }
  return Status::Ok();
}

void HttpStreamService::stop_accepting() {
  stopped_ = true;
  listener_.stop();
  // Idle keep-alive clients close now, the others after their answer; copy
  // first, as closing removes entries.
  std::vector<StreamConn*> all;
  for (auto& [raw, owned] : conns_) all.push_back(raw);
  for (StreamConn* c : all) c->drain();
}

void HttpStreamService::conn_closed(StreamConn* c) {
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  limiter_.release();
  bury(std::move(it->second));
  conns_.erase(it);
}

void HttpStreamService::accept(BufferEventPtr bev, const SockAddr& peer, bool tls) {
  if (stopped_ || !limiter_.try_acquire("http_stream")) return;  // bev freed: closed
  auto c = std::make_unique<StreamConn>(*this, std::move(bev), peer, tls);
  StreamConn* raw = c.get();
  conns_.emplace(raw, std::move(c));
  raw->start();
}

extern const ConfModule kHttpConfModule;
extern const Module kHttpModule = {&kHttpConfModule, kRoleProtocol, make_service<HttpStreamService>};

}  // namespace sp
