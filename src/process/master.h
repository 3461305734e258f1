// The master process: owns the configuration generation (module/cycle.h:
// the configuration and the listening sockets), the shared-memory registry,
// the modules' master hooks and the children. It never serves traffic. Signal handlers only set flags; the loop in run_master() reacts
// to them in plain code after sigsuspend(), as nginx's master does.
#pragma once

#include <string>

#include "core/config.h"
#include "module/cycle.h"
#include "registry/registry.h"

namespace sp {

struct MasterOptions {
  std::string conf_path;
  LoadOptions load;
  std::string title;  // "master process -c FILE"
  // Where the master reports its start-up (process/startup.h) to the process
  // that daemonised it; -1 = nobody waits.
  int report_fd = -1;
};

// Runs the master loop until stop; returns the process exit code.
int run_master(std::unique_ptr<Cycle> cycle, std::unique_ptr<Registry> registry, const MasterOptions& opts);

// master_process off: everything in this process.
int run_single(std::unique_ptr<Cycle> cycle, std::unique_ptr<Registry> registry);

}  // namespace sp
