// The HTTP stream service: routing, live relay, HLS sessions and static files
// (see http_stream.h). Wire formats live in http_parser.h, hls_playlist.h,
// query.h and http_static.h; this file is the I/O glue.
#include "http/http_stream.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "build_info.h"
#include "core/clock.h"
#include "core/deferred_free.h"
#include "core/event_ptr.h"
#include "core/log.h"
#include "core/proxy_loop.h"
#include "http/hls_playlist.h"
#include "http/http_conf.h"
#include "http/http_error.h"
#include "http/http_server.h"
#include "http/http_static.h"
#include "http/origin_client.h"
#include "http/query.h"
#include "http/tls.h"
#include "registry/endpoint.h"
#include "registry/stream_key.h"

namespace sp {

namespace {

constexpr size_t kHighWater = 1024 * 1024;
constexpr size_t kMaxPlaylist = 4 * 1024 * 1024;
constexpr int kMaxRedirects = 5;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Extension of the last path segment, lower-case, without the dot.
std::string extension_of(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = base.rfind('.');
  return dot == std::string_view::npos ? "" : lower(base.substr(dot + 1));
}

bool is_live_extension(std::string_view ext) {
  return ext == "flv" || ext == "ts" || ext == "aac" || ext == "mp3";
}

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

std::string hex(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; i++) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
}

// A new HLS session id: 16 random hex digits.
std::string new_hls_session_id() {
  unsigned char b[8];
  if (getrandom(b, sizeof(b), 0) != ssize_t(sizeof(b))) RAND_bytes(b, sizeof(b));
  return hex(b, sizeof(b));
}

// A viewer's fingerprint: HMAC-SHA256(process-tree secret, client address,
// User-Agent, stream key). A player that reloads the playlist URL it started
// with (without spbhid, as most do) has the same fingerprint, which leads to
// the session it already has instead of a new one per reload.
std::string hls_client_fingerprint(std::string_view peer_ip, std::string_view user_agent, std::string_view key) {
  const std::string& secret = hls_client_secret();
  std::string msg = std::string(peer_ip) + '\n' + std::string(user_agent) + '\n' + std::string(key);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), int(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), mac, &mac_len);
  return hex(mac, std::min(mac_len, 16u));
}

// Where an HLS session's requests go, kept as the registry session's data:
// "HOST PORT" of the origin's http endpoint, plus " CLIENT_PATH ORIGIN_DIR"
// when the origin redirected the playlist into another directory. A player
// resolves relative URIs against the URL it asked for (CLIENT_PATH), so such
// requests are mapped back into ORIGIN_DIR before going to the origin.
struct SessionRoute {
  std::string host;
  uint16_t port = 0;
  std::string client_path, origin_dir;  // both empty: no mapping
};

std::string dir_of(std::string_view path) {
  path = path.substr(0, path.find('?'));
  return std::string(path.substr(0, path.rfind('/') + 1));
}

std::string session_data(const SessionRoute& r) {
  std::string d = r.host + " " + std::to_string(r.port);
  if (!r.origin_dir.empty()) d += " " + r.client_path + " " + r.origin_dir;
  return d;
}

bool parse_session_data(std::string_view data, SessionRoute* r) {
  std::vector<std::string> f;
  while (!data.empty()) {
    size_t sp = data.find(' ');
    f.emplace_back(data.substr(0, sp));
    data = sp == std::string_view::npos ? std::string_view() : data.substr(sp + 1);
  }
  if (f.size() != 2 && f.size() != 4) return false;
  int p = atoi(f[1].c_str());
  if (p <= 0 || p > 65535 || f[0].empty()) return false;
  r->host = f[0];
  r->port = uint16_t(p);
  if (f.size() == 4) {
    r->client_path = f[2];
    r->origin_dir = f[3];
  }
  return true;
}

// The origin path for a path a session's client asked for.
std::string map_session_path(const SessionRoute& r, const std::string& path) {
  if (r.origin_dir.empty() || path == r.client_path) return path;  // the playlist itself: redirected again
  std::string cdir = dir_of(r.client_path);
  if (path.compare(0, cdir.size(), cdir) != 0) return path;
  return r.origin_dir + path.substr(cdir.size());
}

// Location of a redirect -> host, port and target. Relative references
// resolve against the current target; only http:// with a numeric host is
// followed (origins register numeric addresses).
bool resolve_location(std::string_view loc, std::string* host, uint16_t* port, std::string* target) {
  if (loc.substr(0, 7) == "http://") {
    std::string_view rest = loc.substr(7);
    size_t slash = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, slash);
    std::string path(slash == std::string_view::npos ? "/" : rest.substr(slash));
    if (path.front() == '?') path.insert(0, "/");
    std::string h;
    uint16_t p = 80;
    if (!authority.empty() && authority.front() == '[') {
      size_t close = authority.find(']');
      if (close == std::string_view::npos) return false;
      h = std::string(authority.substr(1, close - 1));
      if (close + 1 < authority.size() && authority[close + 1] == ':') p = uint16_t(atoi(std::string(authority.substr(close + 2)).c_str()));
    } else {
      size_t colon = authority.rfind(':');
      h = std::string(authority.substr(0, colon));
      if (colon != std::string_view::npos) p = uint16_t(atoi(std::string(authority.substr(colon + 1)).c_str()));
    }
    if (h.empty() || p == 0 || !make_sock_addr(h, p).ok()) return false;
    *host = h;
    *port = p;
    *target = path;
    return true;
  }
  if (loc.find("://") != std::string_view::npos || loc.substr(0, 2) == "//") return false;
  if (!loc.empty() && loc.front() == '/') {
    *target = std::string(loc);
    return true;
  }
  std::string base = target->substr(0, target->find('?'));
  *target = base.substr(0, base.rfind('/') + 1) + std::string(loc);
  return true;
}

class HttpStreamService;

// One client connection and, while it is relaying, its origin request.
class StreamSession : public HttpConn::Handler, public OriginClient::Handler {
 public:
  StreamSession(HttpStreamService& svc, BufferEventPtr bev, const SockAddr& peer, bool tls);
  // A worker exiting with this request still running (shutdown_timeout)
  // must still give back its client count in the shared registry.
  ~StreamSession() override { end_request("worker exiting"); }
  void start() { conn_.start(); }
  void drain() { conn_.drain(); }

  // HttpConn::Handler
  void on_request(HttpConn& conn, const HttpRequestHead& req, std::string body) override;
  void on_drain(HttpConn& conn) override;
  void on_close(HttpConn& conn, const std::string& reason) override;
  // OriginClient::Handler
  void on_origin_head(OriginClient& origin, const HttpResponseHead& head) override;
  void on_origin_body(OriginClient& origin, evbuffer* data) override;
  void on_origin_end(OriginClient& origin, const Status& result) override;

 private:
  enum class Mode { kIdle, kRelay, kPlaylist };

  void route(const HttpRequestHead& req);
  void serve_live(const HttpRequestHead& req, const std::string& key);
  void serve_new_hls(const HttpRequestHead& req);
  void serve_hls_session(const HttpRequestHead& req, const std::string& id);
  void serve_static(const HttpRequestHead& req);
  void serve_versions();

  void start_origin(Mode mode, const std::string& host, uint16_t port, const std::string& target);
  void finish_playlist(const Status& result);
  void drop_origin();
  // Passive health: the origin of origin_desc_ answered (ok) or failed before
  // its response head (Registry::report_success / report_failure).
  void report_origin(const Status& result);
  // HTTP-FLV/TS, and the playlist of a new HLS viewer (no redirect
  // followed): after an origin failed before its response head, tries the
  // origin the registry now sends the stream to (the failed one is down and
  // no other client of the stream remains on it), while connect_timeout from
  // the request's start has time left, up to 3 origins, never one already
  // tried. True when a new attempt is under way.
  bool retry_origin();

  void add_cors(HttpHeaders* h) const;
  void answer(int status, const std::string& text, const char* content_type = "text/plain; charset=utf-8");
  void fail(int status, const std::string& why);
  // An error answer whose status comes from the kind (http/http_error.h).
  void fail(ErrorKind kind, const std::string& why);
  void end_request(const std::string& reason);

  HttpStreamService& svc_;
  HttpConn conn_;
  std::unique_ptr<OriginClient> origin_;

  // The request being served.
  Mode mode_ = Mode::kIdle;
  bool in_request_ = false;
  int64_t started_ms_ = 0;
  std::string method_, target_, path_, query_, host_header_;
  std::string origin_desc_;   // "server@host:port" for the log
  std::string counted_key_;   // stream key counted in the registry's clients
  std::string live_key_, live_server_;  // picked, counted once the origin answers 2xx
  bool paused_ = false;
  HttpHeaders forward_;       // request headers passed to the origin
  std::vector<std::string> tried_;  // origins that failed this request (retry_origin)

  // Playlist fetch (HLS).
  std::string hls_id_;
  std::string hls_key_, hls_server_;
  std::string hls_client_;  // the viewer's fingerprint (hls_client session id)
  bool hls_new_ = false;
  int redirects_ = 0;
  bool redirect_pending_ = false;
  std::string origin_host_, next_target_;
  uint16_t origin_port_ = 0;
  int pl_status_ = 0;
  std::string pl_body_;
};

class HttpStreamService : public Service {
 public:
  explicit HttpStreamService(WorkerContext& ctx)
      : base_(ctx.base),
        conf_(ctx.conf.module<HttpStreamConf>()),
        registry_(ctx.registry),
        limiter_(ctx.limiter),
        listener_(ctx.base, [this](BufferEventPtr bev, const SockAddr& peer, bool tls) {
          accept(std::move(bev), peer, tls);
        }) {}

  Status start(WorkerContext& ctx) {
    const ListenerSet& listeners = ctx.listeners;
    if (!conf_.root.empty()) {
      char buf[PATH_MAX];
      if (realpath(conf_.root.c_str(), buf)) {
        real_root_ = buf;
      } else {
        SP_PWARN("http_stream: root \"%s\" unusable (%s), static files disabled", conf_.root.c_str(),
                 strerror(errno));
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

  const char* name() const override { return "http_stream"; }
  void stop_accepting() override {
    stopped_ = true;
    listener_.stop();
    // Idle keep-alive clients close now, the others after their answer;
    // copy first, as closing removes entries.
    std::vector<StreamSession*> all;
    for (auto& [raw, owned] : sessions_) all.push_back(raw);
    for (StreamSession* s : all) s->drain();
  }
  size_t active_sessions() const override { return sessions_.size(); }

  event_base* base() const { return base_; }
  const HttpStreamConf& conf() const { return conf_; }
  Registry& registry() { return registry_; }
  const std::string& real_root() const { return real_root_; }

  // Destroys `obj` from the loop, after the callback that gave it up returns.
  template <class T>
  void bury(std::unique_ptr<T> obj) {
    graveyard_.later(std::move(obj));
  }

  void session_closed(StreamSession* s) {
    auto it = sessions_.find(s);
    if (it == sessions_.end()) return;
    limiter_.release();
    bury(std::move(it->second));
    sessions_.erase(it);
  }

 private:
  void accept(BufferEventPtr bev, const SockAddr& peer, bool tls) {
    if (stopped_ || !limiter_.try_acquire("http_stream")) return;  // bev freed: closed
    auto s = std::make_unique<StreamSession>(*this, std::move(bev), peer, tls);
    StreamSession* raw = s.get();
    sessions_.emplace(raw, std::move(s));
    raw->start();
  }

  event_base* base_;
  HttpStreamConf conf_;
  Registry& registry_;
  ConnectionLimiter& limiter_;
  SslCtxPtr tls_;
  HttpListener listener_;
  std::string real_root_;
  bool stopped_ = false;
  std::unordered_map<StreamSession*, std::unique_ptr<StreamSession>> sessions_;
  DeferredFree graveyard_{base_};
};

StreamSession::StreamSession(HttpStreamService& svc, BufferEventPtr bev, const SockAddr& peer, bool tls)
    : svc_(svc),
      conn_(svc.base(), std::move(bev), peer, tls, new_context_id(),
            HttpConn::Limits{svc.conf().idle_timeout_ms, svc.conf().idle_timeout_ms, 0}, this) {}

void StreamSession::on_request(HttpConn&, const HttpRequestHead& req, std::string) {
  in_request_ = true;
  mode_ = Mode::kIdle;
  started_ms_ = monotonic_ms();
  method_ = req.method;
  target_ = req.target;
  path_ = req.path;
  query_ = req.query;
  host_header_ = req.host();
  origin_desc_.clear();
  counted_key_.clear();
  tried_.clear();
  paused_ = false;
  hls_id_.clear();
  hls_new_ = false;
  redirects_ = 0;
  forward_ = HttpHeaders();
  for (const char* name : {"User-Agent", "Accept", "Range", "If-Modified-Since", "If-None-Match", "Referer"}) {
    if (auto v = req.headers.get(name)) forward_.add(name, std::string(*v));
  }
  std::string xff = conn_.peer().host_string();
  if (auto prior = req.headers.get("X-Forwarded-For")) xff = std::string(*prior) + ", " + xff;
  forward_.add("X-Forwarded-For", xff);
  // Proxy loop (core/proxy_loop.h): a request that already passed through
  // this proxy is refused before it costs another origin request; any
  // other goes on with this proxy appended to its Via.
  std::string via;
  for (const auto& [name, value] : req.headers.fields()) {
    if (name.size() != 3 || lower(name) != "via") continue;
    if (!via.empty()) via += ", ";
    via += value;
  }
  if (via_lists_proxy(via, proxy_id())) {
    SP_WARN(conn_.ctx(), "http: %s %s %s proxy loop: the request already passed through this proxy (%s), Via: %s",
            conn_.peer().to_string().c_str(), method_.c_str(), target_.c_str(), proxy_via_name(proxy_id()).c_str(),
            via.c_str());
    return fail(508, "proxy loop detected: this request already passed through " + proxy_via_name(proxy_id()));
  }
  forward_.add("Via", via_append(via, proxy_id()));
  route(req);
}

void StreamSession::route(const HttpRequestHead& req) {
  if (req.method == "OPTIONS") {
    HttpHeaders h;
    add_cors(&h);
    conn_.respond(200, h, "");
    return end_request("");
  }
  if (req.method != "GET" && req.method != "HEAD") {
    HttpHeaders h;
    h.add("Allow", "GET, HEAD, OPTIONS");
    add_cors(&h);
    h.add("Content-Type", "text/plain; charset=utf-8");
    conn_.respond(405, h, "method " + req.method + " not allowed\n");
    return end_request("");
  }
  if (path_ == "/api/v1/versions" || path_ == "/api/v1/versions/") return serve_versions();
  if (auto id = query_param(query_, kHlsSessionParam)) return serve_hls_session(req, *id);
  std::string ext = extension_of(path_);
  // SRS's `?app=live&stream=s.flv` form names the stream in the query.
  auto app = query_param(query_, "app");
  auto stream = query_param(query_, "stream");
  if (app && stream && !app->empty() && !stream->empty()) {
    auto key = make_stream_key(host_header_, *app, *stream, query_);
    if (!key.ok()) return fail(key.kind(), key.error());
    std::string sext = extension_of(*stream);
    if (sext == "m3u8" || (sext.empty() && ext == "m3u8")) return serve_new_hls(req);
    return serve_live(req, *key);
  }
  if (ext == "m3u8") return serve_new_hls(req);
  if (is_live_extension(ext)) {
    auto key = stream_key_from_http(host_header_, target_);
    if (!key.ok()) return fail(key.kind(), key.error());
    return serve_live(req, *key);
  }
  serve_static(req);
}

void StreamSession::serve_versions() {
  HttpHeaders h;
  add_cors(&h);
  answer(200, std::string("{\"code\":0,\"server\":\"srs-proxy\",\"version\":\"") + SP_VERSION + "\"}",
         "application/json");
  end_request("");
}

void StreamSession::serve_live(const HttpRequestHead& req, const std::string& key) {
  int64_t now = monotonic_ms();
  auto pick = svc_.registry().pick(key, Proto::http, now);
  if (!pick.ok()) return fail(pick.kind(), pick.error());
  // Counted and confirmed once the origin answers 2xx (on_origin_head): a
  // name the origin does not have leaves only a pending pin.
  live_key_ = key;
  live_server_ = pick->origin.server;
  origin_desc_ = pick->origin.server + "@" + host_port_text(pick->host, pick->port);
  start_origin(Mode::kRelay, pick->host, pick->port, target_);
}

void StreamSession::serve_new_hls(const HttpRequestHead& req) {
  auto key = stream_key_from_http(host_header_, target_);
  auto app = query_param(query_, "app");
  auto stream = query_param(query_, "stream");
  if (app && stream && !app->empty() && !stream->empty()) key = make_stream_key(host_header_, *app, *stream, query_);
  if (!key.ok()) return fail(key.kind(), key.error());
  int64_t now = monotonic_ms();
  auto pick = svc_.registry().pick(*key, Proto::http, now);
  if (!pick.ok()) return fail(pick.kind(), pick.error());
  // The viewer's session if it has one (a player reloading its first URL),
  // else a new one with a random id.
  auto ua = req.headers.get("User-Agent");
  std::string client = hls_client_fingerprint(conn_.peer().host_string(), ua ? *ua : "", *key);
  auto known = svc_.registry().get_session(SessionKind::hls_client, client, now);
  bool reused = known.ok() && svc_.registry().get_session(SessionKind::hls, known->data, now).ok();
  hls_id_ = reused ? known->data : new_hls_session_id();
  hls_key_ = *key;
  hls_server_ = pick->origin.server;
  hls_client_ = client;
  // The session and the fingerprint are put once the origin's playlist came
  // back 200 (finish_playlist), so a 404 or 5xx playlist leaves nothing.
  hls_new_ = true;  // a playlist the origin does not have drops a reused session at once
  SP_INFO(conn_.ctx(), "http: hls session %s %s for %s on origin %s", hls_id_.c_str(), reused ? "reused" : "started",
          key->c_str(), pick->origin.server.c_str());
  origin_desc_ = pick->origin.server + "@" + host_port_text(pick->host, pick->port);
  std::string q = query_without_param(query_, kHlsSessionParam);
  start_origin(Mode::kPlaylist, pick->host, pick->port, path_ + (q.empty() ? "" : "?" + q));
}

void StreamSession::serve_hls_session(const HttpRequestHead& req, const std::string& id) {
  auto s = svc_.registry().get_session(SessionKind::hls, id, monotonic_ms());
  SessionRoute route;
  if (!s.ok() || !parse_session_data(s->data, &route)) {
    return fail(404, "unknown or expired HLS session \"" + id + "\"");
  }
  hls_id_ = id;
  hls_key_ = s->stream_key;
  hls_server_ = s->origin_server;
  origin_desc_ = s->origin_server + "@" + host_port_text(route.host, route.port);
  std::string q = query_without_param(query_, kHlsSessionParam);
  std::string target = map_session_path(route, path_) + (q.empty() ? "" : "?" + q);
  start_origin(extension_of(path_) == "m3u8" ? Mode::kPlaylist : Mode::kRelay, route.host, route.port, target);
}

void StreamSession::start_origin(Mode mode, const std::string& host, uint16_t port, const std::string& target) {
  mode_ = mode;
  origin_host_ = host;
  origin_port_ = port;
  next_target_ = target;
  pl_status_ = 0;
  pl_body_.clear();
  redirect_pending_ = false;
  origin_ = std::make_unique<OriginClient>(svc_.base(), conn_.ctx(), this);
  OriginClient::Request r;
  r.host = host;
  r.port = port;
  r.method = method_ == "HEAD" && mode == Mode::kRelay ? "HEAD" : "GET";
  r.target = target;
  r.host_header = host_port_text(host, port);
  // A playlist is fetched whole to be rewritten: no ranges, no 304s.
  for (const auto& [name, value] : forward_.fields()) {
    bool partial = name == "Range" || name == "If-Modified-Since" || name == "If-None-Match";
    if (mode == Mode::kRelay || !partial) r.headers.add(name, value);
  }
  OriginClient::Timeouts t{svc_.conf().connect_timeout_ms, svc_.conf().idle_timeout_ms};
  Status st = origin_->start(r, t);
  if (!st.ok()) {
    report_origin(st);
    drop_origin();
    fail(st.kind(), "origin unreachable: " + st.message());
  }
}

void StreamSession::on_origin_head(OriginClient& origin, const HttpResponseHead& head) {
  report_origin(Status::Ok());
  if (mode_ == Mode::kPlaylist) {
    auto loc = head.headers.get("Location");
    if (head.status / 100 == 3 && loc && redirects_ < kMaxRedirects &&
        resolve_location(*loc, &origin_host_, &origin_port_, &next_target_)) {
      redirect_pending_ = true;  // followed once this answer is over
      origin.abort();
      return on_origin_end(origin, Status::Ok());
    }
    pl_status_ = head.status;
    return;
  }
  HttpHeaders h;
  bool cors = svc_.conf().cors;
  for (const auto& [name, value] : head.headers.fields()) {
    if (http_is_hop_by_hop(name)) continue;
    std::string n = lower(name);
    if (n == "server" || (cors && n.rfind("access-control-", 0) == 0)) continue;
    h.add(name, value);
  }
  add_cors(&h);
  std::optional<uint64_t> length;
  const HttpBodyFraming& f = origin.framing();
  if (f.kind == HttpBodyFraming::kLength) length = f.length;
  if (f.kind == HttpBodyFraming::kNone) {
    length = 0;
    // HEAD: announce the origin's length.
    if (auto cl = head.headers.get("Content-Length"); cl && method_ == "HEAD") length = strtoull(std::string(*cl).c_str(), nullptr, 10);
  }
  conn_.begin_response(head.status, h, length);
  if (head.status / 100 == 2 && !live_key_.empty()) {
    // The origin has the stream: its pin lasts and this client counts.
    int64_t now = monotonic_ms();
    Status st = svc_.registry().confirm(live_key_, live_server_, now);
    if (!st.ok()) SP_WARN(conn_.ctx(), "http: stream %s not pinned: %s", live_key_.c_str(), st.message().c_str());
    svc_.registry().add_client(live_key_, Proto::http, +1, now);
    counted_key_ = live_key_;
    live_key_.clear();
  }
  if (head.status == 200 && counted_key_.size()) {
    SP_INFO(conn_.ctx(), "http: stream start %s %s %s key=%s origin=%s", conn_.peer().to_string().c_str(),
            method_.c_str(), target_.c_str(), counted_key_.c_str(), origin_desc_.c_str());
  }
}

void StreamSession::on_origin_body(OriginClient& origin, evbuffer* data) {
  if (mode_ == Mode::kPlaylist) {
    size_t n = evbuffer_get_length(data);
    if (pl_body_.size() + n > kMaxPlaylist) {
      origin.abort();
      return finish_playlist(Status::Error(ErrorKind::upstream, "playlist larger than 4 MiB"));
    }
    size_t at = pl_body_.size();
    pl_body_.resize(at + n);
    evbuffer_remove(data, pl_body_.data() + at, n);
    return;
  }
  conn_.write(data);
  if (!paused_ && conn_.output_size() > kHighWater) {
    paused_ = true;
    origin.pause();
  }
}

void StreamSession::on_drain(HttpConn&) {
  if (paused_ && origin_) {
    paused_ = false;
    origin_->resume();
  }
}

void StreamSession::on_origin_end(OriginClient& origin, const Status& result) {
  if (mode_ == Mode::kPlaylist) return finish_playlist(result);
  bool had_head = origin.got_head();
  if (!had_head) report_origin(result);
  if (!had_head && retry_origin()) return;
  drop_origin();
  if (!had_head) return fail(result.kind(), "origin " + origin_desc_ + ": " + result.message());
  if (result.ok()) {
    conn_.end_response();
    return end_request("");
  }
  end_request(result.message());
  conn_.close("origin: " + result.message());
}

void StreamSession::finish_playlist(const Status& result) {
  if (mode_ != Mode::kPlaylist || !origin_) return;
  bool had_head = origin_->got_head();
  if (!had_head) report_origin(result);
  if (!had_head && !result.ok() && retry_origin()) return;
  drop_origin();
  if (redirect_pending_) {
    redirects_++;
    std::string desc = host_port_text(origin_host_, origin_port_);
    SP_INFO(conn_.ctx(), "http: origin redirected the playlist to %s%s", desc.c_str(), next_target_.c_str());
    origin_desc_ = hls_server_ + "@" + desc;
    return start_origin(Mode::kPlaylist, origin_host_, origin_port_, next_target_);
  }
  // A stream the origin does not have: drop the session now rather than
  // after session_ttl. Other failures may be transient; the viewer's session
  // (shared by its reloads) stays.
  auto forget = [&] {
    if (hls_new_ && pl_status_ == 404) svc_.registry().remove_session(SessionKind::hls, hls_id_);
  };
  if (!result.ok()) {
    forget();
    return fail(result.kind(), "origin " + origin_desc_ + ": " + result.message());
  }
  if (pl_status_ != 200) {
    forget();
    // 404 and 508 (a proxy loop further on) keep their meaning for the
    // player; a loop's one-line reason goes along.
    std::string why = "origin " + origin_desc_ + " answered " + std::to_string(pl_status_) + " for the playlist";
    if (pl_status_ == 508) why += ": " + pl_body_.substr(0, std::min(pl_body_.find_first_of("\r\n"), size_t(200)));
    return fail(pl_status_ == 404 || pl_status_ == 508 ? pl_status_ : 502, why);
  }
  auto rewritten = rewrite_hls_playlist(pl_body_, hls_id_);
  if (!rewritten.ok()) {
    forget();
    return fail(502, "origin " + origin_desc_ + " sent a bad playlist: " + rewritten.error());
  }
  if (hls_new_ || (redirects_ > 0 && !hls_id_.empty())) {
    // Later requests of the session go where the playlist came from, into
    // the directory it came from. (origin_host_/port_ are the pick's when
    // there was no redirect.) Re-put even when reused: the stream may have
    // moved to another origin.
    SessionRoute route{origin_host_, origin_port_, {}, {}};
    if (redirects_ > 0 && dir_of(next_target_) != dir_of(path_)) {
      route.client_path = path_;
      route.origin_dir = dir_of(next_target_);
    }
    std::string data = session_data(route);
    if (data.size() > kSessionDataMax) {
      SP_WARN(conn_.ctx(), "http: hls session %s: redirected paths too long to remember", hls_id_.c_str());
      data = session_data(SessionRoute{origin_host_, origin_port_, {}, {}});
    }
    int64_t now = monotonic_ms();
    Status st = svc_.registry().put_session(SessionKind::hls, hls_id_, hls_key_, hls_server_, data, now);
    if (!st.ok()) {
      if (hls_new_) return fail(st.kind(), "cannot create HLS session: " + st.message());
      SP_WARN(conn_.ctx(), "http: hls session %s not updated: %s", hls_id_.c_str(), st.message().c_str());
    }
    if (hls_new_) {
      st = svc_.registry().put_session(SessionKind::hls_client, hls_client_, hls_key_, hls_server_, hls_id_, now);
      if (!st.ok()) SP_WARN(conn_.ctx(), "http: hls session %s not remembered for reloads: %s", hls_id_.c_str(),
                            st.message().c_str());
      st = svc_.registry().confirm(hls_key_, hls_server_, now);
      if (!st.ok()) SP_WARN(conn_.ctx(), "http: stream %s not pinned: %s", hls_key_.c_str(), st.message().c_str());
    }
  }
  HttpHeaders h;
  h.add("Content-Type", "application/vnd.apple.mpegurl");
  h.add("Cache-Control", "no-cache, no-store");
  add_cors(&h);
  conn_.respond(200, h, rewritten->text);
  end_request("");
}

void StreamSession::serve_static(const HttpRequestHead& req) {
  const std::string& root = svc_.real_root();
  if (root.empty()) return fail(404, "no stream or file at " + path_);
  auto rel = static_relative_path(path_);
  if (!rel.ok()) return fail(403, "refused path: " + rel.error());
  std::string full = root + "/" + *rel;
  char real[PATH_MAX];
  if (!realpath(full.c_str(), real)) return fail(404, "no stream or file at " + path_);
  std::string resolved = real;
  if (resolved.compare(0, root.size() + 1, root + "/") != 0) return fail(403, "refused path: outside root");
  int fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    return fail(404, "no stream or file at " + path_);
  }
  uint64_t size = uint64_t(st.st_size);
  HttpHeaders h;
  h.add("Content-Type", std::string(mime_type_for(resolved)));
  h.add("Accept-Ranges", "bytes");
  add_cors(&h);
  ByteRange range;
  if (auto r = req.headers.get("Range")) range = parse_byte_range(*r, size);
  if (range.kind == ByteRange::kUnsatisfiable) {
    close(fd);
    h.add("Content-Range", "bytes */" + std::to_string(size));
    conn_.respond(416, h, "");
    return end_request("");
  }
  uint64_t first = 0, length = size;
  int status = 200;
  if (range.kind == ByteRange::kRange) {
    status = 206;
    first = range.first;
    length = range.last - range.first + 1;
    h.add("Content-Range", "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
                               std::to_string(size));
  }
  conn_.begin_response(status, h, length);
  if (length > 0) {
    conn_.write_file(fd, first, length);
  } else {
    close(fd);
  }
  conn_.end_response();
  end_request("");
}

void StreamSession::add_cors(HttpHeaders* h) const {
  if (!svc_.conf().cors) return;
  h->add("Access-Control-Allow-Origin", "*");
  h->add("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
  h->add("Access-Control-Allow-Headers", "*");
  h->add("Access-Control-Expose-Headers", "Content-Length, Content-Range");
  h->add("Access-Control-Max-Age", "86400");
}

void StreamSession::answer(int status, const std::string& text, const char* content_type) {
  HttpHeaders h;
  h.add("Content-Type", content_type);
  add_cors(&h);
  conn_.respond(status, h, text);
}

void StreamSession::fail(int status, const std::string& why) {
  answer(status, why + "\n");
  end_request(why);
}

void StreamSession::fail(ErrorKind kind, const std::string& why) { fail(http_status_for(kind), why); }

void StreamSession::report_origin(const Status& result) {
  size_t at = origin_desc_.rfind('@');
  if (at == std::string::npos) return;
  std::string server = origin_desc_.substr(0, at);
  if (result.ok()) return svc_.registry().report_success(server, monotonic_ms());
  svc_.registry().report_failure(server, "http to " + origin_desc_.substr(at + 1) + ": " + result.message(),
                                 monotonic_ms());
}

bool StreamSession::retry_origin() {
  constexpr size_t kMaxOrigins = 3;  // origins one request may try
  size_t at = origin_desc_.rfind('@');
  // A new HLS viewer's playlist: its session is not stored yet (that waits
  // for a 200 playlist), so only where the playlist comes from changes. A
  // redirect's target is the origin's choice, not the registry's: not retried.
  bool playlist = mode_ == Mode::kPlaylist && hls_new_ && redirects_ == 0 && !redirect_pending_;
  bool live = mode_ == Mode::kRelay && !live_key_.empty();
  if ((!playlist && !live) || at == std::string::npos) return false;
  const std::string& key = playlist ? hls_key_ : live_key_;
  tried_.push_back(origin_desc_.substr(0, at));
  int64_t now = monotonic_ms();
  if (now - started_ms_ >= svc_.conf().connect_timeout_ms || tried_.size() >= kMaxOrigins) return false;
  // The request is not counted (nor its HLS session stored) before the
  // origin answers, so it cannot keep the stream on the failed origin.
  auto pick = svc_.registry().pick(key, Proto::http, now);
  if (!pick.ok() || std::find(tried_.begin(), tried_.end(), pick->origin.server) != tried_.end()) return false;
  std::string next = pick->origin.server + "@" + host_port_text(pick->host, pick->port);
  std::string target = playlist ? next_target_ : target_;  // next_target_: the playlist's origin target
  SP_WARN(conn_.ctx(), "http: origin %s failed before answering; %s key=%s%s%s retried on origin %s with %lld ms left",
          origin_desc_.c_str(), target_.c_str(), key.c_str(), playlist ? " hls=" : "", playlist ? hls_id_.c_str() : "",
          next.c_str(), (long long)(svc_.conf().connect_timeout_ms - (now - started_ms_)));
  (playlist ? hls_server_ : live_server_) = pick->origin.server;
  drop_origin();
  origin_desc_ = next;
  start_origin(playlist ? Mode::kPlaylist : Mode::kRelay, pick->host, pick->port, target);
  return true;
}

void StreamSession::drop_origin() {
  if (!origin_) return;
  origin_->abort();
  svc_.bury(std::move(origin_));
}

void StreamSession::end_request(const std::string& reason) {
  if (!in_request_) return;
  in_request_ = false;
  mode_ = Mode::kIdle;
  live_key_.clear();
  if (!counted_key_.empty()) {
    svc_.registry().add_client(counted_key_, Proto::http, -1, monotonic_ms());
    counted_key_.clear();
  }
  double secs = double(monotonic_ms() - started_ms_) / 1000.0;
  SP_INFO(conn_.ctx(), "http: %s %s %s %d %llu bytes %.3fs origin=%s%s%s%s%s", conn_.peer().to_string().c_str(),
          method_.c_str(), target_.c_str(), conn_.status_sent(), static_cast<unsigned long long>(conn_.body_bytes_sent()),
          secs, origin_desc_.empty() ? "-" : origin_desc_.c_str(), hls_id_.empty() ? "" : " hls=",
          hls_id_.c_str(), reason.empty() ? "" : " reason=", reason.c_str());
}

void StreamSession::on_close(HttpConn&, const std::string& reason) {
  drop_origin();  // client gone: the origin request ends now
  end_request(reason);
  svc_.session_closed(this);
}

}  // namespace

extern const ConfModule kHttpConfModule;
extern const Module kHttpModule = {&kHttpConfModule, kRoleProtocol, make_service<HttpStreamService>};

}  // namespace sp
