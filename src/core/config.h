// The configuration of one generation as one value: the process-level
// directives (core's own) plus every module's configuration struct, held
// type-erased (conf.module<T>()). A reload loads a new Config next to the
// running one; module/cycle.h pairs it with its sockets and swaps both.
//
// Directives are data: every module declares a table of Directive rows
// {name, contexts, argument counts, setter, man-page text}. The parser, -t/-T,
// the error messages and the man-page check all read those tables. Core names
// no module: the list is src/modules.cpp's (conf_modules()).
#pragma once

#include <cstdint>
#include <memory>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <span>
#include <string>
#include <vector>

#include "core/conf_parser.h"
#include "core/log.h"
#include "core/net_addr.h"
#include "core/result.h"

namespace sp {

// listen(2)'s backlog when `listen` names none: nginx's on Linux. The
// kernel caps it at net.core.somaxconn.
inline constexpr int kDefaultListenBacklog = 511;

struct ListenConf {
  SockAddr addr;
  std::string text;  // as written, for messages
  bool ssl = false;
  std::string where;  // "FILE:LINE" of the directive, or the PROXY_* variable that set it
  int backlog = kDefaultListenBacklog;  // TCP only: `backlog=NUMBER`
};

// The parameters a block's `listen` takes after its address (add_listen).
enum ListenParam : unsigned { kListenSsl = 1, kListenBacklog = 2 };

// access_log (core/access_log.h).
struct AccessLogConf {
  bool set = false;   // the directive appeared (else the top-level one applies)
  bool off = false;   // access_log off;
  std::string path;   // absolute once validated
  bool json = false;  // else text
};

struct AccessRule {
  bool allow = true;
  Cidr net;
  std::string text;
};

// A module's configuration struct derives from ModuleConfOf<itself>; Config
// keeps one of each, created with its defaults the first time it is asked
// for, and copies them with the Config.
class ModuleConf {
 public:
  virtual ~ModuleConf() = default;
  virtual std::unique_ptr<ModuleConf> clone() const = 0;
};

template <class T>
class ModuleConfOf : public ModuleConf {
 public:
  std::unique_ptr<ModuleConf> clone() const override {
    return std::make_unique<T>(static_cast<const T&>(*this));
  }
};

class ModuleConfs {
 public:
  ModuleConfs() = default;
  ModuleConfs(const ModuleConfs& o) { *this = o; }
  ModuleConfs& operator=(const ModuleConfs& o) {
    if (this == &o) return *this;
    items_.clear();
    for (const auto& [type, conf] : o.items_) items_.emplace_back(type, conf->clone());
    return *this;
  }
  ModuleConfs(ModuleConfs&&) noexcept = default;
  ModuleConfs& operator=(ModuleConfs&&) noexcept = default;

  template <class T>
  T& get() {
    for (auto& [type, conf] : items_) {
      if (type == std::type_index(typeid(T))) return static_cast<T&>(*conf);
    }
    items_.emplace_back(std::type_index(typeid(T)), std::make_unique<T>());
    return static_cast<T&>(*items_.back().second);
  }
  template <class T>
  const T& get() const {
    for (const auto& [type, conf] : items_) {
      if (type == std::type_index(typeid(T))) return static_cast<const T&>(*conf);
    }
    static const T kDefaults{};  // a module whose block never appeared
    return kDefaults;
  }

 private:
  std::vector<std::pair<std::type_index, std::unique_ptr<ModuleConf>>> items_;
};

struct Config {
  std::string conf_file;  // absolute path of the main file
  std::string prefix;     // -p: the -c path and the compiled-in default paths resolve against this
  // Relative paths in the file (pid, error_log, ssl_certificate, root, ...)
  // resolve against the main configuration file's directory.

  int worker_processes = 1;
  bool daemon = true;
  bool master_process = true;
  std::string pid_path;
  std::string user;  // empty: do not switch user
  std::string error_log;
  LogLevel error_log_level = LogLevel::info;
  int64_t shutdown_timeout_ms = 30 * 1000;
  int worker_connections = 4096;
  // Query parameters whose values the log hides (log_redact); empty = none.
  std::vector<std::string> log_redact;
  AccessLogConf access_log;  // the top-level access_log (core/access_log.h)

  // Every module's own configuration struct (in its folder), by type:
  // conf.module<T>(). Core never names them (nginx's ctx arrays).
  template <class T>
  T& module() {
    return modules_.get<T>();
  }
  template <class T>
  const T& module() const {
    return modules_.get<T>();
  }

  std::string env_file;  // .env file of PROXY_* variables; empty: none

  // For -T: every file read with its text, and the PROXY_* overrides applied.
  std::vector<std::pair<std::string, std::string>> sources;
  // One line per PROXY_* variable set: its value, where it came from (the
  // environment or FILE:LINE of the env_file) and what it set or why ignored.
  std::vector<std::string> env_overrides;

 private:
  ModuleConfs modules_;
};

// Contexts a directive may appear in (bit mask). Core owns only the main
// context; each module defines the bits of its own blocks (rtmp/rtmp_conf.h
// ...), and a context is named after the block directive that opens it.
constexpr uint32_t kCtxMain = 1u << 0;
const char* conf_context_name(uint32_t ctx);

struct Directive {
  const char* name;
  uint32_t contexts;  // where it may appear
  int min_args;
  int max_args;        // -1: unbounded
  uint32_t block = 0;  // non-zero: takes a { } block of this context
  bool multiple = false;  // may be repeated in one block
  Status (*set)(Config& conf, const ConfDirective& d) = nullptr;
  // For the manual and -h: syntax, default and one line of meaning.
  const char* syntax = "";
  const char* default_value = "";
  const char* help = "";
  // Its arguments are never printed (-T shows ***): passwords.
  bool secret = false;
};

// One listen address a module's configuration asks for; the module layer
// opens it (module/listeners.h), core only checks that two blocks do not
// claim the same address.
struct ConfListen {
  const char* kind;  // the block: "rtmp", "http_stream", ...
  bool udp = false;
  // How the socket is kept across a reload: false = the new generation
  // shares the old socket (a duplicate); true = each generation binds a
  // socket of its own in the address's SO_REUSEPORT group (SRT).
  bool reuseport_group = false;
  const ListenConf* conf = nullptr;
};

// A file or directory a worker reads after switching to `user` (a
// certificate, a static root): -t and a reload check it as that user.
struct ConfRead {
  std::string what;  // "ssl_certificate in \"http_stream\""
  std::string path;
  bool directory = false;
};

// A PROXY_* environment variable a module accepts; it wins over the file.
struct EnvOverride {
  const char* name;
  Status (*apply)(Config& conf, const std::string& value);
  const char* directive;  // what it sets, for the -t / start-up report
  bool secret = false;    // the value is reported as *** (passwords)
};

// The configuration side of a module (nginx's ngx_module_t commands + ctx):
// its directive table, environment overrides, the listeners its
// configuration asks for and its own validation. The list of modules is
// src/modules.cpp's, above core.
struct ConfModule {
  const char* name;
  std::span<const Directive> directives;
  std::span<const EnvOverride> environment = {};
  // Appends the listen addresses of this module's blocks, in order.
  void (*listens)(const Config& conf, std::vector<ConfListen>* out) = nullptr;
  // After parsing and the environment: defaults that depend on other
  // directives, paths resolved against the prefix, cross-field checks.
  Status (*validate)(Config& conf) = nullptr;
  // Warnings about a valid configuration (logged at start and on reload).
  void (*warnings)(const Config& conf, std::vector<std::string>* out) = nullptr;
  // Appends the files its workers will read (checked at -t and reload).
  void (*reads)(const Config& conf, std::vector<ConfRead>* out) = nullptr;
  // -t only: what the module's settings mean outside this host (a server it
  // will connect to, and whether that answers a short probe now). One line
  // each; a probe that fails is a warning line, not a test failure.
  void (*probe)(const Config& conf, std::vector<std::string>* out) = nullptr;
};

// Every module's -t probe lines (ConfModule::probe).
std::vector<std::string> config_probes(const Config& conf);
// `text` (configuration file text) with the arguments of every secret
// directive (Directive::secret) replaced by ***.
std::string mask_secrets(std::string_view text);

// Every module's table, in the order the manual lists them (src/modules.cpp).
std::span<const ConfModule* const> conf_modules();

// Every module's warnings about a valid configuration.
std::vector<std::string> config_warnings(const Config& conf);
// Every listen address of the configuration, module by module.
std::vector<ConfListen> conf_listens(const Config& conf);
// A path as written, resolved against the prefix ("stderr" and absolute paths as is).
std::string resolve_path(const std::string& prefix, const std::string& path);
// The directory of the configuration file: relative paths in it are
// relative to this (core/conf_checks.h resolve_against).
std::string conf_dir(const Config& c);

struct LoadOptions {
  std::string prefix;         // -p; empty = built-in prefix
  std::string global_directives;  // -g
  bool apply_environment = true;  // PROXY_* overrides
};

// Reads, parses and validates a configuration file (and its includes).
// Errors name the file and line: `unknown directive "listne" in conf/a.conf:12`.
Result<Config> load_config(const std::string& path, const LoadOptions& opts);
// Same from text already in memory (tests, fuzzing); includes resolve against base_dir.
Result<Config> load_config_text(std::string_view text, std::string_view file_name,
                                const LoadOptions& opts);

// The configuration written back as directives (-T).
std::string dump_config(const Config& conf);

// Value parsers shared by the module tables.
Result<uint64_t> parse_size(std::string_view s);   // 1024, 16k, 16m, 1g
Result<int64_t> parse_time_ms(std::string_view s);  // 500ms, 30s, 5m, 1h; bare = seconds
Result<int64_t> parse_int(std::string_view s, int64_t min, int64_t max);
Result<bool> parse_flag(std::string_view s);        // on|off

// Message suffix for a directive: `in "listen" directive in FILE:LINE`.
std::string where(const ConfDirective& d);
// Standard value error: `invalid value "x" in "dir" directive in FILE:LINE: why`.
Status invalid_value(const ConfDirective& d, std::string_view value, std::string_view why = "");

// Setters the module tables build on: parse d.args[0] into *out.
Status set_flag(const ConfDirective& d, bool* out);
Status set_time(const ConfDirective& d, int64_t* out);
Status set_size(const ConfDirective& d, uint64_t* out);
Status set_string(const ConfDirective& d, std::string* out);
Status set_int(const ConfDirective& d, int64_t min, int64_t max, int* out);
// `listen ADDRESS [ssl];` appended to *out; `ssl` only where allow_ssl.
Status add_listen(const ConfDirective& d, unsigned params, std::vector<ListenConf>* out);
// A PROXY_*_SERVER variable: `v` replaces the block's listen addresses, and
// messages about it name the variable `var`.
Status set_listen_from_env(std::vector<ListenConf>* out, const std::string& v, const char* var);

}  // namespace sp
