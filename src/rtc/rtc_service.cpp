// The WebRTC Service of a protocol worker: see rtc_service.h.
#include "rtc/rtc_service.h"

#include "core/access_log.h"
#include "rtc/rtc_api.h"
#include "rtc/udp_relay.h"
#include "rtc/webrtc_conf.h"

namespace sp {

namespace {

class WebrtcService : public Service {
 public:
  explicit WebrtcService(WorkerContext& ctx)
      : api_(ctx.base, ctx.conf, ctx.registry_client, ctx.limiter),
        relay_(ctx.base, ctx.conf, ctx.registry_client, ctx.limiter) {}

  Status start(WorkerContext& ctx) {
    Status st = access_log::use(metrics::Protocol::webrtc, ctx.conf.module<WebrtcConf>().access_log, ctx.conf.access_log);
    if (!st.ok()) return Status::Error("webrtc: " + st.message());
    st = api_.start(ctx.listeners);
    if (!st.ok()) return st;
    return relay_.start(ctx.listeners.fds("webrtc"));
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

extern const ConfModule kWebrtcConfModule;
extern const Module kWebrtcModule = {&kWebrtcConfModule, kRoleProtocol, make_service<WebrtcService>};

}  // namespace sp
