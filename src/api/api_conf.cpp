// The system API module's configuration: directives of the `system_api { }`
// block, its PROXY_SYSTEM_API override and its default listener.
#include "api/api_conf.h"

#include "api/system_api.h"

namespace sp {

namespace {

Status add_access(Config& c, const ConfDirective& d) {
  auto net = parse_cidr(d.args[0]);
  if (!net.ok()) return invalid_value(d, d.args[0], net.error());
  c.module<SystemApiConf>().access.push_back(AccessRule{d.name == "allow", *net, d.args[0]});
  return Status::Ok();
}

const Directive kSystemApiDirectives[] = {
    {"system_api", kCtxMain, 0, 0, kCtxSystemApi, false, nullptr, "system_api { ... }", "",
     "Origin registration and operator API."},
    {"listen", kCtxSystemApi, 1, 2, 0, true,
     [](Config& c, const ConfDirective& d) { return add_listen(d, kListenBacklog, &c.module<SystemApiConf>().listen); },
     "listen ADDRESS [backlog=NUMBER];", "127.0.0.1:12025", "TCP address of the system API; may be repeated."},
    {"token", kCtxSystemApi, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.module<SystemApiConf>().token); }, "token STRING;",
     "", "Require \"Authorization: Bearer STRING\" or \"?token=STRING\" on every request."},
    {"allow", kCtxSystemApi, 1, 1, 0, true, add_access, "allow ADDRESS[/PREFIX]|all;", "",
     "Allow clients from this network; rules are checked in order, first match wins."},
    {"deny", kCtxSystemApi, 1, 1, 0, true, add_access, "deny ADDRESS[/PREFIX]|all;", "",
     "Refuse clients from this network with 403."},
    {"max_body_size", kCtxSystemApi, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_size(d, &c.module<SystemApiConf>().max_body_size); },
     "max_body_size SIZE;", "64k", "Larger request bodies get 413."},
    {"timeout", kCtxSystemApi, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.module<SystemApiConf>().timeout_ms); },
     "timeout TIME;", "10s", "Time allowed to read a request and write its answer."},
};

}  // namespace

namespace {

Status set_listen_env(Config& c, const std::string& v) {
  return set_listen_from_env(&c.module<SystemApiConf>().listen, v, "PROXY_SYSTEM_API");
}

const EnvOverride kSystemApiEnvironment[] = {{"PROXY_SYSTEM_API", set_listen_env, "system_api { listen }"}};

void system_api_listens(const Config& c, std::vector<ConfListen>* out) {
  for (const ListenConf& l : c.module<SystemApiConf>().listen) out->push_back(ConfListen{"system_api", false, false, &l});
}

Status validate_system_api(Config& c) {
  SystemApiConf& api = c.module<SystemApiConf>();
  if (api.listen.empty()) {
    api.listen.push_back(ListenConf{*parse_listen_address("127.0.0.1:12025"), "127.0.0.1:12025", false});
  }
  return Status::Ok();
}

void system_api_warnings(const Config& c, std::vector<std::string>* out) {
  for (std::string& w : system_api_exposure_warnings(c.module<SystemApiConf>())) out->push_back(std::move(w));
}

}  // namespace

extern const ConfModule kSystemApiConfModule = {"system_api", kSystemApiDirectives, kSystemApiEnvironment,
                                                system_api_listens, validate_system_api, system_api_warnings};

}  // namespace sp
