// The access log: see access_log.h.
#include "core/access_log.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <ctime>
#include <map>

#include "core/conf_checks.h"
#include "core/json_ptr.h"
#include "core/log.h"

namespace sp {

Status parse_access_log(const Config& c, const ConfDirective& d, AccessLogConf* out) {
  *out = AccessLogConf{};
  out->set = true;
  if (d.args[0] == "off") {
    if (d.args.size() > 1) return Status::Error("access_log off takes no format in " + d.file + ":" + std::to_string(d.line));
    out->off = true;
    return Status::Ok();
  }
  out->path = resolve_against(conf_dir(c), d.args[0]);
  if (d.args.size() == 2) {
    if (d.args[1] == "json") out->json = true;
    else if (d.args[1] != "text") {
      return Status::Error("invalid value \"" + d.args[1] + "\" in \"access_log\" directive in " + d.file + ":" +
                           std::to_string(d.line) + ": format must be json or text");
    }
  }
  return Status::Ok();
}

namespace {

void iso_time(char* buf, size_t n, int64_t unix_ms) {
  time_t secs = time_t(unix_ms / 1000);
  tm t;
  gmtime_r(&secs, &t);
  snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
           t.tm_min, t.tm_sec, int(unix_ms % 1000));
}

int64_t unix_ms_now() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return int64_t(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
}

// A text field: "-" when empty; bytes outside printable ASCII, space, '"'
// and '\' as \xHH, so a field never splits or breaks a line.
void text_field(std::string& out, std::string_view v) {
  out += ' ';
  if (v.empty()) {
    out += '-';
    return;
  }
  for (unsigned char c : v) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      char b[5];
      snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += char(c);
    }
  }
}

}  // namespace

std::string access_log_json(const SessionRecord& r) {
  char when[64];
  iso_time(when, sizeof when, r.unix_ms ? r.unix_ms : unix_ms_now());
  JsonPtr j(cJSON_CreateObject());
  auto str = [&](const char* k, std::string_view v) { cJSON_AddStringToObject(j.get(), k, std::string(v).c_str()); };
  str("time", when);
  str("ctx", r.ctx);
  str("protocol", metrics::protocol_name(r.protocol));
  str("listener", r.listener);
  str("client", r.client);
  str("stream", r.stream_key);
  str("origin", r.origin);
  cJSON_AddNumberToObject(j.get(), "bytes_in", double(r.bytes_in));
  cJSON_AddNumberToObject(j.get(), "bytes_out", double(r.bytes_out));
  cJSON_AddNumberToObject(j.get(), "duration", double(r.duration_ms) / 1000.0);
  str("reason", metrics::end_name(r.reason));
  str("detail", r.reason_text);
  cJSON_AddNumberToObject(j.get(), "status", r.http_status);
  JsonTextPtr text(cJSON_PrintUnformatted(j.get()));
  std::string out = text ? text.get() : "{}";
  out += '\n';
  return out;
}

// TIME CTX PROTOCOL LISTENER CLIENT STREAM ORIGIN BYTES_IN BYTES_OUT
// DURATION REASON STATUS
std::string access_log_text(const SessionRecord& r) {
  char when[64];
  iso_time(when, sizeof when, r.unix_ms ? r.unix_ms : unix_ms_now());
  std::string out = when;
  text_field(out, r.ctx);
  text_field(out, metrics::protocol_name(r.protocol));
  text_field(out, r.listener);
  text_field(out, r.client);
  text_field(out, r.stream_key);
  text_field(out, r.origin);
  char nums[96];
  snprintf(nums, sizeof nums, " %" PRIu64 " %" PRIu64 " %.3f", r.bytes_in, r.bytes_out, double(r.duration_ms) / 1000.0);
  out += nums;
  text_field(out, metrics::end_name(r.reason));
  out += ' ';
  out += std::to_string(r.http_status);
  out += '\n';
  return out;
}

namespace access_log {

namespace {

struct File {
  std::string path;
  int fd = -1;
};

struct Target {
  File* file = nullptr;
  bool json = false;
};

struct State {
  std::map<std::string, File> files;  // by path: one descriptor per file
  Target targets[metrics::kProtocols];
};

State& state() {
  static State* s = new State();  // never freed: sessions end during exit
  return *s;
}

Status open_fd(const std::string& path, int* fd) {
  *fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (*fd < 0) return Status::Error("cannot open access_log " + path + ": " + strerror(errno));
  return Status::Ok();
}

}  // namespace

Status use(metrics::Protocol p, const AccessLogConf& block, const AccessLogConf& global) {
  const AccessLogConf& c = block.set ? block : global;
  Target& t = state().targets[int(p)];
  t = Target{};
  if (!c.set || c.off || c.path.empty()) return Status::Ok();
  auto [it, fresh] = state().files.try_emplace(c.path, File{c.path, -1});
  if (fresh || it->second.fd < 0) {
    Status st = open_fd(c.path, &it->second.fd);
    if (!st.ok()) return st;
  }
  t.file = &it->second;
  t.json = c.json;
  return Status::Ok();
}

void write(const SessionRecord& r) {
  const Target& t = state().targets[int(r.protocol)];
  if (!t.file || t.file->fd < 0) return;
  std::string line = t.json ? access_log_json(r) : access_log_text(r);
  // One write(2) on O_APPEND: the line lands whole, after every other.
  if (::write(t.file->fd, line.data(), line.size()) < 0) {
    SP_PWARN("access_log %s: write failed: %s", t.file->path.c_str(), strerror(errno));
  }
}

Status reopen() {
  Status result = Status::Ok();
  for (auto& [path, f] : state().files) {
    int fd = -1;
    Status st = open_fd(path, &fd);
    if (!st.ok()) {
      result = st;
      continue;
    }
    // dup2 keeps the descriptor number: nothing else needs telling.
    if (f.fd >= 0) {
      dup2(fd, f.fd);
      ::close(fd);
    } else {
      f.fd = fd;
    }
  }
  return result;
}

}  // namespace access_log

void end_session(metrics::SessionMeter& meter, SessionRecord r) {
  bool begun = meter.begun();
  if (begun) {
    r.protocol = meter.protocol();
  }
  std::string listener;
  if (r.listener.empty() && metrics::area()) {
    const metrics::Area* a = metrics::area();
    int p = int(r.protocol);
    if (uint32_t(meter.listener()) < a->listener_count[p].load()) listener = a->listeners[p][meter.listener()].text;
    r.listener = listener;
  }
  // Bad input: a malformed handshake (the handshake stage), or anything
  // malformed after it (the request stage).
  if (begun && r.reason == metrics::End::bad_input) meter.bad_input(metrics::Stage::request);
  if (begun && r.reason == metrics::End::handshake_failed && r.reason_text.find("bad") != std::string_view::npos) {
    meter.bad_input(metrics::Stage::handshake);
  }
  meter.end(r.reason);
  access_log::write(r);
}

}  // namespace sp
