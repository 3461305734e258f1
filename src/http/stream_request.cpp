// One HTTP stream request: loop check, routing, short answers, access log
// (see stream_request.h).
#include "http/stream_request.h"

#include <openssl/rand.h>
#include <strings.h>
#include <sys/random.h>

#include "build_info.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/proxy_loop.h"
#include "http/hls_fetch.h"
#include "http/hls_playlist.h"
#include "http/hls_session.h"
#include "http/http_error.h"
#include "http/query.h"
#include "http/stream_conn.h"
#include "http/stream_relay.h"
#include "http/stream_route.h"
#include "http/stream_service.h"
#include "http/stream_static.h"

namespace sp {

namespace {

// The key of HLS viewer fingerprints. Made when the binary loads, i.e. in the
// master before it forks, so every worker (and every respawned or reloaded
// one) derives the same fingerprint for the same viewer.
const std::string& hls_client_secret() {
  static const std::string secret = [] {
    std::string s(32, '\0');
    if (getrandom(s.data(), s.size(), 0) != ssize_t(s.size())) RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), 32);
    return s;
  }();
  return secret;
}
[[maybe_unused]] const std::string& kEagerSecret = hls_client_secret();

// A new HLS session id: 16 random hex digits.
std::string new_hls_session_id() {
  unsigned char b[8];
  if (getrandom(b, sizeof(b), 0) != ssize_t(sizeof(b))) RAND_bytes(b, sizeof(b));
  return hex_string(b, sizeof(b));
}

}  // namespace

StreamRequest::StreamRequest(StreamConn& owner, HttpStreamService& svc, HttpConn& conn, const HttpRequestHead& head)
    : owner_(owner),
      svc_(svc),
      conn_(conn),
      started_ms_(monotonic_ms()),
      method_(head.method),
      target_(head.target),
      path_(head.path),
      query_(head.query),
      host_header_(head.host()) {
  for (const char* name : {"User-Agent", "Accept", "Range", "If-Modified-Since", "If-None-Match", "Referer"}) {
    if (auto v = head.headers.get(name)) forward_.add(name, std::string(*v));
  }
  std::string xff = conn_.peer().host_string();
  if (auto prior = head.headers.get("X-Forwarded-For")) xff = std::string(*prior) + ", " + xff;
  forward_.add("X-Forwarded-For", xff);
}

StreamRequest::~StreamRequest() { finish("worker exiting"); }

void StreamRequest::serve(const HttpRequestHead& head) {
  if (proxy_loop(head)) return;
  dispatch(head, route_stream_request(method_, target_, path_, query_, host_header_));
}

// Proxy loop (core/proxy_loop.h): a request that already passed through this
// proxy is refused before it costs another origin request; any other goes
// on with this proxy appended to its Via.
bool StreamRequest::proxy_loop(const HttpRequestHead& head) {
  std::string via;
  for (const auto& [name, value] : head.headers.fields()) {
    if (name.size() != 3 || strcasecmp(name.c_str(), "via") != 0) continue;
    if (!via.empty()) via += ", ";
    via += value;
  }
  if (via_lists_proxy(via, proxy_id())) {
    SP_WARN(ctx(), "http: %s %s %s proxy loop: the request already passed through this proxy (%s), Via: %s",
            conn_.peer().to_string().c_str(), method_.c_str(), target_.c_str(), proxy_via_name(proxy_id()).c_str(),
            via.c_str());
    fail(508, "proxy loop detected: this request already passed through " + proxy_via_name(proxy_id()));
    return true;
  }
  forward_.add("Via", via_append(via, proxy_id()));
  return false;
}

void StreamRequest::dispatch(const HttpRequestHead& head, const StreamRoute& route) {
  switch (route.kind) {
    case StreamRoute::kOptions: {
      HttpHeaders h;
      add_cors(&h);
      conn_.respond(200, h, "");
      return end("");
    }
    case StreamRoute::kMethodNotAllowed: {
      HttpHeaders h;
      h.add("Allow", "GET, HEAD, OPTIONS");
      add_cors(&h);
      h.add("Content-Type", "text/plain; charset=utf-8");
      conn_.respond(405, h, "method " + method_ + " not allowed\n");
      return end("");
    }
    case StreamRoute::kVersions:
      answer(200, std::string("{\"code\":0,\"server\":\"srs-proxy\",\"version\":\"") + SP_VERSION + "\"}",
             "application/json");
      return end("");
    case StreamRoute::kBadRequest:
      return fail(400, route.error);
    case StreamRoute::kLive:
      return serve_live(route.key);
    case StreamRoute::kNewHls:
      return serve_new_hls(head, route.key);
    case StreamRoute::kHlsSession:
      return serve_hls_session(route.hls_id);
    case StreamRoute::kStatic:
      return serve_static_file(*this, head);
  }
}

void StreamRequest::serve_live(const std::string& key) {
  auto pick = svc_.registry().pick(key, Proto::http, monotonic_ms());
  if (!pick.ok()) return fail(pick.kind(), pick.error());
  // Counted and confirmed once the origin answers 2xx (StreamRelay): a name
  // the origin does not have leaves only a pending pin.
  origin_desc_ = pick->origin.server + "@" + host_port_text(pick->host, pick->port);
  auto relay = std::make_unique<StreamRelay>(*this, key, pick->origin.server);
  StreamRelay* raw = relay.get();
  job_ = std::move(relay);
  raw->start(pick->host, pick->port, target_);
}

void StreamRequest::serve_new_hls(const HttpRequestHead& head, const std::string& key) {
  int64_t now = monotonic_ms();
  auto pick = svc_.registry().pick(key, Proto::http, now);
  if (!pick.ok()) return fail(pick.kind(), pick.error());
  // The viewer's session if it has one (a player reloading its first URL),
  // else a new one with a random id.
  auto ua = head.headers.get("User-Agent");
  HlsPlaylistFetch::Session s;
  s.client = hls_client_fingerprint(hls_client_secret(), conn_.peer().host_string(), ua ? *ua : "", key);
  auto known = svc_.registry().get_session(SessionKind::hls_client, s.client, now);
  bool reused = known.ok() && svc_.registry().get_session(SessionKind::hls, known->data, now).ok();
  s.id = reused ? known->data : new_hls_session_id();
  s.key = key;
  s.server = pick->origin.server;
  // The session and the fingerprint are put once the origin's playlist came
  // back 200 (HlsPlaylistFetch), so a 404 or 5xx playlist leaves nothing; a
  // playlist the origin does not have drops a reused session at once.
  s.is_new = true;
  hls_id_ = s.id;
  SP_INFO(ctx(), "http: hls session %s %s for %s on origin %s", s.id.c_str(), reused ? "reused" : "started",
          key.c_str(), pick->origin.server.c_str());
  origin_desc_ = pick->origin.server + "@" + host_port_text(pick->host, pick->port);
  std::string q = query_without_param(query_, kHlsSessionParam);
  auto fetch = std::make_unique<HlsPlaylistFetch>(*this, std::move(s));
  HlsPlaylistFetch* raw = fetch.get();
  job_ = std::move(fetch);
  raw->start(OriginTarget{pick->host, pick->port, path_ + (q.empty() ? "" : "?" + q)});
}

void StreamRequest::serve_hls_session(const std::string& id) {
  auto s = svc_.registry().get_session(SessionKind::hls, id, monotonic_ms());
  if (!s.ok()) return fail(404, "unknown or expired HLS session \"" + id + "\"");
  auto route = parse_hls_session_data(s->data);
  if (!route.ok()) return fail(404, "unknown or expired HLS session \"" + id + "\"");
  hls_id_ = id;
  origin_desc_ = s->origin_server + "@" + host_port_text(route->host, route->port);
  std::string q = query_without_param(query_, kHlsSessionParam);
  std::string target = map_hls_session_path(*route, path_) + (q.empty() ? "" : "?" + q);
  if (url_extension(path_) == "m3u8") {
    auto fetch = std::make_unique<HlsPlaylistFetch>(
        *this, HlsPlaylistFetch::Session{id, s->stream_key, s->origin_server, {}, false});
    HlsPlaylistFetch* raw = fetch.get();
    job_ = std::move(fetch);
    return raw->start(OriginTarget{route->host, route->port, target});
  }
  auto relay = std::make_unique<StreamRelay>(*this, "", s->origin_server);
  StreamRelay* raw = relay.get();
  job_ = std::move(relay);
  raw->start(route->host, route->port, target);
}

void StreamRequest::on_client_drain() {
  if (job_) job_->on_client_drain();
}

void StreamRequest::client_gone(const std::string& reason) {
  if (job_) job_->abort();  // the origin request ends now
  end(reason);
}

void StreamRequest::count_client(const std::string& key) {
  svc_.registry().add_client(key, Proto::http, +1, monotonic_ms());
  counted_key_ = key;
}

void StreamRequest::add_cors(HttpHeaders* h) const {
  if (!svc_.conf().cors) return;
  h->add("Access-Control-Allow-Origin", "*");
  h->add("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
  h->add("Access-Control-Allow-Headers", "*");
  h->add("Access-Control-Expose-Headers", "Content-Length, Content-Range");
  h->add("Access-Control-Max-Age", "86400");
}

void StreamRequest::answer(int status, const std::string& text, const char* content_type) {
  HttpHeaders h;
  h.add("Content-Type", content_type);
  add_cors(&h);
  conn_.respond(status, h, text);
}

void StreamRequest::fail(int status, const std::string& why) {
  answer(status, why + "\n");
  end(why);
}

void StreamRequest::fail(ErrorKind kind, const std::string& why) { fail(http_status_for(kind), why); }

void StreamRequest::end(const std::string& reason) {
  if (finish(reason)) owner_.request_done(this);
}

bool StreamRequest::finish(const std::string& reason) {
  if (!running_) return false;
  running_ = false;
  if (!counted_key_.empty()) {
    svc_.registry().add_client(counted_key_, Proto::http, -1, monotonic_ms());
    counted_key_.clear();
  }
  double secs = double(monotonic_ms() - started_ms_) / 1000.0;
  SP_INFO(ctx(), "http: %s %s %s %d %llu bytes %.3fs origin=%s%s%s%s%s", conn_.peer().to_string().c_str(),
          method_.c_str(), target_.c_str(), conn_.status_sent(),
          static_cast<unsigned long long>(conn_.body_bytes_sent()), secs,
          origin_desc_.empty() ? "-" : origin_desc_.c_str(), hls_id_.empty() ? "" : " hls=", hls_id_.c_str(),
          reason.empty() ? "" : " reason=", reason.c_str());
  return true;
}

}  // namespace sp
