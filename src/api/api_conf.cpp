// Directives of the `system_api { }` block.
#include "core/config.h"

namespace sp {

namespace {

Status add_access(Config& c, const ConfDirective& d) {
  auto net = parse_cidr(d.args[0]);
  if (!net.ok()) return invalid_value(d, d.args[0], net.error());
  c.system_api.access.push_back(AccessRule{d.name == "allow", *net, d.args[0]});
  return Status::Ok();
}

const Directive kSystemApiDirectives[] = {
    {"system_api", kCtxMain, 0, 0, kCtxSystemApi, false, nullptr, "system_api { ... }", "",
     "Origin registration and operator API."},
    {"listen", kCtxSystemApi, 1, 1, 0, true,
     [](Config& c, const ConfDirective& d) { return add_listen(d, false, &c.system_api.listen); },
     "listen ADDRESS;", "127.0.0.1:12025", "TCP address of the system API; may be repeated."},
    {"token", kCtxSystemApi, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.system_api.token); }, "token STRING;",
     "", "Require \"Authorization: Bearer STRING\" or \"?token=STRING\" on every request."},
    {"allow", kCtxSystemApi, 1, 1, 0, true, add_access, "allow ADDRESS[/PREFIX]|all;", "",
     "Allow clients from this network; rules are checked in order, first match wins."},
    {"deny", kCtxSystemApi, 1, 1, 0, true, add_access, "deny ADDRESS[/PREFIX]|all;", "",
     "Refuse clients from this network with 403."},
    {"max_body_size", kCtxSystemApi, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_size(d, &c.system_api.max_body_size); },
     "max_body_size SIZE;", "64k", "Larger request bodies get 413."},
    {"timeout", kCtxSystemApi, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.system_api.timeout_ms); },
     "timeout TIME;", "10s", "Time allowed to read a request and write its answer."},
};

}  // namespace

extern const ConfModule kSystemApiConfModule = {"system_api", kSystemApiDirectives};

}  // namespace sp
