// The system API server (see system_api.h): an HttpServer (http/http_server.h,
// the stack every listener of the proxy uses) on the listening sockets the
// master opened, one handler that checks access (networks, then token),
// routes by exact path and method (and /api/v1/origins/{server}[/action]
// through match_origin_path, origin_control.h), and answers JSON; GET / and
// /status serve the status page (status_page.h), an HTML page that reads the
// JSON routes.
//
// Status codes: 200 success; 400 bad request body ({"code":400,"error":..}
// naming the field), including a self-loop (an endpoint that is one of this
// generation's own listeners, see self_loop.h); 401 missing/wrong token; 403
// network denied; 404 unknown path; 405 wrong method (with Allow); 413 body
// over max_body_size; 503 registry full on register (the origin should retry
// later, its body was fine); 410 on register for an origin an operator
// removed (same service id, within origin_remove_time); 404 for an origin
// control naming an unknown origin. Every refusal is logged once, with the
// peer address, under a per-request context id. A whole request must arrive
// within `timeout` of the connection or of the previous answer (slowloris).
//
// The registry is reached through RegistryClient (registry_client.h): with
// Redis, registrations and listings answer later, from the loop. The
// RegistryCall a connection waits on is kept per connection and dropped when
// the client goes away, so an answer never reaches a closed connection.
// Listings show the cluster view (Redis) and, with Redis, which proxy holds
// each stream's clients; /api/v1/versions says the backend and whether Redis
// is reachable.
#include "api/system_api.h"

#include <cjson/cJSON.h>
#include <strings.h>

#include <cmath>
#include <cstring>
#include <map>
#include <unordered_map>
#include <string>

#include "api/origin_control.h"
#include "api/register_request.h"
#include "api/self_loop.h"
#include "api/status_page.h"
#include "build_info.h"
#include "core/clock.h"
#include "core/json_ptr.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/http_error.h"
#include "http/http_server.h"
#include "http/query.h"

namespace sp {

namespace {


// Compares without leaking, through timing, how much of a token matched.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); i++) diff |= uint8_t(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

void send_json(HttpConn& conn, int code, const cJSON* body, const HttpHeaders& extra = {}) {
  JsonTextPtr text(cJSON_PrintUnformatted(body));
  HttpHeaders h = extra;
  h.add("Content-Type", "application/json");
  conn.respond(code, h, text ? std::string_view(text.get()) : std::string_view());
}

void send_error(HttpConn& conn, int code, const std::string& error, const HttpHeaders& extra = {}) {
  JsonPtr body(cJSON_CreateObject());
  cJSON_AddNumberToObject(body.get(), "code", code);
  cJSON_AddStringToObject(body.get(), "error", error.c_str());
  send_json(conn, code, body.get(), extra);
}

// A wildcard endpoint is its port alone.
std::string endpoint_text(const Endpoint& ep) {
  return ep.host.empty() ? std::to_string(ep.port) : host_port_text(ep.host, ep.port);
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
  // Operator control and load (issue 16): draining / overloaded get no new
  // streams; clients = live clients of its streams (wait for 0 after a
  // drain); load / weight is what picks compare; cpu and load_1m as its
  // heartbeat's summaries reported them (null: not reported).
  cJSON_AddBoolToObject(j, "draining", o.draining);
  cJSON_AddBoolToObject(j, "overloaded", o.overloaded);
  if (o.cpu_percent >= 0) cJSON_AddNumberToObject(j, "cpu", o.cpu_percent);
  else cJSON_AddNullToObject(j, "cpu");
  if (o.load_1m >= 0) cJSON_AddNumberToObject(j, "load_1m", o.load_1m);
  else cJSON_AddNullToObject(j, "load_1m");
  cJSON_AddNumberToObject(j, "weight", o.weight);
  cJSON_AddNumberToObject(j, "registered_weight", o.registered_weight);
  if (o.weight_override > 0) cJSON_AddNumberToObject(j, "weight_override", o.weight_override);
  else cJSON_AddNullToObject(j, "weight_override");
  cJSON_AddNumberToObject(j, "load", double(o.load));
  cJSON_AddNumberToObject(j, "bytes_per_sec", double(o.bytes_per_sec));
  cJSON_AddNumberToObject(j, "clients", double(o.clients));
  return j;
}

// `hls_sessions`: the stream's live HLS sessions. An HLS viewer holds no
// connection (each playlist and segment is a request of its own), so it is
// counted by its session, which lives until session_ttl after its last request.
// With Redis also "pending" and "proxies": each live proxy's own counts.
cJSON* stream_json(const ClusterStreamView& cs, double hls_sessions, bool cluster) {
  const StreamView& s = cs.view;
  cJSON* j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "key", s.key.c_str());
  cJSON_AddStringToObject(j, "origin", s.origin_server.c_str());
  cJSON* clients = cJSON_AddObjectToObject(j, "clients");
  for (int p = 0; p < kProtoCount; p++) cJSON_AddNumberToObject(clients, proto_name(Proto(p)), s.clients[p]);
  cJSON_AddNumberToObject(clients, "hls", hls_sessions);
  if (cluster) {
    cJSON_AddBoolToObject(j, "pending", cs.pending);
    cJSON* proxies = cJSON_AddArrayToObject(j, "proxies");
    for (const StreamHolder& h : cs.holders) {
      cJSON* pj = cJSON_CreateObject();
      cJSON_AddStringToObject(pj, "proxy_id", h.proxy_id.c_str());
      cJSON* pc = cJSON_AddObjectToObject(pj, "clients");
      for (int p = 0; p < kProtoCount; p++) cJSON_AddNumberToObject(pc, proto_name(Proto(p)), h.clients[p]);
      cJSON_AddItemToArray(proxies, pj);
    }
  }
  return j;
}

// The backend: {"backend": "memory"} or, with Redis, where it is, whether
// it answers now and this proxy's id in it.
cJSON* backend_json(const RegistryClient& client) {
  cJSON* j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "backend", client.backend());
  if (std::string_view(client.backend()) == "redis") {
    BackendState st = client.backend_state();
    cJSON_AddStringToObject(j, "redis", st.address.c_str());
    cJSON_AddBoolToObject(j, "redis_reachable", st.reachable);
    cJSON_AddStringToObject(j, "redis_key_prefix", st.key_prefix.c_str());
    cJSON_AddStringToObject(j, "proxy_id", st.proxy_id.c_str());
  }
  return j;
}

// A listing the registry could not give (Redis timed out or failed).
void send_registry_error(HttpConn& conn, const Status& st, const std::string& ctx) {
  int code = http_status_for(st.kind());
  if (code < 500) code = 503;
  SP_WARN(ctx, "system api: registry listing failed with %d: %s", code, st.message().c_str());
  send_error(conn, code, "registry: " + st.message());
}

}  // namespace

struct SystemApi::Impl : HttpServer::Handler {
  SystemApiConf conf;
  RegistryClient& registry;
  // The registry answer each connection waits for (at most one at a time:
  // requests on a connection are answered in order). Dropped on close.
  std::unordered_map<HttpConn*, RegistryCall> waiting;
  // This generation's listeners, for the self-loop check (a reload starts a
  // new API worker with the new configuration), and this host's addresses,
  // read again at most every kLocalAddressesMs.
  std::vector<OwnListener> own;
  std::vector<HostBytes> local_addresses;
  int64_t local_addresses_ms = -1;
  static constexpr int64_t kLocalAddressesMs = 5000;
  // slowloris: a whole request within `timeout`; an answer that makes no
  // progress for `timeout` closes the connection too.
  HttpServer server;

  Impl(event_base* b, const Config& c, RegistryClient& r)
      : conf(c.module<SystemApiConf>()),
        registry(r),
        own(own_listeners(c)),
        server(b, "system_api", HttpConn::Limits{c.module<SystemApiConf>().timeout_ms, c.module<SystemApiConf>().timeout_ms,
                                                 c.module<SystemApiConf>().max_body_size},
               nullptr, this) {}

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
    const char* method;
    void (Impl::*handle)(HttpConn&, const std::string& body, const std::string& ctx);
    const char* allow;
  };

  void on_close(HttpConn& conn) override { waiting.erase(&conn); }

  // Keeps `call` for `conn` while its answer is pending (Redis); an answer
  // already given (memory) leaves nothing behind.
  void wait_on(HttpConn& conn, RegistryCall call) {
    if (call.pending()) waiting[&conn] = std::move(call);
  }
  // Inside an answer's callback: the call is over.
  void answered(HttpConn& conn) { waiting.erase(&conn); }

  void on_request(HttpConn& conn, const HttpRequestHead& req, std::string body) override {
    std::string ctx = new_context_id();
    {
      // metrics: each API request counts as one session of protocol "api",
      // started and ended as it arrives (answers may come later, from Redis).
      metrics::SessionMeter meter;
      meter.begin(metrics::Protocol::api, metrics::listener_of_fd(metrics::Protocol::api, conn.fd()));
      meter.end(metrics::End::normal);
    }
    std::string peer = conn.peer().to_string();
    std::string path = req.path;
    if (path.size() > 1 && path.back() == '/') path.pop_back();

    auto refuse = [&](int code, const std::string& why, const HttpHeaders& extra = {}) {
      SP_WARN(ctx, "system api: %s %s from %s refused with %d: %s", req.method.c_str(), path.c_str(), peer.c_str(),
              code, why.c_str());
      send_error(conn, code, why, extra);
    };

    bool registering = path == "/api/v1/srs/register";
    if (!network_allowed(conn.peer())) {
      if (registering) metrics::count_registration(metrics::RegResult::denied);
      return refuse(403, "access denied for " + peer);
    }
    if (!token_ok(req)) {
      if (registering) metrics::count_registration(metrics::RegResult::denied);
      return refuse(401, "missing or wrong access token");
    }

    static const Route kRoutes[] = {
        {"/api/v1/srs/register", "POST", &Impl::handle_register, "POST"},
        {"/api/v1/versions", "GET", &Impl::handle_versions, "GET, HEAD"},
        {"/api/v1/origins", "GET", &Impl::handle_origins, "GET, HEAD"},
        {"/api/v1/streams", "GET", &Impl::handle_streams, "GET, HEAD"},
        {"/", "GET", &Impl::handle_status_page, "GET, HEAD"},
        {"/status", "GET", &Impl::handle_status_page, "GET, HEAD"},
        {"/metrics", "GET", &Impl::handle_metrics, "GET, HEAD"},
    };
    for (const Route& r : kRoutes) {
      if (path != r.path) continue;
      bool head_ok = std::string_view(r.method) == "GET" && req.method == "HEAD";
      if (req.method != r.method && !head_ok) {
        HttpHeaders allow;
        allow.add("Allow", r.allow);
        return refuse(405, "method " + req.method + " not allowed on " + r.path, allow);
      }
      return (this->*r.handle)(conn, body, ctx);
    }
    if (auto op = match_origin_path(path)) {
      if (!op->ok()) return refuse(400, op->error());
      const char* want = (*op)->op ? "POST" : "DELETE";
      if (req.method != want) {
        HttpHeaders allow;
        allow.add("Allow", want);
        return refuse(405, "method " + req.method + " not allowed on " + path, allow);
      }
      return handle_origin_control(conn, req, body, ctx, **op);
    }
    refuse(404, "no such API: " + path);
  }

  // First matching rule decides; no rule matching allows.
  bool network_allowed(const SockAddr& peer) const {
    for (const AccessRule& rule : conf.access) {
      if (rule.net.contains(peer.sa())) return rule.allow;
    }
    return true;
  }

  // `Authorization: Bearer <token>` or `?token=<token>` (SRS heartbeat URLs
  // cannot set headers).
  bool token_ok(const HttpRequestHead& req) const {
    if (conf.token.empty()) return true;
    auto auth = req.headers.get("Authorization");
    if (auth && auth->size() >= 7 && strncasecmp(auth->data(), "Bearer ", 7) == 0) {
      std::string_view given = auth->substr(7);
      while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
      if (same_secret(given, conf.token)) return true;
    }
    auto token = query_param(req.query, "token");
    return token && same_secret(*token, conf.token);
  }

  void handle_register(HttpConn& conn, const std::string& body, const std::string& ctx) {
    std::string peer = conn.peer().to_string();
    auto spec = parse_register_request(body);
    if (!spec.ok()) {
      SP_WARN(ctx, "system api: registration from %s refused: %s", peer.c_str(), spec.error().c_str());
      metrics::count_registration(metrics::RegResult::bad_request);
      return send_error(conn, http_status_for(spec.kind()), spec.error());
    }
    if (Status loop = check_self_loop(*spec, own, local_addrs()); !loop.ok()) {
      SP_WARN(ctx, "system api: registration of %s from %s refused: %s", spec->server.c_str(), peer.c_str(),
              loop.message().c_str());
      metrics::count_registration(metrics::RegResult::bad_request);
      return send_error(conn, http_status_for(loop.kind()), loop.message());
    }
    HttpConn* c = &conn;
    std::string server = spec->server;
    wait_on(conn, registry.register_origin(*spec, monotonic_ms(), [this, c, ctx, peer, server](Status s) {
      answered(*c);
      if (c->closed()) return;
      if (!s.ok()) {
        // not_found: the server id was removed by an operator (410 Gone).
        int code = s.kind() == ErrorKind::not_found ? 410 : http_status_for(s.kind());
        metrics::count_registration(s.kind() == ErrorKind::full        ? metrics::RegResult::full
                                    : s.kind() == ErrorKind::bad_input ? metrics::RegResult::bad_request
                                    : s.kind() == ErrorKind::not_found ? metrics::RegResult::denied
                                                                       : metrics::RegResult::error);
        SP_WARN(ctx, "system api: registration of %s from %s refused with %d: %s", server.c_str(), peer.c_str(),
                code, s.message().c_str());
        return send_error(*c, code, s.message());
      }
      metrics::count_registration(metrics::RegResult::ok);
      SP_DEBUG(ctx, "system api: heartbeat of origin %s from %s", server.c_str(), peer.c_str());
      JsonPtr reply(cJSON_CreateObject());
      cJSON_AddNumberToObject(reply.get(), "code", 0);
      cJSON_AddStringToObject(reply.get(), "pid", std::to_string(registry.local().creator_pid()).c_str());
      send_json(*c, 200, reply.get());
    }));
  }

  // The page carries no data of its own (it fetches the JSON routes with the
  // token it was opened with), so it is never cached, and it names no
  // referrer: its URL may hold ?token=.
  void handle_status_page(HttpConn& conn, const std::string&, const std::string&) {
    HttpHeaders h;
    h.add("Content-Type", "text/html; charset=utf-8");
    h.add("Content-Security-Policy", std::string(kStatusPageCsp));
    h.add("Cache-Control", "no-store");
    h.add("Referrer-Policy", "no-referrer");
    h.add("X-Content-Type-Options", "nosniff");
    conn.respond(200, h, status_page_html());
  }

  // POST .../drain, .../undrain, .../weight and DELETE /api/v1/origins/{server}:
  // one notice line per change with the caller and the result.
  void handle_origin_control(HttpConn& conn, const HttpRequestHead& req, const std::string& body,
                             const std::string& ctx, const OriginPath& target) {
    std::string peer = conn.peer().to_string();
    OriginOp op = target.op.value_or(OriginOp::remove);
    int weight = 0;
    if (op == OriginOp::set_weight) {
      Result<int> w = parse_weight_request(body, req.query);
      if (!w.ok()) {
        SP_WARN(ctx, "system api: weight of origin %s from %s refused: %s", target.server.c_str(), peer.c_str(),
                w.error().c_str());
        return send_error(conn, 400, w.error());
      }
      weight = *w;
    }
    HttpConn* c = &conn;
    std::string server = target.server;
    wait_on(conn, registry.control_origin(server, op, weight, monotonic_ms(), [this, c, ctx, peer, server, op,
                                                                                weight](Status s) {
      answered(*c);
      std::string what = origin_op_name(op);
      if (op == OriginOp::set_weight) what += " " + std::to_string(weight);
      if (!s.ok()) {
        int code = http_status_for(s.kind());
        SP_NOTICE(ctx, "system api: %s of origin %s by %s failed with %d: %s", what.c_str(), server.c_str(),
                  peer.c_str(), code, s.message().c_str());
        if (!c->closed()) send_error(*c, code, s.message());
        return;
      }
      SP_NOTICE(ctx, "system api: %s of origin %s by %s: done (%s backend)", what.c_str(), server.c_str(),
                peer.c_str(), registry.backend());
      if (c->closed()) return;
      JsonPtr reply(cJSON_CreateObject());
      cJSON_AddNumberToObject(reply.get(), "code", 0);
      cJSON_AddStringToObject(reply.get(), "server", server.c_str());
      cJSON_AddStringToObject(reply.get(), "action", origin_op_name(op));
      if (op == OriginOp::set_weight) cJSON_AddNumberToObject(reply.get(), "weight", weight);
      send_json(*c, 200, reply.get());
    }));
  }

  void handle_versions(HttpConn& conn, const std::string&, const std::string&) {
    JsonPtr body(cJSON_CreateObject());
    cJSON_AddNumberToObject(body.get(), "code", 0);
    cJSON_AddStringToObject(body.get(), "server", "srs-proxy");
    cJSON_AddStringToObject(body.get(), "version", SP_VERSION);
    cJSON_AddItemToObject(body.get(), "registry", backend_json(registry));
    send_json(conn, 200, body.get());
  }

  void handle_origins(HttpConn& conn, const std::string&, const std::string& ctx) {
    HttpConn* c = &conn;
    wait_on(conn, registry.origins(monotonic_ms(), [this, c, ctx](Result<std::vector<OriginView>> r) {
      answered(*c);
      if (c->closed()) return;
      if (!r.ok()) return send_registry_error(*c, r.status(), ctx);
      JsonPtr body(cJSON_CreateObject());
      cJSON_AddNumberToObject(body.get(), "code", 0);
      cJSON* arr = cJSON_AddArrayToObject(body.get(), "origins");
      for (const OriginView& o : *r) cJSON_AddItemToArray(arr, origin_json(o));
      cJSON_AddItemToObject(body.get(), "backend", backend_json(registry));
      send_json(*c, 200, body.get());
    }));
  }

  // Two look-ups in turn: the HLS sessions (counted per stream), then the
  // streams with their per-proxy counts.
  void handle_streams(HttpConn& conn, const std::string&, const std::string& ctx) {
    HttpConn* c = &conn;
    wait_on(conn, registry.sessions(monotonic_ms(), [this, c, ctx](Result<std::vector<SessionView>> r) {
      answered(*c);
      if (c->closed()) return;
      if (!r.ok()) return send_registry_error(*c, r.status(), ctx);
      auto hls = std::make_shared<std::map<std::string, int>>();
      for (const SessionView& v : *r) {
        if (v.kind == SessionKind::hls) (*hls)[v.stream_key]++;
      }
      wait_on(*c, registry.cluster_streams(monotonic_ms(), [this, c, ctx, hls](Result<std::vector<ClusterStreamView>> s) {
        answered(*c);
        if (c->closed()) return;
        if (!s.ok()) return send_registry_error(*c, s.status(), ctx);
        send_streams(*c, *s, *hls);
      }));
    }));
  }

  // GET /metrics (core/metrics.h): one pass over the metrics area's slots,
  // this host's registry table for the per-origin figures; with Redis then
  // the cluster view (origins, then streams with per-proxy counts).
  void handle_metrics(HttpConn& conn, const std::string&, const std::string& ctx) {
    int64_t now = monotonic_ms();
    auto in = std::make_shared<metrics::ExpoInput>();
    in->version = SP_VERSION;
    uint64_t local_origins = 0;
    for (const OriginView& o : registry.local().origins(now)) {
      local_origins++;
      in->origins.push_back(
          metrics::OriginInfo{o.slot, o.server, o.alive, o.down, double(o.age_ms) / 1000.0, o.draining, o.overloaded});
    }
    Registry::Usage u = registry.local().usage();
    Registry::Capacity cap = registry.local().capacity();
    in->registry.tables = {{"origins", local_origins, cap.origins},
                           {"streams", u.streams, cap.streams},
                           {"sessions", u.sessions, cap.sessions}};
    if (std::string_view(registry.backend()) != "redis") return send_metrics(conn, *in);
    in->cluster.present = true;
    in->cluster.proxy_id = registry.backend_state().proxy_id;
    HttpConn* c = &conn;
    wait_on(conn, registry.origins(now, [this, c, ctx, in](Result<std::vector<OriginView>> r) {
      answered(*c);
      if (c->closed()) return;
      if (!r.ok()) return send_registry_error(*c, r.status(), ctx);
      for (const OriginView& o : *r) {
        in->cluster.origins++;
        if (o.alive) in->cluster.origins_alive++;
        in->cluster.origin_clients.push_back({o.server, {}});
      }
      wait_on(*c, registry.cluster_streams(monotonic_ms(), [this, c, ctx, in](Result<std::vector<ClusterStreamView>> s) {
        answered(*c);
        if (c->closed()) return;
        if (!s.ok()) return send_registry_error(*c, s.status(), ctx);
        in->cluster.streams = s->size();
        for (const ClusterStreamView& cs : *s) {
          for (auto& oc : in->cluster.origin_clients) {
            if (oc.server != cs.view.origin_server) continue;
            // The registry's protocols onto the metrics' (http: every HTTP stream).
            static const metrics::Protocol kMap[kProtoCount] = {metrics::Protocol::rtmp, metrics::Protocol::http_flv,
                                                                metrics::Protocol::webrtc, metrics::Protocol::srt,
                                                                metrics::Protocol::webrtc};
            for (int p = 0; p < kProtoCount; p++) oc.clients[int(kMap[p])] += cs.view.clients[p];
          }
        }
        send_metrics(*c, *in);
      }));
    }));
  }

  void send_metrics(HttpConn& conn, const metrics::ExpoInput& in) {
    std::string text = metrics::exposition(metrics::area(), in);
    HttpHeaders h;
    h.add("Content-Type", metrics::kContentType);
    conn.respond(200, h, text);
  }

  void send_streams(HttpConn& conn, const std::vector<ClusterStreamView>& streams,
                    std::map<std::string, int>& hls) {
    JsonPtr body(cJSON_CreateObject());
    cJSON_AddNumberToObject(body.get(), "code", 0);
    cJSON* arr = cJSON_AddArrayToObject(body.get(), "streams");
    bool cluster = std::string_view(registry.backend()) == "redis";
    for (const ClusterStreamView& s : streams) cJSON_AddItemToArray(arr, stream_json(s, hls[s.view.key], cluster));
    // How full the registry is: a flood of made-up names shows up here as
    // pending pins and evictions, never as a full table of live entries.
    // With Redis these are this proxy's local cache.
    Registry::Usage u = registry.local().usage();
    Registry::Capacity c = registry.local().capacity();
    if (cluster) cJSON_AddItemToObject(body.get(), "backend", backend_json(registry));
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
    send_json(conn, 200, body.get());
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

SystemApi::SystemApi(event_base* base, const Config& conf, RegistryClient& registry)
    : impl_(std::make_unique<Impl>(base, conf, registry)) {}

SystemApi::~SystemApi() = default;  // closes our dup()ed sockets and open connections

Status SystemApi::start(const std::vector<int>& listen_fds) {
  for (int fd : listen_fds) {
    Status st = impl_->server.add(fd, nullptr);
    if (!st.ok()) return Status::Error("system api: " + st.message());
  }
  return Status::Ok();
}

void SystemApi::stop_accepting() { impl_->server.stop_accepting(); }

}  // namespace sp
