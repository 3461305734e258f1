// Registration body validation (see register_request.h). Origins POST this
// every heartbeat interval, so it must accept exactly what SRS sends (ports as
// strings, an extra `summaries` object) and name the field when it refuses.
//
// Every string we keep is stored in the shared registry and echoed by
// /api/v1/origins, so it must be valid UTF-8 without control characters (a
// NUL would truncate it: "fz\u0000evil" would replace origin "fz"). The ip
// and any specific endpoint host must be numeric addresses one can connect
// to: host names are refused (SRS sends a numeric ip; resolving would block).
//
// Optional fields used (issue 16): `weight` (1..kWeightMax) and, from SRS's
// `summaries`, data.system.cpu_percent (else data.self.cpu_percent) and
// data.system.load_1m; a summaries object of another shape is ignored, never
// refused (SRS versions differ).
#include "api/register_request.h"

#include <cjson/cJSON.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/json_ptr.h"
#include "core/net_addr.h"

namespace sp {

namespace {

Status field_error(const char* field, const std::string& what) {
  return Status::Error(ErrorKind::bad_input, std::string("field \"") + field + "\" " + what);
}

// Why `s` is no text we store and echo: invalid UTF-8 (overlong forms,
// surrogates and code points above U+10FFFF included) or a control character
// (C0, DEL, C1). Empty when it is fine.
std::string text_problem(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = uint8_t(s[i]);
    if (c < 0x20 || c == 0x7f) return "contains a control character";
    if (c < 0x80) {
      i++;
      continue;
    }
    int len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return "is not valid UTF-8";
    auto c1 = uint8_t(s[i + 1]);
    // The second byte's range rules out overlongs, surrogates and > U+10FFFF.
    uint8_t lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    uint8_t hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (c1 < lo || c1 > hi) return "is not valid UTF-8";
    for (int k = 2; k < len; k++) {
      if ((uint8_t(s[i + k]) & 0xc0) != 0x80) return "is not valid UTF-8";
    }
    if (c == 0xc2 && c1 <= 0x9f) return "contains a control character";  // C1: U+0080-U+009F
    i += len;
  }
  return "";
}

// cJSON decodes "\u0000" (and keeps a raw NUL byte) inside a string, and its
// C strings then end there: "fz\u0000evil" would read as "fz". So the raw text
// is scanned first. Returns the top-level member whose key or value holds a
// NUL in some string ("" if none; "(key)" when the key itself does).
std::string member_with_nul(std::string_view json) {
  int depth = 0;
  bool key_next = false;
  std::string member;
  for (size_t i = 0; i < json.size(); i++) {
    char c = json[i];
    if (c == '"') {
      std::string raw;
      bool nul = false;
      size_t j = i + 1;
      while (j < json.size() && json[j] != '"') {
        if (json[j] == '\\') {
          if (json.substr(j + 1, 5) == "u0000") nul = true;
          raw.append(json.substr(j, 2));
          j += 2;
          continue;
        }
        if (json[j] == '\0') nul = true;
        raw.push_back(json[j++]);
      }
      if (depth == 1 && key_next) {
        member = raw;
        key_next = false;
        if (nul) return member.empty() ? "(key)" : member;
      } else if (nul) {
        return member.empty() ? "(key)" : member;
      }
      i = j;
      continue;
    }
    if (c == '{' || c == '[') {
      depth++;
      if (depth == 1 && c == '{') key_next = true;
    } else if (c == '}' || c == ']') {
      depth--;
    } else if (c == ',' && depth == 1) {
      key_next = true;
    }
  }
  return "";
}

// A mandatory (or, when `optional`, possibly absent) non-empty string.
Status read_string(const cJSON* root, const char* field, bool optional, std::string* out) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(root, field);
  if (!item || cJSON_IsNull(item)) {
    return optional ? Status::Ok() : field_error(field, "is missing (must be a non-empty string)");
  }
  if (!cJSON_IsString(item) || !item->valuestring) return field_error(field, "must be a string");
  if (item->valuestring[0] == '\0' && !optional) return field_error(field, "must be a non-empty string");
  if (std::string why = text_problem(item->valuestring); !why.empty()) return field_error(field, why);
  *out = item->valuestring;
  return Status::Ok();
}

// One endpoint: a string in any endpoint format, or a number taken as a port.
Result<Endpoint> read_endpoint(const cJSON* item) {
  if (cJSON_IsString(item) && item->valuestring) {
    // Checked before parse_endpoint quotes the text in its error.
    if (std::string why = text_problem(item->valuestring); !why.empty()) {
      return Result<Endpoint>::Error(ErrorKind::bad_input, "endpoint " + why);
    }
    return parse_endpoint(item->valuestring);
  }
  if (cJSON_IsNumber(item)) {
    double v = item->valuedouble;
    if (v != std::floor(v) || v < 1 || v > 65535) {
      return Result<Endpoint>::Error(ErrorKind::bad_input,
                                     "invalid endpoint " + std::to_string(v) + ": port must be 1-65535");
    }
    return parse_endpoint(std::to_string(int(v)));
  }
  return Result<Endpoint>::Error(ErrorKind::bad_input, "endpoint must be a string or a port number");
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
    if (!ep.ok()) return Status::Error(ErrorKind::bad_input, std::string("field \"") + field + "\": " + ep.error());
    out->push_back(*ep);
  }
  return Status::Ok();
}

// Optional `weight`: an integer 1..kWeightMax (a number, or a string of
// digits as SRS sends its ports).
Status read_weight(const cJSON* root, int* out) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(root, "weight");
  if (!item || cJSON_IsNull(item)) return Status::Ok();
  double v = 0;
  if (cJSON_IsNumber(item)) {
    v = item->valuedouble;
  } else if (cJSON_IsString(item) && item->valuestring && item->valuestring[0] &&
             strspn(item->valuestring, "0123456789") == strlen(item->valuestring) && strlen(item->valuestring) <= 6) {
    v = double(atoi(item->valuestring));
  } else {
    return field_error("weight", "must be an integer 1-" + std::to_string(kWeightMax));
  }
  if (!std::isfinite(v) || v != std::floor(v) || v < 1 || v > kWeightMax) {
    return field_error("weight", "must be an integer 1-" + std::to_string(kWeightMax));
  }
  *out = int(v);
  return Status::Ok();
}

// A non-negative finite number member of `obj`, else -1.
double number_or_unknown(const cJSON* obj, const char* name) {
  const cJSON* n = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (!cJSON_IsNumber(n) || !std::isfinite(n->valuedouble) || n->valuedouble < 0) return -1;
  return n->valuedouble;
}

}  // namespace

Summaries parse_summaries(const cJSON* root) {
  Summaries out;
  const cJSON* sum = cJSON_GetObjectItemCaseSensitive(root, "summaries");
  const cJSON* data = cJSON_IsObject(sum) ? cJSON_GetObjectItemCaseSensitive(sum, "data") : nullptr;
  if (!cJSON_IsObject(data)) return out;
  const cJSON* system = cJSON_GetObjectItemCaseSensitive(data, "system");
  const cJSON* self = cJSON_GetObjectItemCaseSensitive(data, "self");
  if (cJSON_IsObject(system)) {
    out.cpu_percent = number_or_unknown(system, "cpu_percent");
    out.load_1m = number_or_unknown(system, "load_1m");
  }
  if (out.cpu_percent < 0 && cJSON_IsObject(self)) out.cpu_percent = number_or_unknown(self, "cpu_percent");
  return out;
}

Status check_server_id(std::string_view server) {
  if (server.empty()) return field_error("server", "must be a non-empty string");
  if (server.size() > kServerIdMax) {
    return field_error("server", "is too long (at most " + std::to_string(kServerIdMax) + " bytes)");
  }
  if (server.find('\0') != std::string_view::npos) return field_error("server", "contains a NUL character");
  if (std::string why = text_problem(server); !why.empty()) return field_error("server", why);
  return Status::Ok();
}

Result<OriginSpec> parse_register_request(std::string_view json) {
  JsonPtr root(cJSON_ParseWithLength(json.data(), json.size()));
  if (!root) return Result<OriginSpec>::Error(ErrorKind::bad_input, "body is not valid JSON");
  if (!cJSON_IsObject(root.get())) return Result<OriginSpec>::Error(ErrorKind::bad_input, "body must be a JSON object");

  if (std::string member = member_with_nul(json); !member.empty()) {
    if (member == "(key)") {
      return Result<OriginSpec>::Error(ErrorKind::bad_input, "a member name contains a NUL character");
    }
    if (std::string why = text_problem(member); !why.empty()) {
      return Result<OriginSpec>::Error(ErrorKind::bad_input, "a member name " + why);
    }
    return Result<OriginSpec>::Error(ErrorKind::bad_input, "field \"" + member + "\" contains a NUL character");
  }

  OriginSpec spec;
  const cJSON* r = root.get();
  for (Status s : {read_string(r, "ip", false, &spec.ip), read_string(r, "server", false, &spec.server),
                   read_string(r, "service", false, &spec.service), read_string(r, "pid", false, &spec.pid),
                   read_string(r, "device_id", true, &spec.device_id)}) {
    if (!s.ok()) return s;
  }
  // The address the proxy connects to for every endpoint without a host.
  if (Status s = check_connectable_host(spec.ip); !s.ok()) return field_error("ip", s.message());
  for (int p = 0; p < kProtoCount; p++) {
    Proto proto = Proto(p);
    Status s = read_endpoints(r, proto, proto == Proto::rtmp, &spec.endpoints[p]);
    if (!s.ok()) return s;
  }
  if (Status s = read_weight(r, &spec.weight); !s.ok()) return s;
  Summaries sum = parse_summaries(r);
  spec.cpu_percent = sum.cpu_percent;
  spec.load_1m = sum.load_1m;
  return spec;
}

}  // namespace sp
