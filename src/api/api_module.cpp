// The system API module: its service in the API worker serves the
// `system_api { listen }` sockets (api/system_api.h).
#include "api/api_conf.h"
#include "api/system_api.h"
#include "module/module.h"

namespace sp {

namespace {

class SystemApiService final : public Service {
 public:
  explicit SystemApiService(WorkerContext& ctx) : api_(ctx.base, ctx.conf, ctx.registry_client) {}
  Status start(WorkerContext& ctx) { return api_.start(ctx.listeners.fds("system_api")); }
  const char* name() const override { return "system_api"; }
  void stop_accepting() override { api_.stop_accepting(); }
  size_t active_sessions() const override { return 0; }

 private:
  SystemApi api_;
};

}  // namespace

extern const ConfModule kSystemApiConfModule;
extern const Module kSystemApiModule = {&kSystemApiConfModule, kRoleApi, make_service<SystemApiService>};

}  // namespace sp
