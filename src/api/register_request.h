// Validation of a registration body (POST /api/v1/srs/register) into an
// OriginSpec. Pure: JSON text in, spec or an error naming the bad field out.
// Accepts SRS's real heartbeat bodies (string ports, extra fields such as
// `summaries` are ignored). Refuses what the registry could not store or the
// proxy could not use: strings that are not valid UTF-8 or hold a control
// character or NUL, an `ip` (or specific endpoint host) that is no numeric
// address one can connect to. Whether an endpoint is the proxy itself needs
// the running configuration: see api/self_loop.h.
#pragma once

#include <string_view>

#include "core/result.h"
#include "registry/registry.h"

namespace sp {

Result<OriginSpec> parse_register_request(std::string_view json);

}  // namespace sp
