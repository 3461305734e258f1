// The system API server (see system_api.h): one evhttp instance on the
// listening sockets the master opened, a single generic callback that checks
// access (networks, then token), routes by exact path and method, and always
// answers JSON.
//
// Status codes: 200 success; 400 bad request body ({"code":400,"error":..}
// naming the field), including a self-loop (an endpoint that is one of this
// generation's own listeners, see self_loop.h); 401 missing/wrong token; 403
// network denied; 404 unknown path; 405 wrong method (with Allow); 413 body
// over max_body_size (evhttp); 503 registry full on register (the origin
// should retry later, its body was fine). Every refusal is logged once, with the peer address, under a
// per-request context id.
#include "api/system_api.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>

#include "api/register_request.h"
#include "api/self_loop.h"
#include "build_info.h"
#include "core/accept_backoff.h"
#include "core/clock.h"
#include "core/event_ptr.h"
#include "core/evhttp_deadline.h"
#include "core/json_ptr.h"
#include "core/evhttp_names.h"
#include "core/log.h"
#include "http/http_error.h"

namespace sp {

namespace {


// Parsed query parameters, freed on scope exit.
class QueryParams {
 public:
  explicit QueryParams(const char* query) {
    TAILQ_INIT(&q_);
    if (query) evhttp_parse_query_str(query, &q_);
  }
  ~QueryParams() { evhttp_clear_headers(&q_); }
  QueryParams(const QueryParams&) = delete;
  QueryParams& operator=(const QueryParams&) = delete;
  const char* get(const char* key) { return evhttp_find_header(&q_, key); }

 private:
  evkeyvalq q_;
};

// Compares without leaking, through timing, how much of a token matched.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); i++) diff |= uint8_t(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

std::string peer_of(evhttp_request* req) {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  const sockaddr* sa = conn ? evhttp_connection_get_addr(conn) : nullptr;
  if (!sa) return "unknown";
  socklen_t len = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  return SockAddr::from(sa, len).to_string();
}

const char* reason_for(int code) {
  switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
  }
  return "Error";
}

void send_json(evhttp_request* req, int code, const cJSON* body) {
  JsonTextPtr text(cJSON_PrintUnformatted(body));
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "Content-Type", "application/json");
  evbuffer* buf = evbuffer_new();
  if (text) evbuffer_add(buf, text.get(), strlen(text.get()));
  evhttp_send_reply(req, code, reason_for(code), buf);
  evbuffer_free(buf);
}

void send_error(evhttp_request* req, int code, const std::string& error) {
  JsonPtr body(cJSON_CreateObject());
  cJSON_AddNumberToObject(body.get(), "code", code);
  cJSON_AddStringToObject(body.get(), "error", error.c_str());
  send_json(req, code, body.get());
}

std::string endpoint_text(const Endpoint& ep) {
  if (ep.host.empty()) return std::to_string(ep.port);
  if (ep.host.find(':') != std::string::npos) return "[" + ep.host + "]:" + std::to_string(ep.port);
  return ep.host + ":" + std::to_string(ep.port);
}

cJSON* origin_json(const OriginView& o) {
  cJSON* j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "server", o.server.c_str());
  cJSON_AddStringToObject(j, "service", o.service.c_str());
  cJSON_AddStringToObject(j, "pid", o.pid.c_str());
  cJSON_AddStringToObject(j, "device_id", o.device_id.c_str());
  cJSON_AddStringToObject(j, "ip", o.ip.c_str());
  cJSON* eps = cJSON_AddObjectToObject(j, "endpoints");
  for (int p = 0; p < kProtoCount; p++) {
    cJSON* arr = cJSON_AddArrayToObject(eps, proto_name(Proto(p)));
    for (const Endpoint& ep : o.endpoints[p]) cJSON_AddItemToArray(arr, cJSON_CreateString(endpoint_text(ep).c_str()));
  }
  // alive: gets new streams; heartbeat_alive and down say why not.
  cJSON_AddBoolToObject(j, "alive", o.alive);
  cJSON_AddBoolToObject(j, "heartbeat_alive", o.heartbeat_alive);
  cJSON_AddBoolToObject(j, "down", o.down);
  if (o.down) {
    cJSON_AddStringToObject(j, "down_reason", o.down_reason.c_str());
    cJSON_AddNumberToObject(j, "down_for_s", double(o.down_for_ms) / 1000.0);
  }
  cJSON_AddNumberToObject(j, "fails", o.fails);
  // Milliseconds precision, in seconds: 1.234.
  cJSON_AddNumberToObject(j, "heartbeat_age_seconds", std::round(double(o.age_ms)) / 1000.0);
  if (o.heartbeat_interval_ms > 0) {
    cJSON_AddNumberToObject(j, "heartbeat_interval_s", double(o.heartbeat_interval_ms) / 1000.0);
  } else {
    cJSON_AddNullToObject(j, "heartbeat_interval_s");  // not learned yet
  }
  cJSON* streams = cJSON_AddArrayToObject(j, "streams");
  for (const std::string& key : o.streams) cJSON_AddItemToArray(streams, cJSON_CreateString(key.c_str()));
  return j;
}

// `hls_sessions`: the stream's live HLS sessions. An HLS viewer holds no
// connection (each playlist and segment is a request of its own), so it is
// counted by its session, which lives until session_ttl after its last request.
cJSON* stream_json(const StreamView& s, double hls_sessions) {
  cJSON* j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "key", s.key.c_str());
  cJSON_AddStringToObject(j, "origin", s.origin_server.c_str());
  cJSON* clients = cJSON_AddObjectToObject(j, "clients");
  for (int p = 0; p < kProtoCount; p++) cJSON_AddNumberToObject(clients, proto_name(Proto(p)), s.clients[p]);
  cJSON_AddNumberToObject(clients, "hls", hls_sessions);
  return j;
}

}  // namespace

struct SystemApi::Impl {
  event_base* base;
  SystemApiConf conf;
  Registry& registry;
  // This generation's listeners, for the self-loop check (a reload starts a
  // new API worker with the new configuration), and this host's addresses,
  // read again at most every kLocalAddressesMs.
  std::vector<OwnListener> own;
  std::vector<HostBytes> local_addresses;
  int64_t local_addresses_ms = -1;
  static constexpr int64_t kLocalAddressesMs = 5000;
  // Declared before `http`: evhttp is freed first and tells it so.
  EvhttpDeadlines deadlines;
  EvHttpPtr http;
  std::vector<evhttp_bound_socket*> bound;  // owned by `http`
  // One per bound socket; declared after `http`, so destroyed before it.
  std::vector<std::unique_ptr<AcceptBackoff>> backoffs;

  Impl(event_base* b, const Config& c, Registry& r)
      : base(b),
        conf(c.system_api),
        registry(r),
        own(own_listeners(c)),
        deadlines(b, c.system_api.timeout_ms, "system_api") {}

  std::span<const HostBytes> local_addrs() {
    int64_t now = monotonic_ms();
    if (local_addresses_ms < 0 || now - local_addresses_ms >= kLocalAddressesMs) {
      local_addresses = host_addresses();
      local_addresses_ms = now;
    }
    return local_addresses;
  }

  struct Route {
    const char* path;
    evhttp_cmd_type method;
    void (Impl::*handle)(evhttp_request*, const std::string& ctx);
    const char* allow;
  };

  static void on_request(evhttp_request* req, void* arg) {
    auto* im = static_cast<Impl*>(arg);
    im->deadlines.on_request(req);
    im->serve(req);
  }

  void serve(evhttp_request* req) {
    std::string ctx = new_context_id();
    std::string peer = peer_of(req);
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
    std::string path = uri && evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : "";
    if (path.size() > 1 && path.back() == '/') path.pop_back();

    auto refuse = [&](int code, const std::string& why) {
      SP_WARN(ctx, "system api: %s %s from %s refused with %d: %s",
              evhttp_method_name(evhttp_request_get_command(req)), path.c_str(), peer.c_str(), code, why.c_str());
      send_error(req, code, why);
    };

    if (!network_allowed(req)) return refuse(403, "access denied for " + peer);
    if (!token_ok(req, uri)) return refuse(401, "missing or wrong access token");

    static const Route kRoutes[] = {
        {"/api/v1/srs/register", EVHTTP_REQ_POST, &Impl::handle_register, "POST"},
        {"/api/v1/versions", EVHTTP_REQ_GET, &Impl::handle_versions, "GET, HEAD"},
        {"/api/v1/origins", EVHTTP_REQ_GET, &Impl::handle_origins, "GET, HEAD"},
        {"/api/v1/streams", EVHTTP_REQ_GET, &Impl::handle_streams, "GET, HEAD"},
    };
    evhttp_cmd_type method = evhttp_request_get_command(req);
    for (const Route& r : kRoutes) {
      if (path != r.path) continue;
      bool head_ok = r.method == EVHTTP_REQ_GET && method == EVHTTP_REQ_HEAD;
      if (method != r.method && !head_ok) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", r.allow);
        return refuse(405, std::string("method ") + evhttp_method_name(method) + " not allowed on " + r.path);
      }
      return (this->*r.handle)(req, ctx);
    }
    refuse(404, "no such API: " + path);
  }

  // First matching rule decides; no rule matching allows.
  bool network_allowed(evhttp_request* req) const {
    evhttp_connection* conn = evhttp_request_get_connection(req);
    const sockaddr* sa = conn ? evhttp_connection_get_addr(conn) : nullptr;
    if (!sa) return true;
    for (const AccessRule& rule : conf.access) {
      if (rule.net.contains(sa)) return rule.allow;
    }
    return true;
  }

  // `Authorization: Bearer <token>` or `?token=<token>` (SRS heartbeat URLs
  // cannot set headers).
  bool token_ok(evhttp_request* req, const evhttp_uri* uri) const {
    if (conf.token.empty()) return true;
    const char* auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
      std::string_view given(auth + 7);
      while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
      if (same_secret(given, conf.token)) return true;
    }
    QueryParams query(uri ? evhttp_uri_get_query(uri) : nullptr);
    const char* token = query.get("token");
    return token && same_secret(token, conf.token);
  }

  void handle_register(evhttp_request* req, const std::string& ctx) {
    std::string peer = peer_of(req);
    evbuffer* in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char* data = len ? reinterpret_cast<const char*>(evbuffer_pullup(in, -1)) : "";
    auto spec = parse_register_request(std::string_view(data, len));
    if (!spec.ok()) {
      SP_WARN(ctx, "system api: registration from %s refused: %s", peer.c_str(), spec.error().c_str());
      return send_error(req, http_status_for(spec.kind()), spec.error());
    }
    if (Status loop = check_self_loop(*spec, own, local_addrs()); !loop.ok()) {
      SP_WARN(ctx, "system api: registration of %s from %s refused: %s", spec->server.c_str(), peer.c_str(),
              loop.message().c_str());
      return send_error(req, http_status_for(loop.kind()), loop.message());
    }
    Status s = registry.register_origin(*spec, monotonic_ms());
    if (!s.ok()) {
      int code = http_status_for(s.kind());
      SP_WARN(ctx, "system api: registration of %s from %s refused with %d: %s", spec->server.c_str(), peer.c_str(),
              code, s.message().c_str());
      return send_error(req, code, s.message());
    }
    SP_DEBUG(ctx, "system api: heartbeat of origin %s from %s", spec->server.c_str(), peer.c_str());
    JsonPtr body(cJSON_CreateObject());
    cJSON_AddNumberToObject(body.get(), "code", 0);
    cJSON_AddStringToObject(body.get(), "pid", std::to_string(registry.creator_pid()).c_str());
    send_json(req, 200, body.get());
  }

  void handle_versions(evhttp_request* req, const std::string&) {
    JsonPtr body(cJSON_CreateObject());
    cJSON_AddNumberToObject(body.get(), "code", 0);
    cJSON_AddStringToObject(body.get(), "server", "srs-proxy");
    cJSON_AddStringToObject(body.get(), "version", SP_VERSION);
    send_json(req, 200, body.get());
  }

  void handle_origins(evhttp_request* req, const std::string&) {
    JsonPtr body(cJSON_CreateObject());
    cJSON_AddNumberToObject(body.get(), "code", 0);
    cJSON* arr = cJSON_AddArrayToObject(body.get(), "origins");
    for (const OriginView& o : registry.origins(monotonic_ms())) cJSON_AddItemToArray(arr, origin_json(o));
    send_json(req, 200, body.get());
  }

  void handle_streams(evhttp_request* req, const std::string&) {
    JsonPtr body(cJSON_CreateObject());
    cJSON_AddNumberToObject(body.get(), "code", 0);
    cJSON* arr = cJSON_AddArrayToObject(body.get(), "streams");
    int64_t now = monotonic_ms();
    std::map<std::string, int> hls;
    for (const SessionView& v : registry.sessions(now)) {
      if (v.kind == SessionKind::hls) hls[v.stream_key]++;
    }
    for (const StreamView& s : registry.streams(now)) cJSON_AddItemToArray(arr, stream_json(s, hls[s.key]));
    // How full the registry is: a flood of made-up names shows up here as
    // pending pins and evictions, never as a full table of live entries.
    Registry::Usage u = registry.usage();
    Registry::Capacity c = registry.capacity();
    cJSON* fill = cJSON_AddObjectToObject(body.get(), "registry");
    cJSON_AddNumberToObject(fill, "streams", u.streams);
    cJSON_AddNumberToObject(fill, "pending_streams", u.pending_streams);
    cJSON_AddNumberToObject(fill, "idle_streams", u.idle_streams);
    cJSON_AddNumberToObject(fill, "stream_capacity", c.streams);
    cJSON_AddNumberToObject(fill, "sessions", u.sessions);
    cJSON_AddNumberToObject(fill, "hls_clients", u.hls_clients);
    cJSON_AddNumberToObject(fill, "session_capacity", c.sessions);
    cJSON_AddNumberToObject(fill, "evicted_streams", double(u.evicted_streams));
    cJSON_AddNumberToObject(fill, "evicted_sessions", double(u.evicted_sessions));
    send_json(req, 200, body.get());
  }
};

std::vector<std::string> system_api_exposure_warnings(const SystemApiConf& conf) {
  std::vector<std::string> out;
  if (!conf.token.empty()) return out;
  // The first rule matching every client decides (first match wins): a deny
  // there makes the rules an allow-list; an allow there leaves the API open.
  for (const AccessRule& rule : conf.access) {
    if (rule.net.family != 0 && rule.net.prefix != 0) continue;
    if (!rule.allow) return out;
    break;
  }
  for (const ListenConf& l : conf.listen) {
    if (host_bytes(l.addr).is_loopback()) continue;
    out.push_back("system api listens on " + l.addr.to_string() + " (\"" + l.text +
                  "\"), reachable from other hosts, with no token and no allow-list: anyone who can reach it "
                  "can register origins and read the registry; set system_api { token ...; } or "
                  "allow ...; deny all;, or listen on 127.0.0.1");
  }
  return out;
}

SystemApi::SystemApi(event_base* base, const Config& conf, Registry& registry)
    : impl_(std::make_unique<Impl>(base, conf, registry)) {}

SystemApi::~SystemApi() = default;  // evhttp_free closes our dup()ed sockets

Status SystemApi::start(const std::vector<int>& listen_fds) {
  Impl& im = *impl_;
  if (!im.http) {
    im.http.reset(evhttp_new(im.base));
    if (!im.http) return Status::Error("system api: evhttp_new failed");
    evhttp_set_max_body_size(im.http.get(), ev_ssize_t(im.conf.max_body_size));
    evhttp_set_max_headers_size(im.http.get(), 16 * 1024);
    timeval tv = ms_to_timeval(im.conf.timeout_ms);
    evhttp_set_timeout_tv(im.http.get(), &tv);
    // Every method reaches our callback, so wrong ones get a JSON 405.
    evhttp_set_allowed_methods(im.http.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                                   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                                   EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(im.http.get(), &Impl::on_request, &im);
    im.deadlines.attach(im.http.get());  // slowloris: a whole request within `timeout`
  }
  for (int fd : listen_fds) {
    // evhttp closes what it is given when unbinding; the caller keeps `fd`.
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) return Status::Error(std::string("system api: dup of listening socket failed: ") + strerror(errno));
    int flags = fcntl(own, F_GETFL);
    fcntl(own, F_SETFL, flags | O_NONBLOCK);
    evhttp_bound_socket* b = evhttp_accept_socket_with_handle(im.http.get(), own);
    if (!b) {
      close(own);
      return Status::Error("system api: cannot accept on socket " + std::to_string(fd));
    }
    im.bound.push_back(b);
    im.backoffs.push_back(std::make_unique<AcceptBackoff>(im.base, evhttp_bound_socket_get_listener(b), "system_api"));
  }
  return Status::Ok();
}

void SystemApi::stop_accepting() {
  if (!impl_->http) return;
  impl_->backoffs.clear();  // before the listeners they guard
  for (evhttp_bound_socket* b : impl_->bound) evhttp_del_accept_socket(impl_->http.get(), b);
  impl_->bound.clear();
}

}  // namespace sp
