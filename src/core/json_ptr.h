// RAII owners for cJSON values and the text cJSON prints.
#pragma once

#include <cjson/cJSON.h>

#include <memory>

namespace sp {

struct JsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};
struct JsonTextDeleter {
  void operator()(char* s) const { cJSON_free(s); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;
using JsonTextPtr = std::unique_ptr<char, JsonTextDeleter>;

}  // namespace sp
