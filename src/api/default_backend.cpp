// The default backend module (see default_backend.h): directives of the
// `default_backend { }` block, its PROXY_DEFAULT_BACKEND_* overrides, its
// checks (an address one can connect to, not this proxy itself) and the API
// worker's service that keeps it registered.
#include "api/default_backend.h"

#include "api/self_loop.h"
#include "core/clock.h"
#include "core/event_ptr.h"
#include "core/log.h"
#include "module/module.h"
#include "registry/endpoint.h"

namespace sp {

namespace {

constexpr int64_t kRefreshMs = 30 * 1000;

const Directive kDefaultBackendDirectives[] = {
    {"default_backend", kCtxMain, 0, 0, kCtxDefaultBackend, false, nullptr, "default_backend { ... }", "",
     "An origin registered by the proxy itself and kept alive (for single-origin setups and debugging)."},
    {"enabled", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_flag(d, &c.module<DefaultBackendConf>().enabled); },
     "enabled on|off;", "off", "Register the default backend at start and refresh it every 30 seconds."},
    {"ip", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.module<DefaultBackendConf>().ip); }, "ip ADDRESS;",
     "127.0.0.1", "Address of the default backend."},
    {"rtmp", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.module<DefaultBackendConf>().rtmp); },
     "rtmp ENDPOINT;", "1935", "Its RTMP endpoint."},
    {"http", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.module<DefaultBackendConf>().http); },
     "http ENDPOINT;", "", "Its HTTP stream endpoint (HTTP-FLV, HLS)."},
    {"api", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.module<DefaultBackendConf>().api); },
     "api ENDPOINT;", "", "Its HTTP API endpoint (WHIP/WHEP signalling)."},
    {"rtc", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.module<DefaultBackendConf>().rtc); },
     "rtc ENDPOINT;", "", "Its WebRTC UDP endpoint."},
    {"srt", kCtxDefaultBackend, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.module<DefaultBackendConf>().srt); },
     "srt ENDPOINT;", "", "Its SRT UDP endpoint."},
};

template <std::string DefaultBackendConf::*Field>
Status set_env(Config& c, const std::string& v) {
  c.module<DefaultBackendConf>().*Field = v;
  return Status::Ok();
}

const EnvOverride kDefaultBackendEnvironment[] = {
    {"PROXY_DEFAULT_BACKEND_ENABLED",
     [](Config& c, const std::string& v) {
       auto f = parse_flag(v);
       if (!f.ok()) return f.status();
       c.module<DefaultBackendConf>().enabled = *f;
       return Status::Ok();
     },
     "default_backend { enabled }"},
    {"PROXY_DEFAULT_BACKEND_IP", set_env<&DefaultBackendConf::ip>, "default_backend { ip }"},
    {"PROXY_DEFAULT_BACKEND_RTMP", set_env<&DefaultBackendConf::rtmp>, "default_backend { rtmp }"},
    {"PROXY_DEFAULT_BACKEND_HTTP", set_env<&DefaultBackendConf::http>, "default_backend { http }"},
    {"PROXY_DEFAULT_BACKEND_API", set_env<&DefaultBackendConf::api>, "default_backend { api }"},
    {"PROXY_DEFAULT_BACKEND_RTC", set_env<&DefaultBackendConf::rtc>, "default_backend { rtc }"},
    {"PROXY_DEFAULT_BACKEND_SRT", set_env<&DefaultBackendConf::srt>, "default_backend { srt }"},
};

Status validate_default_backend(Config& conf) {
  const DefaultBackendConf& c = conf.module<DefaultBackendConf>();
  if (!c.enabled) return Status::Ok();
  const std::pair<const char*, const std::string*> eps[] = {
      {"rtmp", &c.rtmp}, {"http", &c.http}, {"api", &c.api}, {"rtc", &c.rtc}, {"srt", &c.srt}};
  if (c.rtmp.empty()) return Status::Error("default_backend needs an rtmp endpoint");
  OriginSpec backend;
  backend.ip = c.ip;
  for (const auto& [name, value] : eps) {
    if (value->empty()) continue;
    auto ep = parse_endpoint(*value);
    if (!ep.ok()) return Status::Error("default_backend " + std::string(name) + ": " + ep.error());
    for (int p = 0; p < kProtoCount; p++) {
      if (std::string_view(proto_name(Proto(p))) == name) backend.endpoints[p].push_back(*ep);
    }
  }
  auto ip = make_sock_addr(c.ip, 1);
  if (!ip.ok()) return Status::Error("default_backend ip: " + ip.error());
  // The same rule as a registration's ip: an address one can connect to.
  if (Status host = check_connectable_host(ip->host_string()); !host.ok()) {
    return Status::Error("default_backend ip \"" + c.ip + "\" " + host.message());
  }
  // A backend that is this proxy (PROXY_DEFAULT_BACKEND_RTMP=1935 next to
  // PROXY_RTMP_SERVER=1935) would relay every client to itself.
  Status loop = check_self_loop(backend, own_listeners(conf), host_addresses());
  if (!loop.ok()) return Status::Error("default_backend: " + loop.message());
  return Status::Ok();
}

// Registers the backend at start and every kRefreshMs, until stop.
class DefaultBackendService final : public Service {
 public:
  explicit DefaultBackendService(WorkerContext& ctx)
      : base_(ctx.base), conf_(ctx.conf.module<DefaultBackendConf>()), registry_(ctx.registry_client) {}

  Status start(WorkerContext&) {
    if (!conf_.enabled) return Status::Ok();
    refresh(-1, 0, this);
    timer_.reset(event_new(base_, -1, EV_PERSIST, &DefaultBackendService::refresh, this));
    if (!timer_) return Status::Error("default_backend: event_new failed");
    timeval tv = ms_to_timeval(kRefreshMs);
    event_add(timer_.get(), &tv);
    return Status::Ok();
  }
  const char* name() const override { return "default_backend"; }
  void stop_accepting() override { timer_.reset(); }
  size_t active_sessions() const override { return 0; }

 private:
  static void refresh(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<DefaultBackendService*>(arg);
    // A refresh still waiting (Redis) is superseded by this one.
    self->call_ = self->registry_.register_origin(default_backend_spec(self->conf_), monotonic_ms(), [](Status st) {
      if (!st.ok()) SP_PERROR("default backend registration failed: %s", st.message().c_str());
    });
  }

  event_base* base_;
  const DefaultBackendConf& conf_;
  RegistryClient& registry_;
  EventPtr timer_;
  RegistryCall call_;  // the registration in flight; dropped with the service
};

}  // namespace

OriginSpec default_backend_spec(const DefaultBackendConf& conf) {
  OriginSpec spec;
  spec.server = "default-backend";
  spec.service = "default-backend";
  spec.pid = "0";
  spec.device_id = "default_backend";
  spec.ip = conf.ip;
  const std::pair<Proto, const std::string*> eps[] = {{Proto::rtmp, &conf.rtmp}, {Proto::http, &conf.http},
                                                      {Proto::api, &conf.api},   {Proto::srt, &conf.srt},
                                                      {Proto::rtc, &conf.rtc}};
  for (const auto& [proto, text] : eps) {
    if (text->empty()) continue;
    auto ep = parse_endpoint(*text);  // validated with the configuration
    if (ep.ok()) spec.endpoints[int(proto)].push_back(*ep);
  }
  return spec;
}

extern const ConfModule kDefaultBackendConfModule = {"default_backend", kDefaultBackendDirectives,
                                                     kDefaultBackendEnvironment, nullptr, validate_default_backend};
extern const Module kDefaultBackendModule = {&kDefaultBackendConfModule, kRoleApi,
                                             make_service<DefaultBackendService>};

}  // namespace sp
