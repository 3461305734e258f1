// Operator control of origins on the system API (issue 16), the pure parts:
// which /api/v1/origins/{server}[/drain|/undrain|/weight] a path names, and
// the weight a POST .../weight body sets. The handlers are in system_api.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "registry/registry.h"

namespace sp {

// What a path under /api/v1/origins/ asks for: the origin itself (`op` empty:
// DELETE removes it) or one of its actions.
struct OriginPath {
  std::string server;  // percent-decoded and checked like a registration's
  std::optional<OriginOp> op;
};

// "/api/v1/origins/{server}", ".../drain", ".../undrain", ".../weight"
// (no trailing slash: the caller strips one). nullopt when the path is not
// of that shape (so the caller answers 404 for an unknown path); a
// bad_input error when it is, but {server} is no valid server id
// (check_server_id after percent-decoding) or names an unknown action.
std::optional<Result<OriginPath>> match_origin_path(std::string_view path);

// The weight of POST /api/v1/origins/{server}/weight: the JSON body
// {"weight": N}, or, with an empty body, the query parameter weight=N.
// N is 0 (clear the override) or 1..kWeightMax. bad_input naming the
// problem otherwise.
Result<int> parse_weight_request(std::string_view body, std::string_view query);

}  // namespace sp
