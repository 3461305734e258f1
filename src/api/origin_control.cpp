// Operator control of origins, the pure parts (see origin_control.h).
#include "api/origin_control.h"

#include <cjson/cJSON.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "api/register_request.h"
#include "core/json_ptr.h"
#include "http/query.h"

namespace sp {

namespace {

constexpr std::string_view kPrefix = "/api/v1/origins/";

Result<int> weight_from(double v) {
  if (!std::isfinite(v) || v != std::floor(v) || v < 0 || v > kWeightMax) {
    return Result<int>::Error(ErrorKind::bad_input, "weight must be an integer 1-" + std::to_string(kWeightMax) +
                                                        " (0 clears the override)");
  }
  return int(v);
}

}  // namespace

std::optional<Result<OriginPath>> match_origin_path(std::string_view path) {
  if (path.size() <= kPrefix.size() || path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view rest = path.substr(kPrefix.size());
  std::string_view server = rest, action;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    server = rest.substr(0, slash);
    action = rest.substr(slash + 1);
  }
  OriginPath out;
  if (action.empty() && server.size() != rest.size()) {
    return Result<OriginPath>::Error(ErrorKind::bad_input, "empty action after the server id");
  }
  if (action == "drain") {
    out.op = OriginOp::drain;
  } else if (action == "undrain") {
    out.op = OriginOp::undrain;
  } else if (action == "weight") {
    out.op = OriginOp::set_weight;
  } else if (!action.empty()) {
    if (action.find('/') != std::string_view::npos) return std::nullopt;  // deeper paths: no such API
    return Result<OriginPath>::Error(ErrorKind::bad_input, "unknown origin action \"" +
                                                                std::string(action.substr(0, 40)) +
                                                                "\" (drain, undrain, weight)");
  }
  out.server = percent_decode(server);
  if (Status s = check_server_id(out.server); !s.ok()) {
    return Result<OriginPath>::Error(ErrorKind::bad_input, "server id in the path: " + s.message());
  }
  return out;
}

Result<int> parse_weight_request(std::string_view body, std::string_view query) {
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    std::optional<std::string> q = query_param(query, "weight");
    if (!q) return Result<int>::Error(ErrorKind::bad_input, "no weight: send {\"weight\":N} or ?weight=N");
    if (q->empty() || q->size() > 6 || strspn(q->c_str(), "0123456789") != q->size()) {
      return Result<int>::Error(ErrorKind::bad_input, "query parameter weight must be an integer");
    }
    return weight_from(std::atof(q->c_str()));
  }
  JsonPtr root(cJSON_ParseWithLength(body.data(), body.size()));
  if (!root || !cJSON_IsObject(root.get())) {
    return Result<int>::Error(ErrorKind::bad_input, "body must be a JSON object {\"weight\":N}");
  }
  const cJSON* w = cJSON_GetObjectItemCaseSensitive(root.get(), "weight");
  if (!cJSON_IsNumber(w)) return Result<int>::Error(ErrorKind::bad_input, "field \"weight\" must be a number");
  return weight_from(w->valuedouble);
}

}  // namespace sp
