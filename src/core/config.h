// One configuration generation as one value (like nginx's cycle): a reload
// builds a new Config next to the running one and swaps only if it is valid.
//
// Directives are data: every module declares a table of Directive rows
// {name, contexts, argument counts, setter, man-page text}. The parser, -t/-T,
// the error messages and the man-page check all read those tables.
#pragma once

#include <cstdint>
#include <utility>
#include <span>
#include <string>
#include <vector>

#include "core/conf_parser.h"
#include "core/log.h"
#include "core/net_addr.h"
#include "core/result.h"

namespace sp {

struct ListenConf {
  SockAddr addr;
  std::string text;  // as written, for messages
  bool ssl = false;
  std::string where;  // "FILE:LINE" of the directive, or the PROXY_* variable that set it
};

struct AccessRule {
  bool allow = true;
  Cidr net;
  std::string text;
};

struct RegistryConf {
  uint64_t size = 16 * 1024 * 1024;
  int64_t origin_ttl_ms = 300 * 1000;
  int64_t session_ttl_ms = 120 * 1000;
  int heartbeat_misses = 3;
  int max_fails = 1;
  int64_t fail_timeout_ms = 10 * 1000;
};

struct DefaultBackendConf {
  bool enabled = false;
  std::string ip = "127.0.0.1";
  std::string rtmp = "1935";
  std::string http, api, rtc, srt;  // empty = none
};

struct SystemApiConf {
  std::vector<ListenConf> listen;
  std::string token;  // empty = no token required
  std::vector<AccessRule> access;  // first match wins; no match = allow
  uint64_t max_body_size = 64 * 1024;
  int64_t timeout_ms = 10 * 1000;
};

struct RtmpConf {
  std::vector<ListenConf> listen;
  uint32_t chunk_size = 60000;
  int64_t handshake_timeout_ms = 10 * 1000;
  int64_t connect_timeout_ms = 5 * 1000;
  int64_t idle_timeout_ms = 30 * 1000;
  // Before the origin accepted a client's publish/play: the largest message
  // and the partial messages it may make a session hold, and the sum over
  // one worker's unidentified sessions (rtmp/preconnect_budget.h).
  uint64_t preconnect_buffer = 64 * 1024;
  uint64_t preconnect_worker_buffer = 4 * 1024 * 1024;
};

struct HttpStreamConf {
  std::vector<ListenConf> listen;
  std::string ssl_certificate, ssl_certificate_key;
  std::string root;
  bool cors = true;
  int64_t connect_timeout_ms = 5 * 1000;
  int64_t idle_timeout_ms = 30 * 1000;
};

struct HttpApiConf {
  std::vector<ListenConf> listen;
  std::string ssl_certificate, ssl_certificate_key;
  bool cors = true;
  int64_t connect_timeout_ms = 5 * 1000;
  int64_t idle_timeout_ms = 30 * 1000;
};

struct WebrtcConf {
  std::vector<ListenConf> listen;  // UDP
  std::string candidate;
  int64_t idle_timeout_ms = 30 * 1000;
};

struct SrtConf {
  std::vector<ListenConf> listen;  // UDP
  int64_t latency_ms = 120;
  int64_t peer_latency_ms = 120;
  std::string passphrase;
  int pbkeylen = 16;
  int64_t connect_timeout_ms = 3 * 1000;
  int64_t idle_timeout_ms = 10 * 1000;
  int payload_size = 1316;
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

  RegistryConf registry;
  DefaultBackendConf default_backend;
  SystemApiConf system_api;
  RtmpConf rtmp;
  HttpStreamConf http_stream;
  HttpApiConf http_api;
  WebrtcConf webrtc;
  SrtConf srt;

  // For -T: every file read with its text, and the PROXY_* overrides applied.
  std::vector<std::pair<std::string, std::string>> sources;
  std::vector<std::string> env_overrides;
};

// Contexts a directive may appear in (bit mask).
enum ConfContext : uint32_t {
  kCtxMain = 1u << 0,
  kCtxRegistry = 1u << 1,
  kCtxDefaultBackend = 1u << 2,
  kCtxSystemApi = 1u << 3,
  kCtxRtmp = 1u << 4,
  kCtxHttpStream = 1u << 5,
  kCtxHttpApi = 1u << 6,
  kCtxWebrtc = 1u << 7,
  kCtxSrt = 1u << 8,
};
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
};

struct ConfModule {
  const char* name;
  std::span<const Directive> directives;
};

// Every module's table, in the order the manual lists them.
std::span<const ConfModule* const> conf_modules();

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
Status add_listen(const ConfDirective& d, bool allow_ssl, std::vector<ListenConf>* out);

}  // namespace sp
