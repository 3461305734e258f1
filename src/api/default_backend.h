// The default backend module: an origin the proxy registers itself (from
// `default_backend { }`) and refreshes every 30 seconds from the API worker,
// for single-origin setups and debugging (SPEC.md section 5).
#pragma once

#include "api/api_conf.h"
#include "registry/registry.h"

namespace sp {

// The default backend as an origin registration.
OriginSpec default_backend_spec(const DefaultBackendConf& conf);

}  // namespace sp
