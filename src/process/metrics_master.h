// The master's side of the metrics area (core/metrics.h): listener labels and
// the configuration generation for each new cycle, a slot per forked child,
// and the fold of a reaped child's slot into the retired accumulator.
#pragma once

#include <sys/types.h>

#include "core/metrics.h"
#include "module/listeners.h"
#include "registry/registry.h"

namespace sp::metrics {

// A new generation: its listeners' labels (appended, never removed), the
// generation gauge, and the start time on the first one.
void note_generation(Area* a, int generation, const ListenerSet& listeners);

// A reaped child's slot: fold into the retired accumulator, keeping only
// per-origin figures of origins still in their registry slot; count the
// respawn (if it will be respawned) by how it died.
void child_reaped(Area* a, int slot, Registry& registry, int wait_status, bool respawned);

}  // namespace sp::metrics
