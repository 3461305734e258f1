// Building a configuration generation: see cycle.h.
#include "module/cycle.h"

namespace sp {

Result<std::unique_ptr<Cycle>> Cycle::create(Config conf, const Cycle* previous) {
  auto listeners = ListenerSet::open(conf, previous ? &previous->listeners : nullptr);
  if (!listeners.ok()) return listeners.status();
  auto cycle = std::make_unique<Cycle>();
  cycle->generation = previous ? previous->generation + 1 : 1;
  cycle->conf = std::move(conf);
  cycle->listeners = std::move(*listeners);
  return cycle;
}

}  // namespace sp
