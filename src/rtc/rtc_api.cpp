// WebRTC signalling through the proxy: see rtc_api.h. Server side and origin
// client are the project's own HTTP stack (http/http_server.h,
// http/origin_fetch.h), the same one the stream relay uses: one deadline
// mechanism, one TLS context builder (http/tls.h), bounded origin answers.
#include "rtc/rtc_api.h"

#include <cjson/cJSON.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

#include "build_info.h"
#include "core/clock.h"
#include "core/event_ptr.h"
#include "core/json_ptr.h"
#include "core/log.h"
#include "core/proxy_loop.h"
#include "http/http_error.h"
#include "http/http_server.h"
#include "http/origin_fetch.h"
#include "http/query.h"
#include "http/tls.h"
#include "registry/stream_key.h"
#include "rtc/sdp.h"
#include "rtc/signaling.h"

namespace sp {

namespace {

constexpr size_t kMaxBody = 256 * 1024;  // SDP offers are a few KB
// What the proxy reads of an origin's answer (an SDP answer is a few KB):
// without it one answer could make the worker buffer without end. The head
// is bounded by the parser (kHttpMaxHeaderBytes).
constexpr size_t kMaxOriginHeaders = kHttpMaxHeaderBytes;
constexpr size_t kMaxOriginBody = 256 * 1024;

std::string header(const HttpRequestHead& req, std::string_view name) {
  auto v = req.headers.get(name);
  return v ? std::string(*v) : std::string();
}

// The local address the client used for this request, "" for a wildcard.
std::string local_host_of(const HttpConn& conn) {
  auto local = conn.local_address();
  if (!local) return {};
  std::string host = local->host_string();
  if (host.starts_with("::ffff:")) host = host.substr(7);  // v4-mapped
  if (host == "0.0.0.0" || host == "::") return {};
  return host;
}

}  // namespace

struct RtcApi::Impl : HttpServer::Handler {
  // One signalling request waiting for the origin.
  struct Flow {
    std::string ctx, peer;
    HttpConn* client = nullptr;  // null once the client went away
    HttpRequestHead req;         // the client's request, for retries
    std::string body;
    bool offer = true;  // offer (POST) or resource request (DELETE/PATCH)
    RtcAction action = RtcAction::whip;
    std::string key, offer_ufrag, request_path, base_url, origin_server, origin_desc;
    std::string media_host, session_id;  // media_host: origin rtc host
    uint16_t media_port = 0;
    std::string candidate_host;
    uint16_t candidate_port = 0;
    int64_t start_ms = 0;
    std::string target;                  // what the origin is asked for
    std::unique_ptr<OriginFetch> fetch;  // the current attempt
    std::vector<std::string> tried;      // origins that did not answer this offer (retry_offer)
    Impl* api = nullptr;
    RegistryCall call;    // the registry look-up the flow waits for, if any (dropping it cancels the answer)
    EventPtr wait_timer;  // bounds that wait to connect_timeout
  };

  event_base* base;
  const Config& conf;
  RegistryClient& registry;
  SslCtxPtr ssl_ctx;  // before `server`, which borrows it
  // slowloris: a whole request within idle_timeout; worker_connections
  // counts every signalling connection.
  HttpServer server;
  std::unordered_map<Flow*, std::unique_ptr<Flow>> flows;  // after `server`: destroyed first
  std::unordered_map<HttpConn*, Flow*> by_client;

  Impl(event_base* b, const Config& c, RegistryClient& r, ConnectionLimiter& limiter)
      : base(b),
        conf(c),
        registry(r),
        server(b, "http_api", HttpConn::Limits{c.module<HttpApiConf>().idle_timeout_ms, c.module<HttpApiConf>().idle_timeout_ms, kMaxBody},
               &limiter, this) {}

  // ---- set-up ----
  // Certificate paths come resolved against the prefix from the configuration.
  Status start(const ListenerSet& set) {
    for (const Listener& l : set.items()) {
      if (l.kind != "http_api") continue;
      if (l.conf.ssl && !ssl_ctx) {
        auto made = make_tls_server_context(conf.module<HttpApiConf>().ssl_certificate, conf.module<HttpApiConf>().ssl_certificate_key);
        if (!made.ok()) return Status::Error("http_api: " + made.error());
        ssl_ctx = std::move(*made);
      }
      Status st = server.add(l.fd, l.conf.ssl ? ssl_ctx.get() : nullptr);
      if (!st.ok()) return Status::Error("http_api: " + st.message() + " (" + l.conf.text + ")");
    }
    return Status::Ok();
  }

  // ---- replies ----
  void add_cors(const HttpRequestHead& req, HttpHeaders& out) {
    if (!conf.module<HttpApiConf>().cors) return;
    std::string origin = header(req, "Origin");
    out.add("Access-Control-Allow-Origin", origin.empty() ? "*" : origin);
    if (!origin.empty()) out.add("Vary", "Origin");
    out.add("Access-Control-Allow-Methods", "GET, POST, DELETE, PATCH, OPTIONS");
    std::string asked = header(req, "Access-Control-Request-Headers");
    out.add("Access-Control-Allow-Headers", asked.empty() ? "Content-Type, Authorization, If-Match, Origin, Accept" : asked);
    out.add("Access-Control-Expose-Headers", "Location, ETag, Link, Content-Type");
    out.add("Access-Control-Max-Age", "86400");
  }

  void reply(HttpConn& conn, const HttpRequestHead& req, int code, const std::string& content_type,
             const std::string& body, HttpHeaders out = {}) {
    add_cors(req, out);
    if (!content_type.empty()) out.add("Content-Type", content_type);
    conn.respond(code, out, body);
  }

  // Errors: JSON for the SRS JSON API, text for WHIP/WHEP (RFC 9725 leaves it open).
  void fail(HttpConn& conn, const HttpRequestHead& req, const std::string& ctx, int code, const std::string& why,
            bool json, HttpHeaders out = {}) {
    SP_WARN(ctx, "webrtc api: %s %s from %s refused with %d: %s", req.method.c_str(), req.target.c_str(),
            conn.peer().to_string().c_str(), code, why.c_str());
    if (json) {
      JsonPtr j(cJSON_CreateObject());
      cJSON_AddNumberToObject(j.get(), "code", code);
      cJSON_AddStringToObject(j.get(), "error", why.c_str());
      JsonTextPtr text(cJSON_PrintUnformatted(j.get()));
      reply(conn, req, code, "application/json", text.get(), std::move(out));
    } else {
      reply(conn, req, code, "text/plain; charset=utf-8", why + "\n", std::move(out));
    }
  }

  // A flow's client is answered (if still there) and detached.
  HttpConn* take_client(Flow* f) {
    HttpConn* c = f->client;
    if (c) by_client.erase(c);
    f->client = nullptr;
    return c;
  }

  void fail_flow(Flow* f, int code, const std::string& why, bool json) {
    if (HttpConn* c = take_client(f)) fail(*c, f->req, f->ctx, code, why, json);
  }

  static bool json_of(const Flow* f) { return f->offer && rtc_action_is_json(f->action); }

  // The flow ends: its client (if still there) was answered or left. The
  // flow is buried, not destroyed: this may run inside its fetch's or its
  // timer's callback.
  void drop_flow(Flow* f) {
    take_client(f);
    f->call.reset();
    if (f->wait_timer) evtimer_del(f->wait_timer.get());
    auto it = flows.find(f);
    if (it == flows.end()) return;
    server.bury(std::move(it->second));
    flows.erase(it);
  }

  // ---- waiting for the registry ----
  // Keeps the look-up `call` of flow `f`, started with a callback that
  // continues the flow. Nothing to keep when the answer came before the call
  // returned (memory backend): the flow has moved on and may be gone.
  void await(Flow* f, RegistryCall call) {
    if (!call.pending()) return;
    f->call = std::move(call);
    if (!f->wait_timer) f->wait_timer.reset(evtimer_new(base, on_wait_timeout, f));
    timeval tv = ms_to_timeval(conf.module<HttpApiConf>().connect_timeout_ms);
    evtimer_add(f->wait_timer.get(), &tv);
  }

  // The registry answered flow `f`; false if its client left meanwhile
  // (the flow is then dropped).
  bool answered(Flow* f) {
    f->call.reset();
    if (f->wait_timer) evtimer_del(f->wait_timer.get());
    if (f->client) return true;
    drop_flow(f);
    return false;
  }

  static void on_wait_timeout(evutil_socket_t, short, void* arg) {
    auto* f = static_cast<Flow*>(arg);
    f->api->registry_timed_out(f);
  }

  void registry_timed_out(Flow* f) {
    f->call.reset();  // an answer that comes after all is not delivered
    fail_flow(f, 503,
              "the registry did not answer within " + std::to_string(conf.module<HttpApiConf>().connect_timeout_ms) +
                  " ms" + (f->key.empty() ? std::string() : " (stream " + f->key + ")"),
              json_of(f));
    drop_flow(f);
  }

  // ---- routing ----
  void on_request(HttpConn& conn, const HttpRequestHead& req, std::string body) override {
    std::string ctx = new_context_id();
    const std::string& path = req.path.empty() ? std::string("/") : req.path;
    const std::string& query = req.query;
    const std::string& method = req.method;
    if (method == "OPTIONS") return reply(conn, req, 200, "", "");
    std::string trimmed = path;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    if (trimmed == "/api/v1/versions") {
      if (method != "GET" && method != "HEAD") return method_not_allowed(conn, req, ctx, "GET, HEAD");
      return reply(conn, req, 200, "application/json",
                   "{\"code\":0,\"server\":\"srs-proxy\",\"version\":\"" SP_VERSION "\"}");
    }
    if (!is_rtc_resource_path(path)) return fail(conn, req, ctx, 404, "no such API: " + path, false);
    // Proxy loop (core/proxy_loop.h): a request that already passed through
    // this proxy is refused before it costs another origin request.
    if (std::string via = req.headers.joined("Via"); via_lists_proxy(via, proxy_id())) {
      auto t = parse_rtc_target(path, query);
      bool json = method == "POST" && t.ok() && rtc_action_is_json(t->action);
      return fail(conn, req, ctx, 508, "proxy loop: this request already passed through " +
                  proxy_via_name(proxy_id()) + " (Via: " + via + ")", json);
    }
    if (method == "DELETE" || method == "PATCH") return start_resource(conn, req, std::move(body), ctx);
    auto target = parse_rtc_target(path, query);
    if (method != "POST") return method_not_allowed(conn, req, ctx, "POST, DELETE, PATCH, OPTIONS");
    if (!target.ok()) return fail(conn, req, ctx, http_status_for(target.kind()), target.error(), false);
    start_offer(conn, req, std::move(body), ctx, *target);
  }

  void on_close(HttpConn& conn) override {
    auto it = by_client.find(&conn);
    if (it == by_client.end()) return;
    Flow* f = it->second;
    if (f->call.pending()) {
      // Nothing was asked of an origin yet: the look-up is cancelled and the flow ends.
      SP_INFO(f->ctx, "webrtc api: client %s left while waiting for the registry%s%s", f->peer.c_str(),
              f->key.empty() ? "" : ", stream ", f->key.c_str());
      drop_flow(f);
      return;
    }
    SP_INFO(f->ctx, "webrtc api: client %s left before the origin answered", f->peer.c_str());
    f->client = nullptr;
    by_client.erase(it);
  }

  void method_not_allowed(HttpConn& conn, const HttpRequestHead& req, const std::string& ctx, const char* allow) {
    HttpHeaders out;
    out.add("Allow", allow);
    fail(conn, req, ctx, 405, "method " + req.method + " not allowed", false, std::move(out));
  }

  // ---- offers ----
  void start_offer(HttpConn& conn, const HttpRequestHead& req, std::string body, const std::string& ctx,
                   const RtcTarget& target) {
    bool json = rtc_action_is_json(target.action);
    std::string offer;
    Result<std::string> key = Result<std::string>::Error("");
    std::string host = header(req, "Host");
    if (json) {
      JsonPtr j(cJSON_ParseWithLength(body.data(), body.size()));
      if (!j || !cJSON_IsObject(j.get())) return fail(conn, req, ctx, 400, "body is not a JSON object", true);
      const cJSON* sdp = cJSON_GetObjectItemCaseSensitive(j.get(), "sdp");
      const cJSON* url = cJSON_GetObjectItemCaseSensitive(j.get(), "streamurl");
      if (!cJSON_IsString(sdp)) return fail(conn, req, ctx, 400, "missing \"sdp\" string", true);
      if (!cJSON_IsString(url)) return fail(conn, req, ctx, 400, "missing \"streamurl\" string", true);
      offer = sdp->valuestring;
      auto su = parse_stream_url(url->valuestring);
      if (!su.ok()) return fail(conn, req, ctx, http_status_for(su.kind()), su.error(), true);
      key = make_stream_key(su->host, su->app, su->stream, su->query);
    } else {
      offer = body;
      key = make_stream_key(host, target.app, target.stream, req.query);
    }
    if (!key.ok()) return fail(conn, req, ctx, http_status_for(key.kind()), "bad stream: " + key.error(), json);
    auto ufrag = sdp_ice_ufrag(offer);
    if (!ufrag.ok()) return fail(conn, req, ctx, http_status_for(ufrag.kind()), "bad offer: " + ufrag.error(), json);
    if (conf.module<WebrtcConf>().listen.empty()) return fail(conn, req, ctx, 503, "no webrtc listener configured for media", json);

    auto flow = std::make_unique<Flow>();
    flow->ctx = ctx;
    flow->peer = conn.peer().to_string();
    flow->offer = true;
    flow->action = target.action;
    flow->key = *key;
    flow->offer_ufrag = std::string(*ufrag);
    flow->request_path = req.path;
    flow->base_url = host.empty() ? "" : std::string(conn.tls() ? "https://" : "http://") + host;
    flow->candidate_host = conf.module<WebrtcConf>().candidate;
    if (flow->candidate_host.empty()) flow->candidate_host = local_host_of(conn);
    if (flow->candidate_host.empty()) {
      std::string h = conf.module<WebrtcConf>().listen.front().addr.host_string();
      flow->candidate_host = (h == "0.0.0.0" || h == "::") ? "127.0.0.1" : h;
    }
    flow->candidate_port = conf.module<WebrtcConf>().listen.front().addr.port();
    flow->start_ms = monotonic_ms();
    flow->target = req.target;
    Flow* f = attach(std::move(flow), conn, req, std::move(body));
    await(f, registry.pick(f->key, Proto::rtc, Proto::api, f->start_ms,
                           [this, f](Result<Pick> pick) { on_offer_pick(f, std::move(pick)); }));
  }

  void on_offer_pick(Flow* f, Result<Pick> pick) {
    if (!answered(f)) return;
    if (!pick.ok()) {
      fail_flow(f, http_status_for(pick.kind()), pick.error(), json_of(f));
      return drop_flow(f);
    }
    const Endpoint& api_ep = pick->origin.endpoints[int(Proto::api)].front();
    f->origin_server = pick->origin.server;
    f->media_host = pick->host;
    f->media_port = pick->port;
    request_origin(f, endpoint_connect_host(api_ep, pick->origin.ip), api_ep.port);
  }

  // ---- DELETE / PATCH on a resource URL ----
  void start_resource(HttpConn& conn, const HttpRequestHead& req, std::string body, const std::string& ctx) {
    auto sid = query_param(req.query, "spsid");
    if (!sid || sid->empty()) {
      return fail(conn, req, ctx, 404, "not a resource of this proxy (no spsid= in the URL)", false);
    }
    auto flow = std::make_unique<Flow>();
    flow->ctx = ctx;
    flow->peer = conn.peer().to_string();
    flow->offer = false;
    flow->session_id = *sid;
    flow->start_ms = monotonic_ms();
    Flow* f = attach(std::move(flow), conn, req, std::move(body));
    await(f, registry.get_session(SessionKind::rtc, f->session_id, f->start_ms,
                                  [this, f](Result<SessionView> rec) { on_resource_session(f, std::move(rec)); }));
  }

  void on_resource_session(Flow* f, Result<SessionView> rec) {
    if (!answered(f)) return;
    if (!rec.ok()) {
      bool registry_failed = rec.kind() == ErrorKind::timeout || rec.kind() == ErrorKind::unavailable;
      fail_flow(f, http_status_for(rec.kind()),
                registry_failed ? "registry look-up of session " + f->session_id + " failed: " + rec.error()
                                : "session " + f->session_id + " unknown or ended",
                false);
      return drop_flow(f);
    }
    auto data = decode_rtc_session_data(rec->data);
    if (!data.ok()) {
      fail_flow(f, http_status_for(data.kind()), data.error(), false);
      return drop_flow(f);
    }
    f->key = rec->stream_key;
    f->origin_server = rec->origin_server;
    f->target = data->origin_resource;
    if (f->target.empty()) {
      std::string q = query_without_param(f->req.query, "spsid");
      f->target = q.empty() ? f->req.path : f->req.path + "?" + q;
    }
    // The session's origin by name, from the registry's origins (with Redis
    // the cluster's: an origin registered through another proxy only).
    await(f, registry.origins(monotonic_ms(), [this, f](Result<std::vector<OriginView>> all) {
      on_resource_origins(f, std::move(all));
    }));
  }

  void on_resource_origins(Flow* f, Result<std::vector<OriginView>> all) {
    if (!answered(f)) return;
    if (!all.ok()) {
      fail_flow(f, http_status_for(all.kind()),
                "registry look-up of origin " + f->origin_server + " (session " + f->session_id +
                    ") failed: " + all.error(),
                false);
      return drop_flow(f);
    }
    const OriginView* origin = nullptr;
    for (const OriginView& o : *all) {
      if (o.server == f->origin_server && !o.endpoints[int(Proto::api)].empty()) origin = &o;
    }
    if (!origin) {
      fail_flow(f, 502, "origin " + f->origin_server + " of the session is gone", false);
      return drop_flow(f);
    }
    const Endpoint& api_ep = origin->endpoints[int(Proto::api)].front();
    request_origin(f, endpoint_connect_host(api_ep, origin->ip), api_ep.port);
  }

  // ---- the origin request ----
  // A new flow for the client's request; it waits in `flows` for the
  // registry, then its origin (the client may leave meanwhile: on_close).
  Flow* attach(std::unique_ptr<Flow> flow, HttpConn& conn, const HttpRequestHead& req, std::string body) {
    Flow* raw = flow.get();
    raw->api = this;
    raw->client = &conn;
    raw->req = req;
    raw->body = std::move(body);
    by_client[&conn] = raw;
    flows.emplace(raw, std::move(flow));
    return raw;
  }

  // One request of a flow (in `flows`) to an origin; its end comes to
  // on_origin_done, at once for an address that cannot be used.
  void request_origin(Flow* f, const std::string& host, uint16_t port) {
    f->origin_desc = f->origin_server + " at " + host_port_text(host, port);
    OriginClient::Request r;
    r.host = host;
    r.port = port;
    r.method = f->req.method;
    r.target = f->target;
    r.host_header = host_port_text(host, port);
    r.headers.add("Via", via_append(f->req.headers.joined("Via"), proxy_id()));  // loop marker
    for (const char* name : {"Content-Type", "Authorization", "Accept", "If-Match", "User-Agent"}) {
      if (auto v = f->req.headers.get(name)) r.headers.add(name, std::string(*v));
    }
    r.body = f->body;
    SP_DEBUG(f->ctx, "webrtc api: %s %s from %s -> origin %s", r.method.c_str(), r.target.c_str(), f->peer.c_str(),
             f->origin_desc.c_str());
    server.bury(std::move(f->fetch));
    f->fetch = std::make_unique<OriginFetch>(base, f->ctx, kMaxOriginBody,
                                             [this, f](OriginFetch& done) { on_origin_done(f, done); });
    int64_t t = conf.module<HttpApiConf>().connect_timeout_ms;
    Status st = f->fetch->start(r, OriginClient::Timeouts{t, t});
    if (!st.ok()) {
      SP_WARN(f->ctx, "webrtc api: cannot send to origin %s: %s", f->origin_desc.c_str(), st.message().c_str());
      on_origin_done(f, *f->fetch);
    }
  }

  // Called from the fetch's own callback: the fetch is buried, not destroyed.
  void on_origin_done(Flow* f, OriginFetch& fetch) {
    // Passive health: an origin that did not answer the signalling request counts against it.
    int64_t now = monotonic_ms();
    bool answered = fetch.outcome() != OriginFetch::Outcome::kNoAnswer &&
                    fetch.outcome() != OriginFetch::Outcome::kPending;
    if (answered) {
      registry.report_success(f->origin_server, now);
    } else {
      registry.report_failure(f->origin_server, "webrtc signalling to " + f->origin_desc + ": no answer", now);
      SP_DEBUG(f->ctx, "webrtc api: origin %s: %s", f->origin_desc.c_str(), fetch.error().c_str());
    }
    if (!answered && retry_offer(f, now)) return;  // the flow goes on (or ended) with the registry's answer
    finish(f, fetch);
    drop_flow(f);
  }

  // An offer no origin answered (connect refused or failed, or the origin
  // closed without a response): sent to the origin the registry now picks
  // for the stream (the failed one is down, and an offer is not counted on
  // it before its answer), while connect_timeout from the request's start has
  // time left, up to 3 origins, never one already tried. True when the new
  // request is under way.
  bool retry_offer(Flow* f, int64_t now) {
    constexpr size_t kMaxOrigins = 3;  // origins one offer may try
    if (!f->offer || !f->client) return false;
    f->tried.push_back(f->origin_server);
    int64_t left = conf.module<HttpApiConf>().connect_timeout_ms - (now - f->start_ms);
    if (left <= 0 || f->tried.size() >= kMaxOrigins) return false;
    await(f, registry.pick(f->key, Proto::rtc, Proto::api, now,
                           [this, f](Result<Pick> pick) { on_retry_pick(f, std::move(pick)); }));
    return true;
  }

  void on_retry_pick(Flow* f, Result<Pick> pick) {
    if (!answered(f)) return;
    if (!pick.ok() || std::find(f->tried.begin(), f->tried.end(), pick->origin.server) != f->tried.end()) {
      if (!pick.ok()) {
        SP_DEBUG(f->ctx, "webrtc api: no other origin for %s: %s", f->key.c_str(), pick.error().c_str());
      }
      fail_flow(f, 502, "origin " + f->origin_desc + " did not answer (unreachable or timed out)", json_of(f));
      return drop_flow(f);
    }
    int64_t left = conf.module<HttpApiConf>().connect_timeout_ms - (monotonic_ms() - f->start_ms);
    const Endpoint& api_ep = pick->origin.endpoints[int(Proto::api)].front();
    std::string host = endpoint_connect_host(api_ep, pick->origin.ip);
    SP_WARN(f->ctx,
            "webrtc api: origin %s did not answer; %s %s from %s retried on origin %s at %s with %lld ms left",
            f->origin_desc.c_str(), rtc_action_name(f->action), f->key.c_str(), f->peer.c_str(),
            pick->origin.server.c_str(), host_port_text(host, api_ep.port).c_str(), (long long)left);
    f->origin_server = pick->origin.server;
    f->media_host = pick->host;
    f->media_port = pick->port;
    request_origin(f, host, api_ep.port);
  }

  void finish(Flow* f, OriginFetch& fetch) {
    if (!f->client) return;
    bool json = f->offer && rtc_action_is_json(f->action);
    switch (fetch.outcome()) {
      case OriginFetch::Outcome::kTooLarge:
        return fail_flow(f, 502,
                         "origin " + f->origin_desc + " answered with more than " +
                             std::to_string(kMaxOriginBody / 1024) + " KiB of body or " +
                             std::to_string(kMaxOriginHeaders / 1024) + " KiB of headers",
                         json);
      case OriginFetch::Outcome::kBroken:
        return fail_flow(f, 502, "origin " + f->origin_desc + " broke off its answer: " + fetch.error(), json);
      case OriginFetch::Outcome::kNoAnswer:
      case OriginFetch::Outcome::kPending:
        return fail_flow(f, 502, "origin " + f->origin_desc + " did not answer (unreachable or timed out)", json);
      case OriginFetch::Outcome::kAnswered:
        break;
    }
    const HttpResponseHead& head = fetch.head();
    int code = head.status;
    std::string ctype(head.headers.get("Content-Type").value_or(""));
    if (!f->offer) return finish_resource(f, head, ctype, fetch.body());
    if (code < 200 || code > 299) {
      SP_WARN(f->ctx, "webrtc api: %s for %s from %s: origin %s answered %d", rtc_action_name(f->action),
              f->key.c_str(), f->peer.c_str(), f->origin_desc.c_str(), code);
      HttpConn* c = take_client(f);
      return reply(*c, f->req, code, ctype, fetch.body());
    }
    finish_offer(f, head, ctype, fetch.body());
  }

  void finish_offer(Flow* f, const HttpResponseHead& head, const std::string& ctype, const std::string& body) {
    bool json = rtc_action_is_json(f->action);
    int code = head.status;
    std::string answer = body;
    JsonPtr j;
    if (json) {
      j.reset(cJSON_ParseWithLength(body.data(), body.size()));
      const cJSON* c = j ? cJSON_GetObjectItemCaseSensitive(j.get(), "code") : nullptr;
      if (!j || !cJSON_IsObject(j.get())) return fail_flow(f, 502, "origin answer is not JSON", true);
      if (cJSON_IsNumber(c) && c->valuedouble != 0) {  // SRS error
        HttpConn* client = take_client(f);
        return reply(*client, f->req, code, ctype, body);
      }
      const cJSON* sdp = cJSON_GetObjectItemCaseSensitive(j.get(), "sdp");
      if (!cJSON_IsString(sdp)) return fail_flow(f, 502, "origin answer has no \"sdp\"", true);
      answer = sdp->valuestring;
    }
    auto aufrag = sdp_ice_ufrag(answer);
    if (!aufrag.ok()) return fail_flow(f, 502, "origin answer unusable: " + aufrag.error(), json);
    auto rw = rewrite_answer_candidates(answer, f->candidate_host, f->candidate_port);
    if (!rw.ok()) return fail_flow(f, 502, "origin answer unusable: " + rw.error(), json);
    std::string sid = std::string(*aufrag) + ":" + f->offer_ufrag;
    RtcSessionData data;
    data.origin_host = f->media_host;
    data.origin_port = origin_media_port(answer, f->media_host, f->media_port);
    auto pwd = sdp_ice_pwd(answer);
    if (pwd.ok()) data.answer_pwd = std::string(*pwd);
    auto loc = head.headers.get("Location");
    if (loc) data.origin_resource = origin_resource_path(std::string(*loc), f->request_path);
    Status st = registry.put_session(SessionKind::rtc, sid, f->key, f->origin_server,
                                     encode_rtc_session_data(data, kSessionDataMax), monotonic_ms());
    if (!st.ok()) {
      return fail_flow(f, http_status_for(st.kind()), "cannot record the session: " + st.message(), json);
    }
    // The origin answered the offer: the stream's pin lasts.
    st = registry.confirm(f->key, f->origin_server, monotonic_ms());
    if (!st.ok()) SP_WARN(f->ctx, "webrtc stream %s not pinned: %s", f->key.c_str(), st.message().c_str());

    HttpHeaders out;
    if (loc) out.add("Location", proxy_location(data.origin_resource, sid, f->base_url));
    if (auto etag = head.headers.get("ETag")) out.add("ETag", std::string(*etag));
    std::string reply_body = rw->sdp;
    if (json) {
      cJSON_ReplaceItemInObjectCaseSensitive(j.get(), "sdp", cJSON_CreateString(rw->sdp.c_str()));
      if (!cJSON_GetObjectItemCaseSensitive(j.get(), "sessionid")) {
        cJSON_AddStringToObject(j.get(), "sessionid", sid.c_str());
      }
      JsonTextPtr text(cJSON_PrintUnformatted(j.get()));
      reply_body = text.get();
    }
    SP_INFO(f->ctx, "webrtc api: %s %s from %s via origin %s: %d, session %s, media %s:%u, candidate %s:%u "
            "(%d rewritten, %d dropped), %lldms", rtc_action_name(f->action), f->key.c_str(), f->peer.c_str(),
            f->origin_desc.c_str(), code, sid.c_str(), data.origin_host.c_str(), data.origin_port,
            f->candidate_host.c_str(), f->candidate_port, rw->rewritten, rw->dropped,
            (long long)(monotonic_ms() - f->start_ms));
    HttpConn* client = take_client(f);
    reply(*client, f->req, code, ctype.empty() ? (json ? "application/json" : "application/sdp") : ctype, reply_body,
          std::move(out));
  }

  void finish_resource(Flow* f, const HttpResponseHead& head, const std::string& ctype, const std::string& body) {
    int code = head.status;
    if (f->req.method == "DELETE" && code >= 200 && code <= 299) {
      // The owning worker's relay notices the record is gone and ends the session.
      registry.remove_session(SessionKind::rtc, f->session_id);
    }
    HttpHeaders out;
    if (auto etag = head.headers.get("ETag")) out.add("ETag", std::string(*etag));
    SP_INFO(f->ctx, "webrtc api: %s session %s (%s) from %s via origin %s: %d", f->req.method.c_str(),
            f->session_id.c_str(), f->key.c_str(), f->peer.c_str(), f->origin_desc.c_str(), code);
    HttpConn* client = take_client(f);
    reply(*client, f->req, code, ctype, body, std::move(out));
  }
};

RtcApi::RtcApi(event_base* base, const Config& conf, RegistryClient& registry, ConnectionLimiter& limiter)
    : impl_(std::make_unique<Impl>(base, conf, registry, limiter)) {}
RtcApi::~RtcApi() = default;
Status RtcApi::start(const ListenerSet& listeners) { return impl_->start(listeners); }
void RtcApi::stop_accepting() { impl_->server.stop_accepting(); }
size_t RtcApi::active_requests() const { return impl_->flows.size(); }
size_t RtcApi::waiting_for_registry() const {
  size_t n = 0;
  for (const auto& [f, flow] : impl_->flows) n += flow->call.pending() ? 1 : 0;
  return n;
}

}  // namespace sp
