// One configuration generation as one object (nginx's ngx_cycle_t): the
// validated configuration (with every module's configuration struct inside)
// and the listening sockets it asked for. A reload builds a new Cycle next to
// the running one -- loading and validating the file, opening or sharing the
// sockets -- and the master swaps it in only when all of that succeeded, so
// a half-applied configuration cannot exist. Master-side state that spans
// generations (SRT's reuseport groups) is the modules' MasterHook, told about
// each new cycle's generation after the swap.
#pragma once

#include <memory>

#include "core/config.h"
#include "core/result.h"
#include "module/listeners.h"

namespace sp {

struct Cycle {
  int generation = 0;  // 1 for the first; the master numbers them
  Config conf;
  ListenerSet listeners;

  // Opens the listeners `conf` asks for, sharing the sockets of `previous`
  // (nullptr at start) where the address stays.
  static Result<std::unique_ptr<Cycle>> create(Config conf, const Cycle* previous);
};

}  // namespace sp
