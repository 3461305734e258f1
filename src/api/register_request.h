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

struct cJSON;

namespace sp {

// Also reads the optional `weight` (integer 1..kWeightMax; anything else is
// a 400 naming the field) and the CPU and load of SRS `summaries`.
Result<OriginSpec> parse_register_request(std::string_view json);

// What a heartbeat's `summaries` report (negative: absent or not a number).
struct Summaries {
  double cpu_percent = -1;
  double load_1m = -1;
};
Summaries parse_summaries(const cJSON* root);

// A server id as registrations accept it (non-empty, at most kServerIdMax
// bytes, UTF-8 without control characters): also what the API's
// /api/v1/origins/{server} paths accept.
Status check_server_id(std::string_view server);

}  // namespace sp
