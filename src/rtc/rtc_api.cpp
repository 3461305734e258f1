// WebRTC signalling through the proxy: see rtc_api.h. Server side and origin
// client are libevent's evhttp (signalling is one request, one response).
#include "rtc/rtc_api.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

#include "build_info.h"
#include "core/accept_backoff.h"
#include "core/clock.h"
#include "core/event_ptr.h"
#include "core/evhttp_deadline.h"
#include "core/json_ptr.h"
#include "core/evhttp_names.h"
#include "core/log.h"
#include "core/proxy_loop.h"
#include "http/http_error.h"
#include "http/query.h"
#include "registry/stream_key.h"
#include "rtc/sdp.h"
#include "rtc/signaling.h"

namespace sp {

namespace {

constexpr size_t kMaxBody = 256 * 1024;  // SDP offers are a few KB
// What the proxy reads of an origin's answer (an SDP answer is a few KB):
// without it one answer could make the worker buffer without end.
constexpr size_t kMaxOriginHeaders = 16 * 1024;
constexpr size_t kMaxOriginBody = 256 * 1024;

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

std::string body_of(evhttp_request* req) {
  evbuffer* in = evhttp_request_get_input_buffer(req);
  size_t len = evbuffer_get_length(in);
  if (len == 0) return {};
  return std::string(reinterpret_cast<const char*>(evbuffer_pullup(in, -1)), len);
}

const char* header(evhttp_request* req, const char* name) {
  return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

// Every Via line of the request, joined by ", " (RFC 9110 section 5.3).
std::string via_of(evhttp_request* req) {
  std::string via;
  evkeyvalq* in = evhttp_request_get_input_headers(req);
  for (evkeyval* kv = in ? in->tqh_first : nullptr; kv; kv = kv->next.tqe_next) {
    if (evutil_ascii_strcasecmp(kv->key, "Via") != 0) continue;
    if (!via.empty()) via += ", ";
    via += kv->value;
  }
  return via;
}

std::string peer_of(evhttp_request* req) {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  const sockaddr* sa = conn ? evhttp_connection_get_addr(conn) : nullptr;
  if (!sa) return "unknown";
  return SockAddr::from(sa, sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)).to_string();
}

// The local address the client used for this request (getsockname).
std::string local_host_of(evhttp_request* req) {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  bufferevent* bev = conn ? evhttp_connection_get_bufferevent(conn) : nullptr;
  int fd = bev ? int(bufferevent_getfd(bev)) : -1;
  if (fd < 0) return {};
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  SockAddr a = SockAddr::from(reinterpret_cast<sockaddr*>(&ss), len);
  std::string host = a.host_string();
  if (host.starts_with("::ffff:")) host = host.substr(7);  // v4-mapped
  if (host == "0.0.0.0" || host == "::") return {};
  return host;
}

const char* reason_for(int code) {
  switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 508: return "Loop Detected";
  }
  return "";
}

}  // namespace

struct RtcApi::Impl {
  // One signalling request waiting for the origin.
  struct Flow {
    Impl* api = nullptr;
    std::string ctx, peer;
    evhttp_request* client = nullptr;  // null once the client went away
    bool offer = true;                 // offer (POST) or resource request (DELETE/PATCH)
    RtcAction action = RtcAction::whip;
    evhttp_cmd_type method = EVHTTP_REQ_POST;
    std::string key, offer_ufrag, request_path, base_url, origin_server, origin_desc;
    std::string media_host, session_id;  // media_host: origin rtc host
    uint16_t media_port = 0;
    std::string candidate_host;
    uint16_t candidate_port = 0;
    int64_t start_ms = 0;
    bool answer_too_large = false;  // the origin's answer passed kMaxOriginHeaders/Body
    evhttp_connection* origin_conn = nullptr;  // the current attempt's (freed on completion)
    std::vector<std::string> tried;  // origins that did not answer this offer (retry_offer)
    int attempt = 0;                 // origin requests made for it so far
  };

  event_base* base;
  const Config& conf;
  Registry& registry;
  // Declared before the evhttps: they are freed first and tell it so.
  EvhttpDeadlines deadlines;
  EvHttpPtr plain, tls;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ssl_ctx;
  std::vector<std::pair<evhttp*, evhttp_bound_socket*>> bound;
  std::unordered_map<Flow*, std::unique_ptr<Flow>> flows;
  // One per bound socket; declared last, so destroyed before the evhttps.
  std::vector<std::unique_ptr<AcceptBackoff>> backoffs;

  Impl(event_base* b, const Config& c, Registry& r, ConnectionLimiter& limiter)
      : base(b), conf(c), registry(r), deadlines(b, c.http_api.idle_timeout_ms, "http_api", &limiter) {}
  ~Impl() {
    // evhttp_free closes client connections and would call on_client_closed.
    for (auto& [raw, flow] : flows) detach_client(raw);
  }

  // ---- set-up ----
  EvHttpPtr new_http() {
    EvHttpPtr h(evhttp_new(base));
    if (!h) return h;
    evhttp_set_max_body_size(h.get(), kMaxBody);
    evhttp_set_max_headers_size(h.get(), 16 * 1024);
    timeval tv = ms_to_timeval(conf.http_api.idle_timeout_ms);
    evhttp_set_timeout_tv(h.get(), &tv);
    evhttp_set_allowed_methods(h.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h.get(), on_request, this);
    deadlines.attach(h.get());  // slowloris: a whole request within idle_timeout
    return h;
  }

  std::string conf_path(const std::string& p) const {
    if (p.empty() || p.front() == '/' || conf.prefix.empty()) return p;
    return conf.prefix + "/" + p;
  }

  Status init_tls() {
    if (conf.http_api.ssl_certificate.empty() || conf.http_api.ssl_certificate_key.empty()) {
      return Status::Error("http_api: \"listen ... ssl\" needs ssl_certificate and ssl_certificate_key");
    }
    ssl_ctx.reset(SSL_CTX_new(TLS_server_method()));
    if (!ssl_ctx) return Status::Error("http_api: SSL_CTX_new failed");
    std::string cert = conf_path(conf.http_api.ssl_certificate), key = conf_path(conf.http_api.ssl_certificate_key);
    if (SSL_CTX_use_certificate_chain_file(ssl_ctx.get(), cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ssl_ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
      char err[256];
      ERR_error_string_n(ERR_get_error(), err, sizeof(err));
      return Status::Error("http_api: cannot load " + cert + " / " + key + ": " + err);
    }
    tls = new_http();
    if (!tls) return Status::Error("http_api: evhttp_new failed");
    deadlines.attach(tls.get(), on_new_tls_connection, this);  // its bufferevents are TLS ones
    return Status::Ok();
  }

  static bufferevent* on_new_tls_connection(event_base* b, void* arg) {
    auto* im = static_cast<Impl*>(arg);
    SSL* ssl = SSL_new(im->ssl_ctx.get());
    if (!ssl) return nullptr;
    return bufferevent_openssl_socket_new(b, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
  }

  Status start(const ListenerSet& set) {
    for (const Listener& l : set.items()) {
      if (l.kind != ListenerKind::http_api) continue;
      evhttp* h = nullptr;
      if (l.conf.ssl) {
        if (!tls) {
          Status st = init_tls();
          if (!st.ok()) return st;
        }
        h = tls.get();
      } else {
        if (!plain) plain = new_http();
        if (!plain) return Status::Error("http_api: evhttp_new failed");
        h = plain.get();
      }
      int own = fcntl(l.fd, F_DUPFD_CLOEXEC, 0);  // evhttp closes what it is given
      if (own < 0) return Status::Error(std::string("http_api: dup of listener failed: ") + strerror(errno));
      fcntl(own, F_SETFL, fcntl(own, F_GETFL) | O_NONBLOCK);
      evhttp_bound_socket* b = evhttp_accept_socket_with_handle(h, own);
      if (!b) {
        close(own);
        return Status::Error("http_api: cannot accept on " + l.conf.text);
      }
      bound.emplace_back(h, b);
      backoffs.push_back(std::make_unique<AcceptBackoff>(base, evhttp_bound_socket_get_listener(b), "http_api"));
    }
    return Status::Ok();
  }

  void stop_accepting() {
    backoffs.clear();  // before the listeners they guard
    for (auto& [h, b] : bound) evhttp_del_accept_socket(h, b);
    bound.clear();
  }

  // ---- replies ----
  void add_cors(evhttp_request* req) {
    if (!conf.http_api.cors) return;
    evkeyvalq* out = evhttp_request_get_output_headers(req);
    const char* origin = header(req, "Origin");
    evhttp_add_header(out, "Access-Control-Allow-Origin", origin ? origin : "*");
    if (origin) evhttp_add_header(out, "Vary", "Origin");
    evhttp_add_header(out, "Access-Control-Allow-Methods", "GET, POST, DELETE, PATCH, OPTIONS");
    const char* asked = header(req, "Access-Control-Request-Headers");
    evhttp_add_header(out, "Access-Control-Allow-Headers",
                      asked ? asked : "Content-Type, Authorization, If-Match, Origin, Accept");
    evhttp_add_header(out, "Access-Control-Expose-Headers", "Location, ETag, Link, Content-Type");
    evhttp_add_header(out, "Access-Control-Max-Age", "86400");
  }

  void reply(evhttp_request* req, int code, const char* reason, const std::string& content_type,
             const std::string& body) {
    add_cors(req);
    evkeyvalq* out = evhttp_request_get_output_headers(req);
    if (!content_type.empty()) evhttp_add_header(out, "Content-Type", content_type.c_str());
    evhttp_add_header(out, "Server", "srs-proxy/" SP_VERSION);
    evbuffer* buf = evbuffer_new();
    evbuffer_add(buf, body.data(), body.size());
    evhttp_send_reply(req, code, reason && *reason ? reason : reason_for(code), buf);
    evbuffer_free(buf);
  }

  // Errors: JSON for the SRS JSON API, text for WHIP/WHEP (RFC 9725 leaves it open).
  void fail(evhttp_request* req, const std::string& ctx, int code, const std::string& why, bool json) {
    SP_WARN(ctx, "webrtc api: %s %s from %s refused with %d: %s",
            evhttp_method_name(evhttp_request_get_command(req)), evhttp_request_get_uri(req), peer_of(req).c_str(), code,
            why.c_str());
    if (json) {
      JsonPtr j(cJSON_CreateObject());
      cJSON_AddNumberToObject(j.get(), "code", code);
      cJSON_AddStringToObject(j.get(), "error", why.c_str());
      JsonTextPtr text(cJSON_PrintUnformatted(j.get()));
      reply(req, code, nullptr, "application/json", text.get());
    } else {
      reply(req, code, nullptr, "text/plain; charset=utf-8", why + "\n");
    }
  }

  // ---- routing ----
  static void on_request(evhttp_request* req, void* arg) {
    auto* im = static_cast<Impl*>(arg);
    im->deadlines.on_request(req);
    im->serve(req);
  }

  void serve(evhttp_request* req) {
    std::string ctx = new_context_id();
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
    std::string path = uri && evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : "/";
    std::string query = uri && evhttp_uri_get_query(uri) ? evhttp_uri_get_query(uri) : "";
    evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method == EVHTTP_REQ_OPTIONS) return reply(req, 200, nullptr, "", "");
    std::string trimmed = path;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    if (trimmed == "/api/v1/versions") {
      if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) return method_not_allowed(req, ctx, "GET, HEAD");
      return reply(req, 200, nullptr, "application/json",
                   "{\"code\":0,\"server\":\"srs-proxy\",\"version\":\"" SP_VERSION "\"}");
    }
    if (!is_rtc_resource_path(path)) return fail(req, ctx, 404, "no such API: " + path, false);
    // Proxy loop (core/proxy_loop.h): a request that already passed through
    // this proxy is refused before it costs another origin request.
    if (std::string via = via_of(req); via_lists_proxy(via, proxy_id())) {
      auto t = parse_rtc_target(path, query);
      bool json = method == EVHTTP_REQ_POST && t.ok() && rtc_action_is_json(t->action);
      return fail(req, ctx, 508, "proxy loop: this request already passed through " + proxy_via_name(proxy_id()) +
                  " (Via: " + via + ")", json);
    }
    if (method == EVHTTP_REQ_DELETE || method == EVHTTP_REQ_PATCH) return start_resource(req, ctx, path, query);
    auto target = parse_rtc_target(path, query);
    if (method != EVHTTP_REQ_POST) return method_not_allowed(req, ctx, "POST, DELETE, PATCH, OPTIONS");
    if (!target.ok()) return fail(req, ctx, http_status_for(target.kind()), target.error(), false);
    start_offer(req, ctx, *target, path, query);
  }

  void method_not_allowed(evhttp_request* req, const std::string& ctx, const char* allow) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
    fail(req, ctx, 405, std::string("method ") + evhttp_method_name(evhttp_request_get_command(req)) + " not allowed", false);
  }

  // ---- offers ----
  void start_offer(evhttp_request* req, const std::string& ctx, const RtcTarget& target, const std::string& path,
                   const std::string& query) {
    bool json = rtc_action_is_json(target.action);
    std::string body = body_of(req);
    std::string offer;
    Result<std::string> key = Result<std::string>::Error("");
    const char* host_header = header(req, "Host");
    std::string host = host_header ? host_header : "";
    if (json) {
      JsonPtr j(cJSON_ParseWithLength(body.data(), body.size()));
      if (!j || !cJSON_IsObject(j.get())) return fail(req, ctx, 400, "body is not a JSON object", true);
      const cJSON* sdp = cJSON_GetObjectItemCaseSensitive(j.get(), "sdp");
      const cJSON* url = cJSON_GetObjectItemCaseSensitive(j.get(), "streamurl");
      if (!cJSON_IsString(sdp)) return fail(req, ctx, 400, "missing \"sdp\" string", true);
      if (!cJSON_IsString(url)) return fail(req, ctx, 400, "missing \"streamurl\" string", true);
      offer = sdp->valuestring;
      auto su = parse_stream_url(url->valuestring);
      if (!su.ok()) return fail(req, ctx, http_status_for(su.kind()), su.error(), true);
      key = make_stream_key(su->host, su->app, su->stream, su->query);
    } else {
      offer = body;
      key = make_stream_key(host, target.app, target.stream, query);
    }
    if (!key.ok()) return fail(req, ctx, http_status_for(key.kind()), "bad stream: " + key.error(), json);
    auto ufrag = sdp_ice_ufrag(offer);
    if (!ufrag.ok()) return fail(req, ctx, http_status_for(ufrag.kind()), "bad offer: " + ufrag.error(), json);
    if (conf.webrtc.listen.empty()) return fail(req, ctx, 503, "no webrtc listener configured for media", json);

    auto pick = registry.pick(*key, Proto::rtc, Proto::api, monotonic_ms());
    if (!pick.ok()) return fail(req, ctx, http_status_for(pick.kind()), pick.error(), json);
    const Endpoint& api_ep = pick->origin.endpoints[int(Proto::api)].front();

    auto flow = std::make_unique<Flow>();
    flow->api = this;
    flow->ctx = ctx;
    flow->peer = peer_of(req);
    flow->client = req;
    flow->offer = true;
    flow->action = target.action;
    flow->method = EVHTTP_REQ_POST;
    flow->key = *key;
    flow->offer_ufrag = std::string(*ufrag);
    flow->request_path = path;
    flow->base_url = host.empty() ? "" : std::string(tls && is_tls_request(req) ? "https://" : "http://") + host;
    flow->origin_server = pick->origin.server;
    flow->media_host = pick->host;
    flow->media_port = pick->port;
    flow->candidate_host = conf.webrtc.candidate;
    if (flow->candidate_host.empty()) flow->candidate_host = local_host_of(req);
    if (flow->candidate_host.empty()) {
      std::string h = conf.webrtc.listen.front().addr.host_string();
      flow->candidate_host = (h == "0.0.0.0" || h == "::") ? "127.0.0.1" : h;
    }
    flow->candidate_port = conf.webrtc.listen.front().addr.port();
    flow->start_ms = monotonic_ms();
    send_to_origin(std::move(flow), endpoint_connect_host(api_ep, pick->origin.ip), api_ep.port, req, body);
  }

  bool is_tls_request(evhttp_request* req) const {
    evhttp_connection* conn = evhttp_request_get_connection(req);
    bufferevent* bev = conn ? evhttp_connection_get_bufferevent(conn) : nullptr;
    return bev && bufferevent_openssl_get_ssl(bev) != nullptr;
  }

  // ---- DELETE / PATCH on a resource URL ----
  void start_resource(evhttp_request* req, const std::string& ctx, const std::string& path, const std::string& query) {
    auto sid = query_param(query, "spsid");
    if (!sid || sid->empty()) {
      return fail(req, ctx, 404, "not a resource of this proxy (no spsid= in the URL)", false);
    }
    int64_t now = monotonic_ms();
    auto rec = registry.get_session(SessionKind::rtc, *sid, now);
    if (!rec.ok()) return fail(req, ctx, http_status_for(rec.kind()), "session " + *sid + " unknown or ended", false);
    auto data = decode_rtc_session_data(rec->data);
    if (!data.ok()) return fail(req, ctx, http_status_for(data.kind()), data.error(), false);
    const OriginView* origin = nullptr;
    auto all = registry.origins(now);
    for (const OriginView& o : all) {
      if (o.server == rec->origin_server && !o.endpoints[int(Proto::api)].empty()) origin = &o;
    }
    if (!origin) return fail(req, ctx, 502, "origin " + rec->origin_server + " of the session is gone", false);
    const Endpoint& api_ep = origin->endpoints[int(Proto::api)].front();
    auto flow = std::make_unique<Flow>();
    flow->api = this;
    flow->ctx = ctx;
    flow->peer = peer_of(req);
    flow->client = req;
    flow->offer = false;
    flow->method = evhttp_request_get_command(req);
    flow->key = rec->stream_key;
    flow->session_id = *sid;
    flow->origin_server = origin->server;
    flow->start_ms = now;
    std::string target = data->origin_resource;
    if (target.empty()) {
      std::string q = query_without_param(query, "spsid");
      target = q.empty() ? path : path + "?" + q;
    }
    send_to_origin(std::move(flow), endpoint_connect_host(api_ep, origin->ip), api_ep.port, req, body_of(req),
                   target);
  }

  // ---- the origin request ----
  void send_to_origin(std::unique_ptr<Flow> flow, const std::string& host, uint16_t port, evhttp_request* req,
                      const std::string& body, std::string target = {}) {
    Flow* raw = flow.get();
    // The client may leave before the origin answers.
    deadlines.set_close_hook(evhttp_request_get_connection(req), on_client_closed, raw);
    flows.emplace(raw, std::move(flow));
    request_origin(raw, host, port, req, body, std::move(target));
  }

  // One request of a flow (in `flows`) to an origin; on failure the client
  // is answered and the flow ends.
  void request_origin(Flow* raw, const std::string& host, uint16_t port, evhttp_request* req, const std::string& body,
                      std::string target) {
    if (target.empty()) target = evhttp_request_get_uri(req);
    raw->origin_desc = raw->origin_server + " at " + host + ":" + std::to_string(port);
    int attempt = ++raw->attempt;
    evhttp_connection* conn = evhttp_connection_base_new(base, nullptr, host.c_str(), port);
    if (!conn) {
      detach_client(raw);
      fail(req, raw->ctx, 502, "cannot connect to origin " + raw->origin_desc,
           raw->offer && rtc_action_is_json(raw->action));
      flows.erase(raw);
      return;
    }
    timeval tv = ms_to_timeval(conf.http_api.connect_timeout_ms);
    evhttp_connection_set_timeout_tv(conn, &tv);
    evhttp_connection_set_retries(conn, 0);
    evhttp_connection_set_max_headers_size(conn, kMaxOriginHeaders);
    evhttp_connection_set_max_body_size(conn, kMaxOriginBody);
    evhttp_connection_free_on_completion(conn);
    raw->origin_conn = conn;
    evhttp_request* oreq = evhttp_request_new(on_origin_response, raw);
    evhttp_request_set_error_cb(oreq, on_origin_error);
    evkeyvalq* h = evhttp_request_get_output_headers(oreq);
    std::string host_port = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
    evhttp_add_header(h, "Host", host_port.c_str());
    evhttp_add_header(h, "Connection", "close");
    evhttp_add_header(h, "Via", via_append(via_of(req), proxy_id()).c_str());  // loop marker
    for (const char* name : {"Content-Type", "Authorization", "Accept", "If-Match", "User-Agent"}) {
      if (const char* v = header(req, name)) evhttp_add_header(h, name, v);
    }
    evbuffer_add(evhttp_request_get_output_buffer(oreq), body.data(), body.size());
    SP_DEBUG(raw->ctx, "webrtc api: %s %s from %s -> origin %s", evhttp_method_name(raw->method), target.c_str(),
             raw->peer.c_str(), raw->origin_desc.c_str());
    if (evhttp_make_request(conn, oreq, raw->method, target.c_str()) != 0) {
      // A synchronous connect failure may already have run on_origin_response
      // (which may have ended the flow, or retried it on another origin).
      if (flows.find(raw) == flows.end() || raw->attempt != attempt) return;
      detach_client(raw);
      fail(req, raw->ctx, 502, "cannot send to origin " + raw->origin_desc, raw->offer && rtc_action_is_json(raw->action));
      flows.erase(raw);
    }
  }

  static void on_client_closed(evhttp_connection*, void* arg) {
    auto* f = static_cast<Flow*>(arg);
    SP_INFO(f->ctx, "webrtc api: client %s left before the origin answered", f->peer.c_str());
    f->client = nullptr;
  }

  void detach_client(Flow* f) {
    if (!f->client) return;
    evhttp_connection* c = evhttp_request_get_connection(f->client);
    if (c) deadlines.set_close_hook(c, nullptr, nullptr);
  }

  static void on_origin_error(evhttp_request_error error, void* arg) {
    if (error == EVREQ_HTTP_DATA_TOO_LONG) static_cast<Flow*>(arg)->answer_too_large = true;
  }

  static void on_origin_response(evhttp_request* oreq, void* arg) {
    auto* f = static_cast<Flow*>(arg);
    Impl* im = f->api;
    im->free_failed_connect(oreq, f);
    // Passive health: an origin that did not answer the signalling request counts against it.
    int64_t now = monotonic_ms();
    bool answered = oreq && evhttp_request_get_response_code(oreq) != 0;
    if (answered) im->registry.report_success(f->origin_server, now);
    else im->registry.report_failure(f->origin_server, "webrtc signalling to " + f->origin_desc + ": no answer", now);
    if (!answered && im->retry_offer(f, now)) return;  // the flow goes on with another origin
    im->finish(f, oreq);
    im->flows.erase(f);
  }

  // libevent 2.1 runs the callback of a request whose connect failed (refused,
  // connect timeout) with the request already detached from its connection
  // and no response, and then leaves that connection alive although it was
  // set to free on completion. Free it once this callback has returned (the
  // connection is still on libevent's stack now). A request that failed
  // later (oreq NULL) or completed has its connection freed by libevent.
  void free_failed_connect(evhttp_request* oreq, Flow* f) {
    evhttp_connection* conn = f->origin_conn;
    f->origin_conn = nullptr;
    if (!conn || !oreq || evhttp_request_get_connection(oreq) || evhttp_request_get_response_code(oreq) != 0) return;
    timeval now{0, 0};
    event_base_once(base, -1, EV_TIMEOUT,
                    [](evutil_socket_t, short, void* c) { evhttp_connection_free(static_cast<evhttp_connection*>(c)); },
                    conn, &now);
  }

  // An offer no origin answered (connect refused or failed, or the origin
  // closed without a response): sent to the origin the registry now picks
  // for the stream (the failed one is down, and an offer is not counted on
  // it before its answer), while connect_timeout from the request's start has
  // time left, up to 3 origins, never one already tried. True when the new
  // request is under way (or failed and answered the client).
  bool retry_offer(Flow* f, int64_t now) {
    constexpr size_t kMaxOrigins = 3;  // origins one offer may try
    if (!f->offer || !f->client || f->answer_too_large) return false;
    f->tried.push_back(f->origin_server);
    int64_t left = conf.http_api.connect_timeout_ms - (now - f->start_ms);
    if (left <= 0 || f->tried.size() >= kMaxOrigins) return false;
    auto pick = registry.pick(f->key, Proto::rtc, Proto::api, now);
    if (!pick.ok() || std::find(f->tried.begin(), f->tried.end(), pick->origin.server) != f->tried.end()) return false;
    const Endpoint& api_ep = pick->origin.endpoints[int(Proto::api)].front();
    std::string host = endpoint_connect_host(api_ep, pick->origin.ip);
    SP_WARN(f->ctx,
            "webrtc api: origin %s did not answer; %s %s from %s retried on origin %s at %s:%u with %lld ms left",
            f->origin_desc.c_str(), rtc_action_name(f->action), f->key.c_str(), f->peer.c_str(),
            pick->origin.server.c_str(), host.c_str(), unsigned(api_ep.port), (long long)left);
    f->origin_server = pick->origin.server;
    f->media_host = pick->host;
    f->media_port = pick->port;
    request_origin(f, host, api_ep.port, f->client, body_of(f->client), {});
    return true;
  }

  void finish(Flow* f, evhttp_request* oreq) {
    if (!f->client) return;
    evhttp_request* req = f->client;
    detach_client(f);
    bool json = f->offer && rtc_action_is_json(f->action);
    int code = oreq ? evhttp_request_get_response_code(oreq) : 0;
    if (f->answer_too_large) {
      return fail(req, f->ctx, 502,
                  "origin " + f->origin_desc + " answered with more than " + std::to_string(kMaxOriginBody / 1024) +
                      " KiB of body or " + std::to_string(kMaxOriginHeaders / 1024) + " KiB of headers",
                  json);
    }
    if (code == 0) {
      return fail(req, f->ctx, 502, "origin " + f->origin_desc + " did not answer (unreachable or timed out)", json);
    }
    std::string body = body_of(oreq);
    const char* ctype = evhttp_find_header(evhttp_request_get_input_headers(oreq), "Content-Type");
    const char* reason = evhttp_request_get_response_code_line(oreq);
    if (!f->offer) return finish_resource(f, req, oreq, code, reason, ctype ? ctype : "", body);
    if (code < 200 || code > 299) {
      SP_WARN(f->ctx, "webrtc api: %s for %s from %s: origin %s answered %d", rtc_action_name(f->action),
              f->key.c_str(), f->peer.c_str(), f->origin_desc.c_str(), code);
      return reply(req, code, reason, ctype ? ctype : "", body);
    }
    finish_offer(f, req, oreq, code, reason, ctype ? ctype : "", body);
  }

  void finish_offer(Flow* f, evhttp_request* req, evhttp_request* oreq, int code, const char* reason,
                    const std::string& ctype, const std::string& body) {
    bool json = rtc_action_is_json(f->action);
    std::string answer = body;
    JsonPtr j;
    if (json) {
      j.reset(cJSON_ParseWithLength(body.data(), body.size()));
      const cJSON* c = j ? cJSON_GetObjectItemCaseSensitive(j.get(), "code") : nullptr;
      if (!j || !cJSON_IsObject(j.get())) return fail(req, f->ctx, 502, "origin answer is not JSON", true);
      if (cJSON_IsNumber(c) && c->valuedouble != 0) return reply(req, code, reason, ctype, body);  // SRS error
      const cJSON* sdp = cJSON_GetObjectItemCaseSensitive(j.get(), "sdp");
      if (!cJSON_IsString(sdp)) return fail(req, f->ctx, 502, "origin answer has no \"sdp\"", true);
      answer = sdp->valuestring;
    }
    auto aufrag = sdp_ice_ufrag(answer);
    if (!aufrag.ok()) return fail(req, f->ctx, 502, "origin answer unusable: " + aufrag.error(), json);
    auto rw = rewrite_answer_candidates(answer, f->candidate_host, f->candidate_port);
    if (!rw.ok()) return fail(req, f->ctx, 502, "origin answer unusable: " + rw.error(), json);
    std::string sid = std::string(*aufrag) + ":" + f->offer_ufrag;
    RtcSessionData data;
    data.origin_host = f->media_host;
    data.origin_port = origin_media_port(answer, f->media_host, f->media_port);
    auto pwd = sdp_ice_pwd(answer);
    if (pwd.ok()) data.answer_pwd = std::string(*pwd);
    const char* loc = evhttp_find_header(evhttp_request_get_input_headers(oreq), "Location");
    if (loc) data.origin_resource = origin_resource_path(loc, f->request_path);
    Status st = registry.put_session(SessionKind::rtc, sid, f->key, f->origin_server,
                                     encode_rtc_session_data(data, kSessionDataMax), monotonic_ms());
    if (!st.ok()) {
      return fail(req, f->ctx, http_status_for(st.kind()), "cannot record the session: " + st.message(), json);
    }
    // The origin answered the offer: the stream's pin lasts.
    st = registry.confirm(f->key, f->origin_server, monotonic_ms());
    if (!st.ok()) SP_WARN(f->ctx, "webrtc stream %s not pinned: %s", f->key.c_str(), st.message().c_str());

    evkeyvalq* out = evhttp_request_get_output_headers(req);
    if (loc) {
      std::string mine = proxy_location(data.origin_resource, sid, f->base_url);
      evhttp_add_header(out, "Location", mine.c_str());
    }
    if (const char* etag = evhttp_find_header(evhttp_request_get_input_headers(oreq), "ETag")) {
      evhttp_add_header(out, "ETag", etag);
    }
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
    reply(req, code, reason, ctype.empty() ? (json ? "application/json" : "application/sdp") : ctype, reply_body);
  }

  void finish_resource(Flow* f, evhttp_request* req, evhttp_request* oreq, int code, const char* reason,
                       const std::string& ctype, const std::string& body) {
    if (f->method == EVHTTP_REQ_DELETE && code >= 200 && code <= 299) {
      // The owning worker's relay notices the record is gone and ends the session.
      registry.remove_session(SessionKind::rtc, f->session_id);
    }
    if (const char* etag = evhttp_find_header(evhttp_request_get_input_headers(oreq), "ETag")) {
      evhttp_add_header(evhttp_request_get_output_headers(req), "ETag", etag);
    }
    SP_INFO(f->ctx, "webrtc api: %s session %s (%s) from %s via origin %s: %d", evhttp_method_name(f->method),
            f->session_id.c_str(), f->key.c_str(), f->peer.c_str(), f->origin_desc.c_str(), code);
    reply(req, code, reason, ctype, body);
  }
};

RtcApi::RtcApi(event_base* base, const Config& conf, Registry& registry, ConnectionLimiter& limiter)
    : impl_(std::make_unique<Impl>(base, conf, registry, limiter)) {}
RtcApi::~RtcApi() = default;
Status RtcApi::start(const ListenerSet& listeners) { return impl_->start(listeners); }
void RtcApi::stop_accepting() { impl_->stop_accepting(); }
size_t RtcApi::active_requests() const { return impl_->flows.size(); }

}  // namespace sp
