// Worker processes. Each runs one libevent loop. A protocol worker serves
// every protocol listener; the API worker serves the system API and owns the
// periodic jobs (registry expiry, default backend refresh). With
// `master_process off` one process plays both roles.
//
// A protocol plugs in as a Service: it is created by a factory with the
// worker's loop, configuration, registry and inherited listeners, and reports
// its live sessions so a graceful stop knows when it may exit.
#pragma once

#include <event2/event.h>

#include <memory>
#include <vector>

#include "core/config.h"
#include "core/connection_limiter.h"
#include "process/listeners.h"
#include "registry/registry.h"
#include "srt/srt_steering.h"

namespace sp {

struct WorkerContext {
  event_base* base;
  const Config& conf;
  Registry& registry;
  const ListenerSet& listeners;
  int slot;  // 0..worker_processes-1 for protocol workers, -1 for the API worker
  ConnectionLimiter& limiter;
  SrtDrainBoard* srt_board;  // the master's, to keep SRT sessions through a reload; nullptr without a master
};

class Service {
 public:
  virtual ~Service() = default;
  virtual const char* name() const = 0;
  // Graceful stop: take no new clients; sessions in flight go on.
  virtual void stop_accepting() = 0;
  virtual size_t active_sessions() const = 0;
};

using ServiceFactory = Result<std::unique_ptr<Service>> (*)(WorkerContext& ctx);

enum WorkerRole : int { kRoleProtocol = 1, kRoleApi = 2 };

// Runs a worker until it is told to stop; returns the process exit code.
int run_worker(const Config& conf, Registry& registry, ListenerSet& listeners, int roles, int slot,
               SrtDrainBoard* srt_board);

// The default backend as an origin registration (see SPEC.md section 5).
OriginSpec default_backend_spec(const DefaultBackendConf& conf);

}  // namespace sp
