// The origin side of the HTTP stream service's jobs (see stream_origin.h).
#include "http/stream_origin.h"

#include <algorithm>

#include "core/clock.h"
#include "core/log.h"
#include "http/stream_service.h"

namespace sp {

std::string host_port_text(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool OriginLeg::open(const std::string& host, uint16_t port, const std::string& target, bool relay) {
  HttpStreamService& svc = req_.svc();
  origin_ = std::make_unique<OriginClient>(svc.base(), req_.ctx(), this);
  origin_->set_meter(&req_.meter());  // metrics: origin bytes counted as they arrive
  open_us_ = metrics::now_us();
  OriginClient::Request r;
  r.host = host;
  r.port = port;
  r.method = req_.method() == "HEAD" && relay ? "HEAD" : "GET";
  r.target = target;
  r.host_header = host_port_text(host, port);
  // A playlist is fetched whole to be rewritten: no ranges, no 304s.
  for (const auto& [name, value] : req_.forward().fields()) {
    bool partial = name == "Range" || name == "If-Modified-Since" || name == "If-None-Match";
    if (relay || !partial) r.headers.add(name, value);
  }
  OriginClient::Timeouts t{svc.conf().connect_timeout_ms, svc.conf().idle_timeout_ms};
  Status st = origin_->start(r, t);
  if (st.ok()) return true;
  report(st);
  drop();
  req_.fail(st.kind(), "origin unreachable: " + st.message());
  return false;
}

void OriginLeg::report(const Status& result) {
  const std::string& desc = req_.origin_desc();
  size_t at = desc.rfind('@');
  if (at == std::string::npos) return;
  std::string server = desc.substr(0, at);
  RegistryClient& registry = req_.registry();
  // metrics: the time to the origin's answer (connect and response head).
  req_.meter().origin_connect(result.ok() ? metrics::ConnectResult::ok : metrics::connect_result_of(result.message()),
                              metrics::now_us() - open_us_);
  if (result.ok()) return registry.report_success(server, monotonic_ms());
  registry.report_failure(server, "http to " + desc.substr(at + 1) + ": " + result.message(), monotonic_ms());
}

void OriginLeg::drop() {
  if (!origin_) return;
  origin_->set_meter(nullptr);  // the buried client outlives the request's meter
  origin_->abort();
  req_.svc().bury(std::move(origin_));
}

bool OriginLeg::next_origin(const std::string& key, const std::string& hls_id, NextOrigin then) {
  constexpr size_t kMaxOrigins = 3;  // origins one request may try
  const std::string& desc = req_.origin_desc();
  size_t at = desc.rfind('@');
  if (at == std::string::npos) return false;
  tried_.push_back(desc.substr(0, at));
  int64_t now = monotonic_ms();
  int64_t left = req_.svc().conf().connect_timeout_ms - (now - req_.started_ms());
  if (left <= 0 || tried_.size() >= kMaxOrigins) return false;
  drop();
  // The request is not counted (nor its HLS session stored) before the
  // origin answers, so it cannot keep the stream on the failed origin.
  auto shared = std::make_shared<NextOrigin>(std::move(then));
  RegistryCall call = req_.registry().pick(key, Proto::http, now, [this, key, hls_id, shared](Result<Pick> pick) {
    (*shared)(retry_on(key, hls_id, std::move(pick)));
  });
  req_.wait_registry(std::move(call), left, [shared] { (*shared)(std::nullopt); });
  return true;
}

std::optional<Pick> OriginLeg::retry_on(const std::string& key, const std::string& hls_id, Result<Pick> pick) {
  if (!pick.ok() || std::find(tried_.begin(), tried_.end(), pick->origin.server) != tried_.end()) return std::nullopt;
  int64_t now = monotonic_ms();
  int64_t left = req_.svc().conf().connect_timeout_ms - (now - req_.started_ms());
  if (left <= 0) return std::nullopt;
  std::string next = pick->origin.server + "@" + host_port_text(pick->host, pick->port);
  SP_WARN(req_.ctx(), "http: origin %s failed before answering; %s key=%s%s%s retried on origin %s with %lld ms left",
          req_.origin_desc().c_str(), req_.target().c_str(), key.c_str(), hls_id.empty() ? "" : " hls=",
          hls_id.c_str(), next.c_str(), (long long)left);
  req_.set_origin(next);
  return std::move(*pick);
}

}  // namespace sp
