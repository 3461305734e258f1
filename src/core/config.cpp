// Loading a configuration generation: parse the tree (conf_parser), dispatch
// every directive through the module tables, apply the modules' PROXY_*
// environment overrides, then run every module's validation. Also the core
// module's own table (process-level directives) and the shared value
// parsers. Core names no module: the list is src/modules.cpp's.
#include "core/config.h"

#include "core/access_log.h"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <set>

#include "core/conf_checks.h"
#include "build_info.h"
#include "core/env_file.h"

namespace sp {

const char* conf_context_name(uint32_t ctx) {
  if (ctx == kCtxMain) return "main";
  for (const ConfModule* m : conf_modules()) {
    for (const Directive& d : m->directives) {
      if (d.block == ctx) return d.name;
    }
  }
  return "?";
}

std::vector<ConfListen> conf_listens(const Config& conf) {
  std::vector<ConfListen> out;
  for (const ConfModule* m : conf_modules()) {
    if (m->listens) m->listens(conf, &out);
  }
  return out;
}

std::vector<std::string> config_probes(const Config& conf) {
  std::vector<std::string> out;
  for (const ConfModule* m : conf_modules()) {
    if (m->probe) m->probe(conf, &out);
  }
  return out;
}

namespace {

bool is_word_char(char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

std::string mask_secrets(std::string_view text) {
  std::string out(text);
  for (const ConfModule* m : conf_modules()) {
    for (const Directive& d : m->directives) {
      if (!d.secret) continue;
      std::string_view name = d.name;
      size_t pos = 0;
      while ((pos = out.find(name, pos)) != std::string::npos) {
        size_t end = pos + name.size();
        bool starts = pos == 0 || !is_word_char(out[pos - 1]);
        bool spaced = end < out.size() && (out[end] == ' ' || out[end] == '\t');
        // Only as a directive: first word of its line or statement.
        size_t b = pos;
        while (b > 0 && (out[b - 1] == ' ' || out[b - 1] == '\t')) b--;
        bool first = b == 0 || out[b - 1] == '\n' || out[b - 1] == ';' || out[b - 1] == '{' || out[b - 1] == '}';
        if (!starts || !spaced || !first) {
          pos = end;
          continue;
        }
        size_t arg = end;
        while (arg < out.size() && (out[arg] == ' ' || out[arg] == '\t')) arg++;
        // Up to the ';' that ends the directive, outside quotes.
        size_t stop = arg;
        char quote = 0;
        for (; stop < out.size(); stop++) {
          char ch = out[stop];
          if (quote) {
            if (ch == '\\') stop++;
            else if (ch == quote) quote = 0;
          } else if (ch == '"' || ch == '\'') {
            quote = ch;
          } else if (ch == ';') {
            break;
          }
        }
        if (stop > out.size()) stop = out.size();
        out.replace(arg, stop - arg, "***");
        pos = arg + 3;
      }
    }
  }
  return out;
}

std::vector<std::string> config_warnings(const Config& conf) {
  std::vector<std::string> out;
  for (const ConfModule* m : conf_modules()) {
    if (m->warnings) m->warnings(conf, &out);
  }
  return out;
}

std::string resolve_path(const std::string& prefix, const std::string& path) {
  if (path.empty() || path[0] == '/' || path == "stderr") return path;
  return prefix + "/" + path;
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

std::string conf_dir(const Config& c) { return conf_dir_of(resolve_path(c.prefix, c.conf_file)); }

Status set_listen_from_env(std::vector<ListenConf>* out, const std::string& v, const char* var) {
  auto a = parse_listen_address(v);
  if (!a.ok()) return a.status();
  *out = {ListenConf{*a, v, false, var}};
  return Status::Ok();
}

// `params`: the ListenParam bits the block allows.
Status add_listen(const ConfDirective& d, unsigned params, std::vector<ListenConf>* out) {
  ListenConf l;
  auto addr = parse_listen_address(d.args[0]);
  if (!addr.ok()) return Status::Error(addr.error() + " " + where(d));
  l.addr = *addr;
  l.text = d.args[0];
  l.where = d.file + ":" + std::to_string(d.line);
  bool backlog_seen = false;
  for (size_t i = 1; i < d.args.size(); i++) {
    const std::string& a = d.args[i];
    if (a == "ssl" && (params & kListenSsl) && !l.ssl) {
      l.ssl = true;
    } else if (a.starts_with("backlog=") && (params & kListenBacklog) && !backlog_seen) {
      auto n = parse_int(std::string_view(a).substr(8), 1, 65535);
      if (!n.ok()) return invalid_value(d, a, "backlog must be 1 to 65535");
      l.backlog = int(*n);
      backlog_seen = true;
    } else {
      std::string expected = (params & kListenSsl) ? "\"ssl\" or \"backlog=NUMBER\", once each"
                             : (params & kListenBacklog) ? "\"backlog=NUMBER\", once"
                                                         : "no parameters";
      return invalid_value(d, a, "expected " + expected);
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
    {"env_file", kCtxMain, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.env_file); }, "env_file PATH;", "",
     "Also read PROXY_* variables from this .env file (the real environment wins); unset reads none."},
    SP_ACCESS_LOG_DIRECTIVE(kCtxMain, c.access_log),
    {"log_redact", kCtxMain, 1, -1, 0, false, set_log_redact, "log_redact off|WORD ...;",
     "token key secret sign auth passw",
     "Query parameters whose name contains a WORD have their values logged as ***; off logs them as sent."},
};

// Both of the original proxy's quit timeouts bound how long sessions may run
// on after a graceful stop; the force one wins when both are set.
Status set_shutdown_timeout_env(Config& c, const std::string& v) {
  auto t = parse_time_ms(v);
  if (!t.ok()) return t.status();
  c.shutdown_timeout_ms = *t;
  return Status::Ok();
}

const EnvOverride kCoreEnvironment[] = {
    {"PROXY_GRACE_QUIT_TIMEOUT", set_shutdown_timeout_env, "shutdown_timeout"},
    {"PROXY_FORCE_QUIT_TIMEOUT", set_shutdown_timeout_env, "shutdown_timeout"},
};

// Relative paths in the file are relative to its directory (the
// compiled-in defaults were made absolute against the prefix already).
Status validate_core(Config& c) {
  const std::string dir = conf_dir(c);
  c.pid_path = resolve_against(dir, c.pid_path);
  c.error_log = resolve_against(dir, c.error_log);
  return Status::Ok();
}

}  // namespace

extern const ConfModule kCoreConfModule = {"core", kCoreDirectives, kCoreEnvironment, nullptr, validate_core};

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

// Variables the Go proxy reads that have no equivalent here: ignored, with a
// line in the report (-t, -T, the start-up log) naming each one that is set.
struct EnvNotApplicable {
  const char* name;
  const char* why;
};
const EnvNotApplicable kEnvNotApplicable[] = {
    {"GO_PPROF", "there is no Go runtime to profile"},
    // Proposed upstream (a development version's env.go) but not released;
    // only PROXY_ORIGIN_SERVER_TTL was.
    {"PROXY_SERVER_ALIVE_DURATION", "the released Go proxy does not read it; PROXY_ORIGIN_SERVER_TTL sets the origin lifetime"},
    {"PROXY_HLS_ALIVE_DURATION", "the released Go proxy does not read it; registry { session_ttl } sets the session lifetime"},
    {"PROXY_RTC_ALIVE_DURATION", "the released Go proxy does not read it; registry { session_ttl } sets the session lifetime"},
};

// Every module's PROXY_* variables (those of the original proxy), from the
// real environment or the env_file; they win over the file. Each one applied
// or ignored leaves a line in c.env_overrides saying where it came from.
Status apply_environment(Config& c, const EnvSource& src) {
  for (const ConfModule* m : conf_modules()) {
    for (const EnvOverride& e : m->environment) {
      auto v = src.get(e.name);
      if (!v) continue;
      Status st = e.apply(c, v->value);
      const std::string shown = e.secret ? std::string("***") : v->value;
      if (!st.ok()) {
        return Status::Error("invalid " + std::string(e.name) + "=\"" + shown + "\" from " + v->origin + ": " +
                             st.message());
      }
      c.env_overrides.push_back(std::string(e.name) + "=" + shown + " from " + v->origin + " sets " + e.directive);
    }
  }
  for (const EnvNotApplicable& na : kEnvNotApplicable) {
    if (auto v = src.get(na.name)) {
      c.env_overrides.push_back(std::string(na.name) + " from " + v->origin + " ignored: " + na.why);
    }
  }
  // A PROXY_* line of the env_file that nothing reads is most likely a typo.
  auto known = [&](std::string_view key) {
    if (!key.starts_with("PROXY_")) return true;
    for (const ConfModule* m : conf_modules()) {
      for (const EnvOverride& e : m->environment) {
        if (key == e.name) return true;
      }
    }
    for (const EnvNotApplicable& na : kEnvNotApplicable) {
      if (key == na.name) return true;
    }
    return false;
  };
  for (const EnvValue& u : src.unknown_keys(known)) {
    c.env_overrides.push_back(u.value + " from " + u.origin + " ignored: srs-proxy reads no such variable");
  }
  return Status::Ok();
}

// Two blocks may not listen on one address of the same transport.
Status check_listen_conflicts(const Config& c) {
  std::vector<ConfListen> all = conf_listens(c);
  for (size_t i = 0; i < all.size(); i++) {
    for (size_t j = 0; j < i; j++) {
      if (all[j].udp != all[i].udp || !(all[j].conf->addr == all[i].conf->addr)) continue;
      const std::string& first = all[j].conf->where;
      const std::string& second = all[i].conf->where;
      return Status::Error("listen " + all[i].conf->addr.to_string() + " is used by both \"" + all[j].kind + "\" (" +
                           (first.empty() ? "default" : first) + ") and \"" + all[i].kind + "\" in " +
                           (second.empty() ? "the defaults" : second));
    }
  }
  return Status::Ok();
}

Status validate(Config& c) {
  for (const ConfModule* m : conf_modules()) {
    if (!m->validate) continue;
    Status st = m->validate(c);
    if (!st.ok()) return st;
  }
  return check_listen_conflicts(c);
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
    // Off unless the configuration names a file: a .env picked up from
    // whatever directory srs-proxy happens to start in could silently move
    // listeners, and -s / -t run from elsewhere would see another config.
    EnvSource env;
    if (!conf.env_file.empty()) {
      conf.env_file = resolve_path(conf.prefix, conf.env_file);
      auto loaded = load_env_file(conf.env_file);
      if (!loaded.ok()) return Status::Error("env_file: " + loaded.error());
      env = std::move(*loaded);
    }
    st = apply_environment(conf, env);
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
  c.pid_path = resolve_path(c.prefix, SP_PID_PATH);
  c.error_log = resolve_path(c.prefix, SP_ERROR_LOG_PATH);
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
  std::string full = resolve_path(conf.prefix, path);
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
    out += "# configuration file " + file + ":\n" + mask_secrets(text);
    if (!text.empty() && text.back() != '\n') out += "\n";
    out += "\n";
  }
  if (!conf.env_overrides.empty()) {
    out += "# environment (PROXY_* variables), over the files above:\n";
    for (const std::string& e : conf.env_overrides) out += "#   " + e + "\n";
  }
  return out;
}

}  // namespace sp
