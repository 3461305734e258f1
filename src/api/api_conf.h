// The configuration structs of the API worker's modules: the system API
// (`system_api { }`, api_conf.cpp) and the default backend
// (`default_backend { }`, default_backend.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace sp {

constexpr uint32_t kCtxDefaultBackend = 1u << 2;
constexpr uint32_t kCtxSystemApi = 1u << 3;

struct SystemApiConf : ModuleConfOf<SystemApiConf> {
  std::vector<ListenConf> listen;
  std::string token;  // empty = no token required
  std::vector<AccessRule> access;  // first match wins; no match = allow
  uint64_t max_body_size = 64 * 1024;
  int64_t timeout_ms = 10 * 1000;
};

struct DefaultBackendConf : ModuleConfOf<DefaultBackendConf> {
  bool enabled = false;
  std::string ip = "127.0.0.1";
  std::string rtmp = "1935";
  std::string http, api, rtc, srt;  // empty = none
};

}  // namespace sp
