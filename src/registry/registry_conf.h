// The `registry { }` block: size and timing of the shared-memory origin
// registry (directives in registry_conf.cpp).
#pragma once

#include <cstdint>

#include "core/config.h"
#include "registry/registry.h"

namespace sp {

constexpr uint32_t kCtxRegistry = 1u << 1;

struct RegistryConf : ModuleConfOf<RegistryConf> {
  uint64_t size = 16 * 1024 * 1024;
  int64_t origin_ttl_ms = 300 * 1000;
  int64_t session_ttl_ms = 120 * 1000;
  int heartbeat_misses = 3;
  int max_fails = 1;
  int64_t fail_timeout_ms = 10 * 1000;
};

RegistryTtls registry_ttls(const RegistryConf& conf);

}  // namespace sp
