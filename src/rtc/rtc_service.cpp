// The WebRTC Service of a protocol worker: see rtc_service.h.
#include "rtc/rtc_service.h"

#include "rtc/rtc_api.h"
#include "rtc/udp_relay.h"

namespace sp {

namespace {

class WebrtcService : public Service {
 public:
  explicit WebrtcService(WorkerContext& ctx)
      : api_(ctx.base, ctx.conf, ctx.registry, ctx.limiter), relay_(ctx.base, ctx.conf, ctx.registry, ctx.limiter) {}

  Status start(const ListenerSet& listeners) {
    Status st = api_.start(listeners);
    if (!st.ok()) return st;
    return relay_.start(listeners.fds(ListenerKind::webrtc));
  }
  const char* name() const override { return "webrtc"; }
  void stop_accepting() override {
    api_.stop_accepting();
    relay_.stop_accepting();
  }
  size_t active_sessions() const override { return api_.active_requests() + relay_.active_sessions(); }

 private:
  RtcApi api_;
  UdpRelay relay_;
};

}  // namespace

Result<std::unique_ptr<Service>> make_webrtc_service(WorkerContext& ctx) {
  auto svc = std::make_unique<WebrtcService>(ctx);
  Status st = svc->start(ctx.listeners);
  if (!st.ok()) return st;
  return std::unique_ptr<Service>(std::move(svc));
}

}  // namespace sp
