// Validation of a registration body (POST /api/v1/srs/register) into an
// OriginSpec. Pure: JSON text in, spec or an error naming the bad field out.
// Accepts SRS's real heartbeat bodies (string ports, extra fields such as
// `summaries` are ignored).
#pragma once

#include <string_view>

#include "core/result.h"
#include "registry/registry.h"

namespace sp {

Result<OriginSpec> parse_register_request(std::string_view json);

}  // namespace sp
