// The list of modules (nginx's ngx_modules[]): every configuration table,
// listener, service and master hook the proxy has comes from one of these.
// Adding a protocol is one folder plus its line here. This file sits above
// every layer (it names them all); core/ and process/ only iterate the list.
#include <array>

#include "api/api_conf.h"
#include "http/http_stream.h"
#include "module/module.h"
#include "rtc/rtc_service.h"
#include "rtmp/rtmp_service.h"
#include "srt/srt_service.h"

namespace sp {

extern const ConfModule kCoreConfModule;      // core/config.cpp: process-level directives
extern const ConfModule kRegistryConfModule;  // registry/registry_conf.cpp
extern const Module kSystemApiModule;         // api/api_module.cpp
extern const Module kDefaultBackendModule;    // api/default_backend.cpp

namespace {

// Core and the registry sit below the module layer: configuration only.
const Module kCoreModule = {&kCoreConfModule};
const Module kRegistryModule = {&kRegistryConfModule};

// In order: the manual's order, the order of validation (the system API's
// default listener exists before the default backend's self-loop check),
// and the order services start in a worker.
const Module* const kModules[] = {
    &kCoreModule,  &kRegistryModule, &kSystemApiModule, &kDefaultBackendModule,
    &kRtmpModule,  &kHttpModule,     &kWebrtcModule,    &kSrtModule,
};

}  // namespace

std::span<const Module* const> modules() { return kModules; }

std::span<const ConfModule* const> conf_modules() {
  // Built on first use: the modules are defined in other files.
  static const std::array<const ConfModule*, std::size(kModules)> confs = [] {
    std::array<const ConfModule*, std::size(kModules)> out{};
    for (size_t i = 0; i < std::size(kModules); i++) out[i] = kModules[i]->conf;
    return out;
  }();
  return confs;
}

}  // namespace sp
