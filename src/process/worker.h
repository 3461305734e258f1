// Worker processes. Each runs one libevent loop and the services of the
// modules its role asks for (module/module.h): a protocol worker runs every
// kRoleProtocol module's service, the API worker every kRoleApi one (the
// system API, the default backend) plus the registry's expiry job. With
// `master_process off` one process plays both roles. Worker names no
// protocol: it iterates modules().
#pragma once

#include <vector>

#include "module/cycle.h"
#include "module/module.h"
#include "registry/registry.h"

namespace sp {

// Runs a worker until it is told to stop; returns the process exit code.
// `hooks` are the master's MasterHooks by module index (empty without a master).
int run_worker(Cycle& cycle, Registry& registry, int roles, int slot, const std::vector<MasterHook*>& hooks);

}  // namespace sp
