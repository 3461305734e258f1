// One HTTP stream request: loop check, routing, short answers, access log
// (see stream_request.h).
#include "http/stream_request.h"

#include <openssl/rand.h>
#include <strings.h>
#include <sys/random.h>

#include <algorithm>

#include "build_info.h"
#include "core/access_log.h"
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

// The reason a failed look-up gives the client: the registry's own text,
// with the key or id it was about when the text does not name it.
std::string registry_reason(const char* what, const std::string& key, const std::string& error) {
  if (error.find(key) != std::string::npos) return error;
  return std::string("registry ") + what + " for \"" + key + "\": " + error;
}

}  // namespace

// The end reason of a request: its own words if it has some, else what the
// status says (an error status with no words of ours came from the origin).
static metrics::End http_end_reason(int status, const std::string& reason, bool has_origin) {
  if (reason.empty()) return status >= 400 ? metrics::End::origin_refused : metrics::End::normal;
  metrics::End e = metrics::classify_end(reason);
  if (e != metrics::End::error) return e;
  if (status == 400 || status == 405 || status == 414 || status == 431) return metrics::End::bad_input;
  if (status >= 500 && has_origin) return metrics::End::origin_refused;
  return e;
}

// Which metrics protocol a request is: a playlist or a request of an HLS
// session is hls, another .ts is http_ts, anything else (FLV, AAC, MP3,
// static files) http_flv.
static metrics::Protocol metrics_protocol(const std::string& path, const std::string& query) {
  std::string ext = url_extension(path);  // owned: url_extension returns a new string
  if (ext == "m3u8" || query_param(query, kHlsSessionParam)) return metrics::Protocol::hls;
  if (ext == "ts") return metrics::Protocol::http_ts;
  return metrics::Protocol::http_flv;
}

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
  metrics::Protocol proto = metrics_protocol(path_, query_);
  meter_.begin(proto, metrics::listener_of_fd(proto, conn_.fd()));
  conn_.set_meter(&meter_);
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
  RegistryCall call = registry().pick(key, Proto::http, monotonic_ms(),
                                      [this, key](Result<Pick> pick) { live_picked(key, std::move(pick)); });
  wait_registry(std::move(call), svc_.conf().connect_timeout_ms, registry_late("pick for \"" + key + "\""));
}

void StreamRequest::live_picked(const std::string& key, Result<Pick> pick) {
  if (!pick.ok()) return fail(pick.kind(), registry_reason("pick", key, pick.error()));
  // Counted and confirmed once the origin answers 2xx (StreamRelay): a name
  // the origin does not have leaves only a pending pin.
  origin_desc_ = pick->origin.server + "@" + host_port_text(pick->host, pick->port);
  meter_.set_origin(pick->origin.slot, pick->origin.server);
  auto relay = std::make_unique<StreamRelay>(*this, key, pick->origin.server);
  StreamRelay* raw = relay.get();
  job_ = std::move(relay);
  raw->start(pick->host, pick->port, target_);
}

// A new viewer: the pick, then its fingerprint's session (a player reloading
// its first URL), then that session itself; each may wait on the registry.
void StreamRequest::serve_new_hls(const HttpRequestHead& head, const std::string& key) {
  auto ua = head.headers.get("User-Agent");
  std::string client = hls_client_fingerprint(hls_client_secret(), conn_.peer().host_string(), ua ? *ua : "", key);
  RegistryCall call = registry().pick(key, Proto::http, monotonic_ms(), [this, key, client](Result<Pick> pick) {
    new_hls_picked(key, client, std::move(pick));
  });
  wait_registry(std::move(call), svc_.conf().connect_timeout_ms, registry_late("pick for \"" + key + "\""));
}

void StreamRequest::new_hls_picked(const std::string& key, const std::string& client, Result<Pick> pick) {
  if (!pick.ok()) return fail(pick.kind(), registry_reason("pick", key, pick.error()));
  Pick p = std::move(*pick);
  RegistryCall call = registry().get_session(
      SessionKind::hls_client, client, monotonic_ms(),
      [this, key, p, client](Result<SessionView> known) { new_hls_known(key, p, client, std::move(known)); });
  // The fingerprint only spares a reloading player a new session: without an
  // answer in time the viewer gets a new one rather than an error.
  wait_registry(std::move(call), svc_.conf().connect_timeout_ms, [this, key, p, client] {
    new_hls_start(key, p, client, new_hls_session_id(), false, " (the registry did not answer for its fingerprint)");
  });
}

void StreamRequest::new_hls_known(const std::string& key, Pick pick, const std::string& client,
                                  Result<SessionView> known) {
  if (!known.ok()) {
    std::string note =
        known.kind() == ErrorKind::not_found ? "" : " (fingerprint look-up failed: " + known.error() + ")";
    return new_hls_start(key, pick, client, new_hls_session_id(), false, note);
  }
  // The fingerprint names a session: reused if it still exists.
  std::string id = known->data;
  RegistryCall call = registry().get_session(
      SessionKind::hls, id, monotonic_ms(), [this, key, pick, client, id](Result<SessionView> s) {
        bool reused = s.ok();
        std::string note =
            reused || s.kind() == ErrorKind::not_found ? "" : " (session look-up failed: " + s.error() + ")";
        new_hls_start(key, pick, client, reused ? id : new_hls_session_id(), reused, note);
      });
  wait_registry(std::move(call), svc_.conf().connect_timeout_ms, [this, key, pick, client] {
    new_hls_start(key, pick, client, new_hls_session_id(), false, " (the registry did not answer for its session)");
  });
}

void StreamRequest::new_hls_start(const std::string& key, const Pick& pick, const std::string& client, std::string id,
                                  bool reused, const std::string& note) {
  HlsPlaylistFetch::Session s;
  s.client = client;
  s.id = std::move(id);
  s.key = key;
  s.server = pick.origin.server;
  // The session and the fingerprint are put once the origin's playlist came
  // back 200 (HlsPlaylistFetch), so a 404 or 5xx playlist leaves nothing; a
  // playlist the origin does not have drops a reused session at once.
  s.is_new = true;
  hls_id_ = s.id;
  SP_INFO(ctx(), "http: hls session %s %s for %s on origin %s%s", s.id.c_str(), reused ? "reused" : "started",
          key.c_str(), pick.origin.server.c_str(), note.c_str());
  origin_desc_ = pick.origin.server + "@" + host_port_text(pick.host, pick.port);
  meter_.set_origin(pick.origin.slot, pick.origin.server);
  std::string q = query_without_param(query_, kHlsSessionParam);
  auto fetch = std::make_unique<HlsPlaylistFetch>(*this, std::move(s));
  HlsPlaylistFetch* raw = fetch.get();
  job_ = std::move(fetch);
  raw->start(OriginTarget{pick.host, pick.port, path_ + (q.empty() ? "" : "?" + q)});
}

// A session's request: the session may have been written by another worker
// or (with Redis) another proxy, so it is looked up, maybe waiting.
void StreamRequest::serve_hls_session(const std::string& id) {
  hls_id_ = id;
  RegistryCall call = registry().get_session(
      SessionKind::hls, id, monotonic_ms(), [this, id](Result<SessionView> s) { hls_session_found(id, std::move(s)); });
  wait_registry(std::move(call), svc_.conf().connect_timeout_ms,
                registry_late("look-up of HLS session \"" + id + "\""));
}

void StreamRequest::hls_session_found(const std::string& id, Result<SessionView> s) {
  if (!s.ok() && s.kind() != ErrorKind::not_found) {
    return fail(s.kind(), registry_reason("HLS session look-up", id, s.error()));
  }
  if (!s.ok()) return fail(404, "unknown or expired HLS session \"" + id + "\"");
  auto route = parse_hls_session_data(s->data);
  if (!route.ok()) return fail(404, "unknown or expired HLS session \"" + id + "\"");
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

RegistryClient& StreamRequest::registry() { return svc_.registry(); }

void StreamRequest::wait_registry(RegistryCall call, int64_t timeout_ms, std::function<void()> expired) {
  if (!call.pending() || !running_) return;  // answered already (or the request is over: dropped here)
  lookup_ = std::move(call);
  lookup_expired_ = std::move(expired);
  if (!lookup_timer_) lookup_timer_.reset(evtimer_new(svc_.base(), &StreamRequest::on_lookup_deadline, this));
  timeval tv = ms_to_timeval(std::max<int64_t>(timeout_ms, 1));
  evtimer_add(lookup_timer_.get(), &tv);
}

void StreamRequest::on_lookup_deadline(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<StreamRequest*>(arg);
  // The answer came (the timer is not stopped by every callback): nothing.
  if (!self->running_ || !self->lookup_.pending()) return;
  self->lookup_.reset();
  auto expired = std::move(self->lookup_expired_);
  self->lookup_expired_ = nullptr;
  if (expired) expired();
}

std::function<void()> StreamRequest::registry_late(const std::string& what) {
  return [this, what] {
    fail(503, "the registry did not answer the " + what + " within " +
                  std::to_string(svc_.conf().connect_timeout_ms) + " ms");
  };
}

void StreamRequest::on_client_drain() {
  if (job_) job_->on_client_drain();
}

void StreamRequest::client_gone(const std::string& reason) {
  if (job_) job_->abort();  // the origin request ends now
  end(reason);              // and a look-up still waited for is dropped
}

void StreamRequest::count_client(const std::string& key) {
  registry().add_client(key, Proto::http, +1, monotonic_ms());
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
  // Waiting for the registry: the answer is never delivered, so a late pick
  // or session leaves nothing behind.
  lookup_.reset();
  lookup_expired_ = nullptr;
  if (lookup_timer_) evtimer_del(lookup_timer_.get());
  std::string key_for_log = counted_key_;
  if (!counted_key_.empty()) {
    registry().add_client(counted_key_, Proto::http, -1, monotonic_ms());
    counted_key_.clear();
  }
  double secs = double(monotonic_ms() - started_ms_) / 1000.0;
  SP_INFO(ctx(), "http: %s %s %s %d %llu bytes %.3fs origin=%s%s%s%s%s", conn_.peer().to_string().c_str(),
          method_.c_str(), target_.c_str(), conn_.status_sent(),
          static_cast<unsigned long long>(conn_.body_bytes_sent()), secs,
          origin_desc_.empty() ? "-" : origin_desc_.c_str(), hls_id_.empty() ? "" : " hls=", hls_id_.c_str(),
          reason.empty() ? "" : " reason=", reason.c_str());
  conn_.set_meter(nullptr);
  size_t at = origin_desc_.rfind('@');
  std::string origin = at == std::string::npos ? std::string() : origin_desc_.substr(0, at);
  SessionRecord r;
  r.ctx = ctx();
  std::string peer = conn_.peer().to_string();
  r.client = peer;
  r.stream_key = key_for_log.empty() ? std::string_view(path_) : std::string_view(key_for_log);
  r.origin = origin;
  r.bytes_out = conn_.body_bytes_sent();
  r.duration_ms = monotonic_ms() - started_ms_;
  int status = conn_.status_sent();
  r.http_status = status;
  r.reason = http_end_reason(status, reason, !origin.empty());
  r.reason_text = reason;
  end_session(meter_, r);
  return true;
}

}  // namespace sp
