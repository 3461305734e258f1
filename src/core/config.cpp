// Loading a configuration generation: parse the tree (conf_parser), dispatch
// every directive through the module tables, apply PROXY_* environment
// overrides, then validate the whole. Also the core module's own table
// (process-level directives) and the shared value parsers.
#include "core/config.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <memory>
#include <cstdlib>
#include <set>

#include "api/self_loop.h"
#include "core/conf_checks.h"
#include "build_info.h"
#include "registry/endpoint.h"
#include "registry/registry.h"

namespace sp {

// Tables declared by the modules (each in its own folder).
extern const ConfModule kCoreConfModule;
extern const ConfModule kRegistryConfModule;
extern const ConfModule kSystemApiConfModule;
extern const ConfModule kRtmpConfModule;
extern const ConfModule kHttpConfModule;
extern const ConfModule kWebrtcConfModule;
extern const ConfModule kSrtConfModule;

std::span<const ConfModule* const> conf_modules() {
  static const ConfModule* const kModules[] = {
      &kCoreConfModule,  &kRegistryConfModule, &kSystemApiConfModule, &kRtmpConfModule,
      &kHttpConfModule,  &kWebrtcConfModule,   &kSrtConfModule,
  };
  return kModules;
}

const char* conf_context_name(uint32_t ctx) {
  switch (ctx) {
    case kCtxMain: return "main";
    case kCtxRegistry: return "registry";
    case kCtxDefaultBackend: return "default_backend";
    case kCtxSystemApi: return "system_api";
    case kCtxRtmp: return "rtmp";
    case kCtxHttpStream: return "http_stream";
    case kCtxHttpApi: return "http_api";
    case kCtxWebrtc: return "webrtc";
    case kCtxSrt: return "srt";
  }
  return "?";
}

// ---------------------------------------------------------------- values

std::string where(const ConfDirective& d) {
  return "in \"" + d.name + "\" directive in " + d.file + ":" + std::to_string(d.line);
}

Status invalid_value(const ConfDirective& d, std::string_view value, std::string_view why) {
  std::string msg = "invalid value \"" + std::string(value) + "\" " + where(d);
  if (!why.empty()) msg += ": " + std::string(why);
  return Status::Error(msg);
}

namespace {

// Splits "16m" into number and suffix; false if the number part is bad.
bool split_number(std::string_view s, uint64_t* n, std::string_view* suffix) {
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') i++;
  if (i == 0 || i > 18) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + i, *n);
  if (ec != std::errc()) return false;
  *suffix = s.substr(i);
  return true;
}

}  // namespace

Result<uint64_t> parse_size(std::string_view s) {
  uint64_t n = 0;
  std::string_view suffix;
  if (!split_number(s, &n, &suffix)) return Result<uint64_t>::Error("not a size");
  uint64_t mult = 1;
  if (suffix == "k" || suffix == "K") mult = 1024;
  else if (suffix == "m" || suffix == "M") mult = 1024 * 1024;
  else if (suffix == "g" || suffix == "G") mult = 1024ull * 1024 * 1024;
  else if (!suffix.empty()) return Result<uint64_t>::Error("unknown size unit \"" + std::string(suffix) + "\"");
  if (n > (UINT64_MAX >> 31) / mult) return Result<uint64_t>::Error("size too large");
  return n * mult;
}

Result<int64_t> parse_time_ms(std::string_view s) {
  uint64_t n = 0;
  std::string_view suffix;
  if (!split_number(s, &n, &suffix)) return Result<int64_t>::Error("not a time");
  uint64_t mult = 1000;
  if (suffix == "ms") mult = 1;
  else if (suffix == "s" || suffix.empty()) mult = 1000;
  else if (suffix == "m") mult = 60 * 1000;
  else if (suffix == "h") mult = 3600 * 1000;
  else if (suffix == "d") mult = 24ull * 3600 * 1000;
  else return Result<int64_t>::Error("unknown time unit \"" + std::string(suffix) + "\"");
  if (n > uint64_t(INT64_MAX) / mult / 2) return Result<int64_t>::Error("time too large");
  return int64_t(n * mult);
}

Result<int64_t> parse_int(std::string_view s, int64_t min, int64_t max) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    return Result<int64_t>::Error("not a number");
  }
  if (v < min || v > max) {
    return Result<int64_t>::Error("must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

Result<bool> parse_flag(std::string_view s) {
  if (s == "on") return true;
  if (s == "off") return false;
  return Result<bool>::Error("it must be \"on\" or \"off\"");
}

Status set_flag(const ConfDirective& d, bool* out) {
  auto v = parse_flag(d.args[0]);
  if (!v.ok()) return invalid_value(d, d.args[0], v.error());
  *out = *v;
  return Status::Ok();
}

Status set_time(const ConfDirective& d, int64_t* out) {
  auto v = parse_time_ms(d.args[0]);
  if (!v.ok()) return invalid_value(d, d.args[0], v.error());
  *out = *v;
  return Status::Ok();
}

Status set_size(const ConfDirective& d, uint64_t* out) {
  auto v = parse_size(d.args[0]);
  if (!v.ok()) return invalid_value(d, d.args[0], v.error());
  *out = *v;
  return Status::Ok();
}

Status set_string(const ConfDirective& d, std::string* out) {
  if (d.args[0].empty()) return invalid_value(d, d.args[0], "must not be empty");
  *out = d.args[0];
  return Status::Ok();
}

Status set_int(const ConfDirective& d, int64_t min, int64_t max, int* out) {
  auto v = parse_int(d.args[0], min, max);
  if (!v.ok()) return invalid_value(d, d.args[0], v.error());
  *out = int(*v);
  return Status::Ok();
}

Status add_listen(const ConfDirective& d, bool allow_ssl, std::vector<ListenConf>* out) {
  ListenConf l;
  auto addr = parse_listen_address(d.args[0]);
  if (!addr.ok()) return Status::Error(addr.error() + " " + where(d));
  l.addr = *addr;
  l.text = d.args[0];
  l.where = d.file + ":" + std::to_string(d.line);
  for (size_t i = 1; i < d.args.size(); i++) {
    if (d.args[i] == "ssl" && allow_ssl) {
      l.ssl = true;
    } else {
      return invalid_value(d, d.args[i], allow_ssl ? "expected \"ssl\"" : "unexpected parameter");
    }
  }
  for (const ListenConf& other : *out) {
    if (other.addr == l.addr) return Status::Error("duplicate listen " + l.addr.to_string() + " " + where(d));
  }
  out->push_back(l);
  return Status::Ok();
}

// ---------------------------------------------------------------- core module

namespace {

Status set_worker_processes(Config& c, const ConfDirective& d) {
  if (d.args[0] == "auto") {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c.worker_processes = n > 0 ? int(n) : 1;
    return Status::Ok();
  }
  return set_int(d, 1, 1024, &c.worker_processes);
}

Status set_error_log(Config& c, const ConfDirective& d) {
  c.error_log = d.args[0];
  if (d.args.size() == 2 && !parse_log_level(d.args[1], &c.error_log_level)) {
    return invalid_value(d, d.args[1], "level must be debug, info, notice, warn, error or crit");
  }
  return Status::Ok();
}

// The user must exist when the configuration is read, not only when a worker
// switches to it: a typo fails -t with the file and line.
Status set_user(Config& c, const ConfDirective& d) {
  Status st = set_string(d, &c.user);
  if (!st.ok()) return st;
  if (!getpwnam(c.user.c_str())) return invalid_value(d, c.user, "no such user");
  return Status::Ok();
}

Status set_log_redact(Config& c, const ConfDirective& d) {
  c.log_redact.clear();
  if (d.args.size() == 1 && d.args[0] == "off") return Status::Ok();
  for (const std::string& w : d.args) {
    if (w.empty() || w == "off" || w.find_first_of("=&? ") != std::string::npos) {
      return invalid_value(d, w, "expected \"off\" or parameter name words");
    }
    std::string lower = w;
    for (char& ch : lower) ch = char(tolower(static_cast<unsigned char>(ch)));
    c.log_redact.push_back(lower);
  }
  return Status::Ok();
}

const Directive kCoreDirectives[] = {
    {"worker_processes", kCtxMain, 1, 1, 0, false, set_worker_processes, "worker_processes NUMBER|auto;", "1",
     "Number of protocol worker processes; auto = one per CPU."},
    {"daemon", kCtxMain, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_flag(d, &c.daemon); }, "daemon on|off;", "on",
     "Detach from the terminal and run in the background."},
    {"master_process", kCtxMain, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_flag(d, &c.master_process); },
     "master_process on|off;", "on",
     "off runs everything in one process, for debugging; reload is then unavailable."},
    {"pid", kCtxMain, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.pid_path); }, "pid PATH;",
     SP_PID_PATH, "File the master writes its process id to; -s reads it."},
    {"user", kCtxMain, 1, 1, 0, false,
     set_user, "user NAME;", "",
     "When started as root, workers switch to this user; unset keeps the current user."},
    {"error_log", kCtxMain, 1, 2, 0, false, set_error_log, "error_log PATH|stderr [LEVEL];",
     SP_ERROR_LOG_PATH " info", "Where log lines go and the lowest level written."},
    {"shutdown_timeout", kCtxMain, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_time(d, &c.shutdown_timeout_ms); },
     "shutdown_timeout TIME;", "30s",
     "On graceful stop or reload, how long old workers may keep serving sessions."},
    {"worker_connections", kCtxMain, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_int(d, 16, 1 << 20, &c.worker_connections); },
     "worker_connections NUMBER;", "4096", "Most client sessions one worker serves at once."},
    {"log_redact", kCtxMain, 1, -1, 0, false, set_log_redact, "log_redact off|WORD ...;",
     "token key secret sign auth passw",
     "Query parameters whose name contains a WORD have their values logged as ***; off logs them as sent."},
};

}  // namespace

extern const ConfModule kCoreConfModule = {"core", kCoreDirectives};

// ---------------------------------------------------------------- dispatch

namespace {

const Directive* find_directive(const std::string& name, uint32_t ctx, bool* exists_elsewhere) {
  *exists_elsewhere = false;
  for (const ConfModule* m : conf_modules()) {
    for (const Directive& d : m->directives) {
      if (name != d.name) continue;
      if (d.contexts & ctx) return &d;
      *exists_elsewhere = true;
    }
  }
  return nullptr;
}

Status apply_list(Config& conf, const std::vector<ConfDirective>& list, uint32_t ctx);

Status apply_one(Config& conf, const ConfDirective& d, uint32_t ctx, std::set<const Directive*>* seen) {
  bool elsewhere = false;
  const Directive* def = find_directive(d.name, ctx, &elsewhere);
  std::string at = d.file + ":" + std::to_string(d.line);
  if (!def) {
    if (elsewhere) return Status::Error("\"" + d.name + "\" directive is not allowed here in " + at);
    return Status::Error("unknown directive \"" + d.name + "\" in " + at);
  }
  int n = int(d.args.size());
  if (n < def->min_args || (def->max_args >= 0 && n > def->max_args)) {
    return Status::Error("invalid number of arguments in \"" + d.name + "\" directive in " + at);
  }
  if (def->block && !d.has_block) return Status::Error("directive \"" + d.name + "\" has no opening \"{\" in " + at);
  if (!def->block && d.has_block) return Status::Error("directive \"" + d.name + "\" takes no block in " + at);
  if (!def->multiple && !seen->insert(def).second) {
    return Status::Error("\"" + d.name + "\" directive is duplicate in " + at);
  }
  if (def->set) {
    Status st = def->set(conf, d);
    if (!st.ok()) return st;
  }
  if (def->block) return apply_list(conf, d.block, def->block);
  return Status::Ok();
}

Status apply_list(Config& conf, const std::vector<ConfDirective>& list, uint32_t ctx) {
  std::set<const Directive*> seen;
  for (const ConfDirective& d : list) {
    Status st = apply_one(conf, d, ctx, &seen);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

std::string resolve(const std::string& prefix, const std::string& path) {
  if (path.empty() || path[0] == '/' || path == "stderr") return path;
  return prefix + "/" + path;
}

// PROXY_* variables of the original proxy; they win over the file.
Status apply_environment(Config& c) {
  auto env = [&](const char* name, auto&& apply) -> Status {
    const char* v = getenv(name);
    if (!v || !*v) return Status::Ok();
    Status st = apply(std::string(v));
    if (!st.ok()) return Status::Error("invalid " + std::string(name) + "=\"" + v + "\": " + st.message());
    c.env_overrides.push_back(std::string(name) + "=" + v);
    return Status::Ok();
  };
  auto listen = [](std::vector<ListenConf>* out, const char* var) {
    return [out, var](const std::string& v) {
      auto a = parse_listen_address(v);
      if (!a.ok()) return a.status();
      out->clear();
      out->push_back(ListenConf{*a, v, false, var});
      return Status::Ok();
    };
  };
  auto str = [](std::string* out) {
    return [out](const std::string& v) {
      *out = v;
      return Status::Ok();
    };
  };
  auto time = [](int64_t* out) {
    return [out](const std::string& v) {
      auto t = parse_time_ms(v);
      if (!t.ok()) return t.status();
      *out = *t;
      return Status::Ok();
    };
  };
  Status st;
  const std::pair<const char*, std::function<Status(const std::string&)>> table[] = {
      {"PROXY_RTMP_SERVER", listen(&c.rtmp.listen, "PROXY_RTMP_SERVER")},
      {"PROXY_HTTP_SERVER", listen(&c.http_stream.listen, "PROXY_HTTP_SERVER")},
      {"PROXY_HTTP_API", listen(&c.http_api.listen, "PROXY_HTTP_API")},
      {"PROXY_WEBRTC_SERVER", listen(&c.webrtc.listen, "PROXY_WEBRTC_SERVER")},
      {"PROXY_SRT_SERVER", listen(&c.srt.listen, "PROXY_SRT_SERVER")},
      {"PROXY_SYSTEM_API", listen(&c.system_api.listen, "PROXY_SYSTEM_API")},
      {"PROXY_STATIC_FILES", str(&c.http_stream.root)},
      // The SRS convention: the media address from the environment.
      {"PROXY_WEBRTC_CANDIDATE",
       [&c](const std::string& v) {
         auto cand = expand_candidate(v, [](const char* n) { return getenv(n); });
         if (!cand.ok()) return cand.status();
         c.webrtc.candidate = *cand;
         return Status::Ok();
       }},
      {"PROXY_LOAD_BALANCER_TYPE",
       [](const std::string& v) {
         // The registry is the shared-memory one; Redis is not built in yet.
         return v == "memory" ? Status::Ok()
                              : Status::Error("only \"memory\" (the shared-memory registry) is supported");
       }},
      {"PROXY_DEFAULT_BACKEND_ENABLED",
       [&c](const std::string& v) {
         auto f = parse_flag(v);
         if (!f.ok()) return f.status();
         c.default_backend.enabled = *f;
         return Status::Ok();
       }},
      {"PROXY_DEFAULT_BACKEND_IP", str(&c.default_backend.ip)},
      {"PROXY_DEFAULT_BACKEND_RTMP", str(&c.default_backend.rtmp)},
      {"PROXY_DEFAULT_BACKEND_HTTP", str(&c.default_backend.http)},
      {"PROXY_DEFAULT_BACKEND_API", str(&c.default_backend.api)},
      {"PROXY_DEFAULT_BACKEND_RTC", str(&c.default_backend.rtc)},
      {"PROXY_DEFAULT_BACKEND_SRT", str(&c.default_backend.srt)},
      // Both of the original proxy's quit timeouts bound how long sessions may
      // run on after a graceful stop; the force one wins when both are set.
      {"PROXY_GRACE_QUIT_TIMEOUT", time(&c.shutdown_timeout_ms)},
      {"PROXY_FORCE_QUIT_TIMEOUT", time(&c.shutdown_timeout_ms)},
  };
  for (const auto& [name, apply] : table) {
    st = env(name, apply);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status check_listen_conflicts(const Config& c) {
  struct Named {
    const char* block;
    const std::vector<ListenConf>* list;
  };
  auto check = [](std::initializer_list<Named> group) -> Status {
    std::vector<std::pair<SockAddr, std::string>> all;  // address, `"block" (FILE:LINE)`
    for (const Named& n : group) {
      for (const ListenConf& l : *n.list) {
        for (const auto& [addr, block] : all) {
          if (addr == l.addr) {
            return Status::Error("listen " + l.addr.to_string() + " is used by both " + block + " and \"" +
                                 n.block + "\" in " + (l.where.empty() ? "the defaults" : l.where));
          }
        }
        all.emplace_back(l.addr, "\"" + std::string(n.block) + "\" (" + (l.where.empty() ? "default" : l.where) + ")");
      }
    }
    return Status::Ok();
  };
  Status st = check({{"system_api", &c.system_api.listen},
                     {"rtmp", &c.rtmp.listen},
                     {"http_stream", &c.http_stream.listen},
                     {"http_api", &c.http_api.listen}});
  if (!st.ok()) return st;
  return check({{"webrtc", &c.webrtc.listen}, {"srt", &c.srt.listen}});
}

// Loads the PEM certificate and key the way a worker will, so a bad or
// mismatched pair fails at -t / reload instead of at worker start.
Status check_cert_pair(const char* block, const std::string& cert, const std::string& key) {
  auto fail = [&](const std::string& file, const char* what) {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    char reason[256] = "";
    if (code) ERR_error_string_n(code, reason, sizeof reason);
    return Status::Error(std::string(what) + " \"" + file + "\" in \"" + block + "\"" +
                         (code ? std::string(": ") + reason : std::string()));
  };
  ERR_clear_error();
  std::unique_ptr<BIO, decltype(&BIO_free)> cbio(BIO_new_file(cert.c_str(), "r"), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> x509(cbio ? PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr)
                                                        : nullptr, X509_free);
  if (!x509) return fail(cert, "cannot load certificate");
  std::unique_ptr<BIO, decltype(&BIO_free)> kbio(BIO_new_file(key.c_str(), "r"), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      kbio ? PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr) : nullptr, EVP_PKEY_free);
  if (!pkey) return fail(key, "cannot load private key");
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) return fail(key, "private key does not match certificate for");
  return Status::Ok();
}

Status check_ssl(const char* block, const std::vector<ListenConf>& listen, std::string* cert, std::string* key,
                 const std::string& dir) {
  bool any_ssl = false;
  for (const ListenConf& l : listen) any_ssl |= l.ssl;
  if (!cert->empty()) *cert = resolve_against(dir, *cert);
  if (!key->empty()) *key = resolve_against(dir, *key);
  if (!any_ssl) return Status::Ok();
  if (cert->empty() || key->empty()) {
    return Status::Error(std::string("\"") + block +
                         "\" has an ssl listen but no \"ssl_certificate\" and \"ssl_certificate_key\"");
  }
  for (const std::string* f : {cert, key}) {
    if (access(f->c_str(), R_OK) != 0) {
      return Status::Error(std::string("cannot read \"") + *f + "\" in \"" + block + "\": " + strerror(errno));
    }
  }
  return check_cert_pair(block, *cert, *key);
}

Status validate(Config& c) {
  if (c.system_api.listen.empty()) {
    c.system_api.listen.push_back(ListenConf{*parse_listen_address("127.0.0.1:12025"), "127.0.0.1:12025", false, ""});
  }
  Status st = check_listen_conflicts(c);
  if (!st.ok()) return st;
  if (c.registry.size < Registry::minimum_size()) {
    return Status::Error("registry size must be at least " + std::to_string((Registry::minimum_size() + 1023) / 1024) +
                         "k to hold a few origins, streams and sessions");
  }
  if (c.registry.size > 4ull * 1024 * 1024 * 1024) return Status::Error("registry size must be at most 4g");
  if (c.registry.origin_ttl_ms < 1000) return Status::Error("registry origin_ttl must be at least 1s");
  if (c.registry.session_ttl_ms < 1000) return Status::Error("registry session_ttl must be at least 1s");
  if (c.registry.fail_timeout_ms < 1000) return Status::Error("registry fail_timeout must be at least 1s");
  if (c.default_backend.enabled) {
    const std::pair<const char*, const std::string*> eps[] = {
        {"rtmp", &c.default_backend.rtmp}, {"http", &c.default_backend.http}, {"api", &c.default_backend.api},
        {"rtc", &c.default_backend.rtc},   {"srt", &c.default_backend.srt}};
    if (c.default_backend.rtmp.empty()) return Status::Error("default_backend needs an rtmp endpoint");
    OriginSpec backend;
    backend.ip = c.default_backend.ip;
    for (const auto& [name, value] : eps) {
      if (value->empty()) continue;
      auto ep = parse_endpoint(*value);
      if (!ep.ok()) return Status::Error("default_backend " + std::string(name) + ": " + ep.error());
      for (int p = 0; p < kProtoCount; p++) {
        if (std::string_view(proto_name(Proto(p))) == name) backend.endpoints[p].push_back(*ep);
      }
    }
    auto ip = make_sock_addr(c.default_backend.ip, 1);
    if (!ip.ok()) return Status::Error("default_backend ip: " + ip.error());
    // The same rule as a registration's ip: an address one can connect to.
    if (Status host = check_connectable_host(ip->host_string()); !host.ok()) {
      return Status::Error("default_backend ip \"" + c.default_backend.ip + "\" " + host.message());
    }
    // A backend that is this proxy (PROXY_DEFAULT_BACKEND_RTMP=1935 next to
    // PROXY_RTMP_SERVER=1935) would relay every client to itself.
    Status loop = check_self_loop(backend, own_listeners(c), host_addresses());
    if (!loop.ok()) return Status::Error("default_backend: " + loop.message());
  }
  // Relative paths in the file are relative to its directory (the
  // compiled-in defaults were made absolute against the prefix already).
  const std::string dir = conf_dir_of(resolve(c.prefix, c.conf_file));
  c.pid_path = resolve_against(dir, c.pid_path);
  c.error_log = resolve_against(dir, c.error_log);
  if (!c.http_stream.root.empty()) c.http_stream.root = resolve_against(dir, c.http_stream.root);
  st = check_ssl("http_stream", c.http_stream.listen, &c.http_stream.ssl_certificate,
                 &c.http_stream.ssl_certificate_key, dir);
  if (!st.ok()) return st;
  return check_ssl("http_api", c.http_api.listen, &c.http_api.ssl_certificate, &c.http_api.ssl_certificate_key,
                   dir);
}

Result<Config> load_from_tree(Config conf, const std::vector<ConfDirective>& tree, const LoadOptions& opts,
                              const ConfSource& src) {
  // -g directives join the main context, so a clash with the file is a duplicate.
  std::vector<ConfDirective> all = tree;
  if (!opts.global_directives.empty()) {
    auto g = parse_conf(opts.global_directives, "command line", src);
    if (!g.ok()) return g.status();
    all.insert(all.end(), g->begin(), g->end());
  }
  Status st = apply_list(conf, all, kCtxMain);
  if (!st.ok()) return st;
  if (opts.apply_environment) {
    st = apply_environment(conf);
    if (!st.ok()) return st;
  }
  st = validate(conf);
  if (!st.ok()) return st;
  return conf;
}

Config defaults(const LoadOptions& opts) {
  Config c;
  c.prefix = opts.prefix.empty() ? SP_PREFIX : opts.prefix;
  while (c.prefix.size() > 1 && c.prefix.back() == '/') c.prefix.pop_back();
  c.pid_path = resolve(c.prefix, SP_PID_PATH);
  c.error_log = resolve(c.prefix, SP_ERROR_LOG_PATH);
  c.log_redact = default_redact_words();
  return c;
}

// Wraps a source so every file it reads is remembered for -T.
ConfSource recording(const ConfSource& inner, std::vector<std::pair<std::string, std::string>>* sources) {
  ConfSource s = inner;
  s.read = [inner, sources](const std::string& path) -> Result<std::string> {
    auto text = inner.read(path);
    if (text.ok()) sources->emplace_back(path, *text);
    return text;
  };
  return s;
}

}  // namespace

Result<Config> load_config(const std::string& path, const LoadOptions& opts) {
  Config conf = defaults(opts);
  std::string full = resolve(conf.prefix, path);
  conf.conf_file = full;
  std::vector<std::pair<std::string, std::string>> sources;
  ConfSource src = recording(filesystem_conf_source(), &sources);
  auto text = src.read(full);
  if (!text.ok()) return text.status();
  auto tree = parse_conf(*text, full, src);
  if (!tree.ok()) return tree.status();
  conf.sources = sources;
  return load_from_tree(std::move(conf), *tree, opts, src);
}

Result<Config> load_config_text(std::string_view text, std::string_view file_name, const LoadOptions& opts) {
  Config conf = defaults(opts);
  conf.conf_file = std::string(file_name);
  std::vector<std::pair<std::string, std::string>> sources;
  ConfSource src = recording(filesystem_conf_source(), &sources);
  auto tree = parse_conf(text, conf.conf_file, src);
  if (!tree.ok()) return tree.status();
  conf.sources = sources;
  conf.sources.insert(conf.sources.begin(), {conf.conf_file, std::string(text)});
  return load_from_tree(std::move(conf), *tree, opts, src);
}

std::string dump_config(const Config& conf) {
  std::string out;
  for (const auto& [file, text] : conf.sources) {
    out += "# configuration file " + file + ":\n" + text;
    if (!text.empty() && text.back() != '\n') out += "\n";
    out += "\n";
  }
  if (!conf.env_overrides.empty()) {
    out += "# environment overrides applied:\n";
    for (const std::string& e : conf.env_overrides) out += "#   " + e + "\n";
  }
  return out;
}

}  // namespace sp
