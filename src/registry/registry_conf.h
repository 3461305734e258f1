// The `registry { }` block: size and timing of the shared-memory origin
// registry, and the backend: `memory` (this host's shared memory is the
// whole registry) or `redis` (Redis shared by several proxies is the truth,
// the shared memory its local cache). Directives in registry_conf.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"
#include "registry/registry.h"

namespace sp {

constexpr uint32_t kCtxRegistry = 1u << 1;

enum class RegistryBackend : uint8_t { memory, redis };

struct RegistryConf : ModuleConfOf<RegistryConf> {
  RegistryBackend backend = RegistryBackend::memory;
  std::string redis = "127.0.0.1:6379";  // registry_conf.cpp checks it (redis_client.h syntax)
  std::string redis_password;            // empty: no AUTH; never printed
  int redis_db = 0;
  std::string redis_key_prefix = "srs-proxy:";
  int64_t redis_timeout_ms = 2000;  // per call, and for the connect + handshake
  // Where the PROXY_REDIS_HOST / PORT variables came from, to combine them.
  std::string env_redis_host, env_redis_port;
  uint64_t size = 16 * 1024 * 1024;
  int64_t origin_ttl_ms = 300 * 1000;
  int64_t session_ttl_ms = 120 * 1000;
  int heartbeat_misses = 3;
  int max_fails = 1;
  int64_t fail_timeout_ms = 10 * 1000;
  int64_t origin_remove_ms = 600 * 1000;  // origin_remove_time
  int cpu_limit = 90;                     // origin_cpu_limit (percent, 0 = off)
  int64_t bytes_per_client = 125000;      // pick_bytes_per_client (B/s, 0 = bytes not counted)
};

RegistryTtls registry_ttls(const RegistryConf& conf);

}  // namespace sp
