// Registration body validation (see register_request.h). Origins POST this
// every heartbeat interval, so it must accept exactly what SRS sends (ports as
// strings, an extra `summaries` object) and name the field when it refuses.
#include "api/register_request.h"

#include <cjson/cJSON.h>

#include <cmath>
#include <memory>
#include <string>

#include "core/json_ptr.h"

namespace sp {

namespace {

Status field_error(const char* field, const char* what) {
  return Status::Error(std::string("field \"") + field + "\" " + what);
}

// A mandatory (or, when `optional`, possibly absent) non-empty string.
Status read_string(const cJSON* root, const char* field, bool optional, std::string* out) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(root, field);
  if (!item || cJSON_IsNull(item)) {
    return optional ? Status::Ok() : field_error(field, "is missing (must be a non-empty string)");
  }
  if (!cJSON_IsString(item) || !item->valuestring) return field_error(field, "must be a string");
  if (item->valuestring[0] == '\0' && !optional) return field_error(field, "must be a non-empty string");
  *out = item->valuestring;
  return Status::Ok();
}

// One endpoint: a string in any endpoint format, or a number taken as a port.
Result<Endpoint> read_endpoint(const cJSON* item) {
  if (cJSON_IsString(item) && item->valuestring) return parse_endpoint(item->valuestring);
  if (cJSON_IsNumber(item)) {
    double v = item->valuedouble;
    if (v != std::floor(v) || v < 1 || v > 65535) {
      return Result<Endpoint>::Error("invalid endpoint " + std::to_string(v) + ": port must be 1-65535");
    }
    return parse_endpoint(std::to_string(int(v)));
  }
  return Result<Endpoint>::Error("endpoint must be a string or a port number");
}

Status read_endpoints(const cJSON* root, Proto proto, bool mandatory, std::vector<Endpoint>* out) {
  const char* field = proto_name(proto);
  const cJSON* arr = cJSON_GetObjectItemCaseSensitive(root, field);
  if (!arr || cJSON_IsNull(arr)) {
    return mandatory ? field_error(field, "must be a non-empty array of endpoints") : Status::Ok();
  }
  if (!cJSON_IsArray(arr)) return field_error(field, "must be an array of endpoints");
  if (mandatory && cJSON_GetArraySize(arr) == 0) return field_error(field, "must be a non-empty array of endpoints");
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, arr) {
    auto ep = read_endpoint(item);
    if (!ep.ok()) return Status::Error(std::string("field \"") + field + "\": " + ep.error());
    out->push_back(*ep);
  }
  return Status::Ok();
}

}  // namespace

Result<OriginSpec> parse_register_request(std::string_view json) {
  JsonPtr root(cJSON_ParseWithLength(json.data(), json.size()));
  if (!root) return Result<OriginSpec>::Error("body is not valid JSON");
  if (!cJSON_IsObject(root.get())) return Result<OriginSpec>::Error("body must be a JSON object");

  OriginSpec spec;
  const cJSON* r = root.get();
  for (Status s : {read_string(r, "ip", false, &spec.ip), read_string(r, "server", false, &spec.server),
                   read_string(r, "service", false, &spec.service), read_string(r, "pid", false, &spec.pid),
                   read_string(r, "device_id", true, &spec.device_id)}) {
    if (!s.ok()) return s;
  }
  for (int p = 0; p < kProtoCount; p++) {
    Proto proto = Proto(p);
    Status s = read_endpoints(r, proto, proto == Proto::rtmp, &spec.endpoints[p]);
    if (!s.ok()) return s;
  }
  return spec;
}

}  // namespace sp
