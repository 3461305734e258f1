// The module layer: what a protocol plugs into, between core/registry below
// and process/ above (nginx's ngx_module_t). A module is
//   - its configuration side (core's ConfModule: name, directive table,
//     configuration struct, environment overrides, listeners, validation),
//   - the workers that run it and its service factory (Service below),
//   - optionally master-side state kept across configuration generations
//     (MasterHook: SRT's SO_REUSEPORT groups).
// The list of modules is src/modules.cpp's: adding a protocol is one folder
// plus one line there. process/ iterates the list and names no protocol.
#pragma once

#include <event2/event.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/config.h"
#include "core/connection_limiter.h"
#include "core/result.h"
#include "module/listeners.h"
#include "registry/registry.h"
#include "registry/registry_client.h"

namespace sp {

class MasterHook;

enum WorkerRole : int { kRoleProtocol = 1, kRoleApi = 2 };

// What a service is created with in a worker.
struct WorkerContext {
  event_base* base;
  const Config& conf;
  Registry& registry;               // this host's table; protocols move to `registry_client`
  RegistryClient& registry_client;  // the configured backend (registry_client.h)
  const ListenerSet& listeners;
  int slot;  // 0..worker_processes-1 for protocol workers, -1 for the API worker
  ConnectionLimiter& limiter;
  MasterHook* hook;  // the module's own master-side state; nullptr without a master
};

// A module's running part in one worker.
class Service {
 public:
  virtual ~Service() = default;
  virtual const char* name() const = 0;
  // Graceful stop: take no new clients; sessions in flight go on.
  virtual void stop_accepting() = 0;
  virtual size_t active_sessions() const = 0;
};

using ServiceFactory = Result<std::unique_ptr<Service>> (*)(WorkerContext& ctx);

// The one factory pattern: construct S from the context, then
// S::start(ctx) (serve its inherited listeners, arm its timers).
template <class S>
Result<std::unique_ptr<Service>> make_service(WorkerContext& ctx) {
  auto svc = std::make_unique<S>(ctx);
  Status st = svc->start(ctx);
  if (!st.ok()) return st;
  return std::unique_ptr<Service>(std::move(svc));
}

// Master-side state of a module that spans configuration generations. The
// master creates one per module that asks for it, before its first fork, and
// tells it about generations and children; a worker's services get it as
// WorkerContext::hook (the forked copy).
class MasterHook {
 public:
  virtual ~MasterHook() = default;
  // The listeners of a new generation (already bound).
  virtual void add_generation(int generation, const ListenerSet& listeners) = 0;
  // A child of an older generation exited (roles and slot as spawned).
  virtual void old_child_exited(int generation, int roles, int slot) = 0;
  // Every process of `generation` exited.
  virtual void retire(int generation) = 0;
  // The generations it still keeps state for.
  virtual std::vector<int> generations() const = 0;
  // A worker raised SIGUSR2 (a note for the master); generation_of maps a
  // child's pid to its generation (-1: not a child).
  virtual void collect_notes(const std::function<int(pid_t)>& generation_of) = 0;
  // In a freshly forked child: drop what only the master may hold.
  virtual void close_in_child() = 0;
};

struct Module {
  const ConfModule* conf;
  int roles = 0;                          // the workers that run its service (WorkerRole bits)
  ServiceFactory make_service = nullptr;  // nullptr: configuration only
  std::unique_ptr<MasterHook> (*make_master_hook)() = nullptr;
};

// Every module, in order (src/modules.cpp).
std::span<const Module* const> modules();

}  // namespace sp
