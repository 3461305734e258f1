// Start-up: what a configuration needs at run time, checked before anything
// runs (-t, start, reload), and how a worker tells the master it started.
//
// Run-time checks (check_runtime): the `user` and its group exist; the error
// log and the pid file can be written (their directory exists and is
// writable, or the file is); and, when the master is root and switches the
// workers to `user`, a child switched to that user can read the TLS
// certificates and keys and the http_stream root (so permissions are
// checked exactly as the workers will meet them, ACLs included).
//
// Start-up reports: each worker gets the write end of a pipe. It writes "R"
// once its services listen ("started"), or "F" and the reason before it
// exits with kExitStartupFailed ("failed at start-up"). A worker that exits
// before "R" with that code failed for a configuration reason: the master
// stops with that error instead of respawning it every second. Any other
// death (a crash, or an exit after "R") is respawned as before. The same
// pipe format carries the master's own report to the process that ran
// `srs-proxy` when it daemonises: it exits 0 only after every first worker
// started, and otherwise prints the reason and exits 1.
#pragma once

#include <string>
#include <string_view>

#include "core/config.h"
#include "core/result.h"

namespace sp {

// A worker's exit status when it failed at start-up (sysexits' EX_CONFIG).
constexpr int kExitStartupFailed = 78;

Status check_runtime(const Config& conf);

// In a worker (or the single process): where to report; -1 = nowhere.
void set_startup_report_fd(int fd);
int startup_report_fd();
void report_started();
void report_startup_failure(std::string_view reason);

struct StartupReport {
  enum State { none, started, failed } state = none;
  std::string reason;
};
// Reads what is in the (non-blocking) pipe so far and updates *r; returns
// true once the writer closed its end or nothing more can come.
bool read_startup_report(int fd, StartupReport* r);

}  // namespace sp
