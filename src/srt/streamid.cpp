// SRT streamid parsing: see streamid.h for the accepted forms.
#include "srt/streamid.h"

#include <algorithm>
#include <optional>

#include "core/proxy_loop.h"

namespace sp {

namespace {

constexpr std::string_view kKeyValuePrefix = "#!::";

bool has_control_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? char(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? char(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

// "app/stream?query" or "stream?query" into out->app/stream/query. The app is
// the first path component; the stream is everything after it, as SRS does.
Status split_resource(std::string_view resource, SrtStreamId* out) {
  std::string_view path = resource;
  if (size_t q = resource.find('?'); q != std::string_view::npos) {
    path = resource.substr(0, q);
    out->query = std::string(resource.substr(q + 1));
  }
  size_t slash = path.find('/');
  std::string_view app = slash == std::string_view::npos ? kSrtDefaultApp : path.substr(0, slash);
  std::string_view stream = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (app.empty()) return Status::Error(ErrorKind::bad_input, "streamid has an empty app");
  if (stream.empty()) return Status::Error(ErrorKind::bad_input, "streamid has an empty stream");
  out->app = std::string(app);
  out->stream = std::string(stream);
  return Status::Ok();
}

Result<SrtMode> parse_mode(std::string_view value) {
  if (iequals(value, "publish")) return SrtMode::kPublish;
  if (iequals(value, "request")) return SrtMode::kRequest;
  return Result<SrtMode>::Error(ErrorKind::bad_input,
                                "streamid has unknown mode m=" + std::string(value) + " (want publish or request)");
}

// The three keys the proxy interprets, as found in a "#!::" streamid.
struct SpecialKeys {
  std::optional<std::string_view> r, h, m;
};

// Stores one "key=value" item: r/h/m into keys (each at most once, since two
// resources would be ambiguous), anything else into out->extra.
Status take_item(std::string_view item, SpecialKeys* keys, SrtStreamId* out) {
  size_t eq = item.find('=');
  if (eq == std::string_view::npos) {
    return Status::Error(ErrorKind::bad_input, "streamid item '" + std::string(item) + "' has no '='");
  }
  std::string_view key = item.substr(0, eq);
  std::string_view value = item.substr(eq + 1);
  if (key.empty()) return Status::Error(ErrorKind::bad_input, "streamid item '" + std::string(item) + "' has no key");
  std::optional<std::string_view>* slot = key == "r" ? &keys->r
                                        : key == "h" ? &keys->h
                                        : key == "m" ? &keys->m
                                                     : nullptr;
  if (slot == nullptr) {
    out->extra.emplace_back(std::string(key), std::string(value));
    return Status::Ok();
  }
  if (slot->has_value()) return Status::Error(ErrorKind::bad_input, "streamid repeats key " + std::string(key));
  *slot = value;
  return Status::Ok();
}

// SRS's rule for h=: no slash means a vhost; one slash means "app/stream";
// two or more mean "vhost/app/stream..." with the first component the vhost.
// An explicit r= wins over a resource found in h=.
Status resolve_resource(const SpecialKeys& keys, SrtStreamId* out) {
  std::optional<std::string_view> resource = keys.r;
  if (keys.h) {
    std::string_view h = *keys.h;
    std::string_view h_path = h.substr(0, h.find('?'));
    size_t slashes = std::count(h_path.begin(), h_path.end(), '/');
    if (slashes == 0) {
      out->vhost = std::string(h);
    } else if (slashes == 1) {
      if (!resource) resource = h;
    } else {
      size_t first = h.find('/');
      out->vhost = std::string(h.substr(0, first));
      if (!resource) resource = h.substr(first + 1);
    }
  }
  if (!resource) return Status::Error(ErrorKind::bad_input, "streamid has no resource (r=app/stream or h=app/stream)");
  return split_resource(*resource, out);
}

Result<SrtStreamId> parse_key_values(std::string_view body) {
  SrtStreamId out;
  SpecialKeys keys;
  while (!body.empty()) {
    size_t comma = body.find(',');
    std::string_view item = body.substr(0, comma);
    body = comma == std::string_view::npos ? std::string_view() : body.substr(comma + 1);
    if (item.empty()) continue;  // tolerate "a=1,,b=2" and a trailing comma
    if (Status s = take_item(item, &keys, &out); !s.ok()) return s;
  }
  if (keys.m) {
    Result<SrtMode> mode = parse_mode(*keys.m);
    if (!mode.ok()) return mode.status();
    out.mode = *mode;
  }
  if (Status s = resolve_resource(keys, &out); !s.ok()) return s;
  return out;
}

}  // namespace

Result<SrtStreamId> parse_srt_streamid(std::string_view text) {
  if (text.empty()) return Result<SrtStreamId>::Error(ErrorKind::bad_input, "streamid is empty");
  if (text.size() > kSrtMaxStreamIdBytes) {
    return Result<SrtStreamId>::Error(ErrorKind::bad_input,
                                      "streamid is longer than " + std::to_string(kSrtMaxStreamIdBytes) + " bytes");
  }
  if (has_control_char(text)) {
    return Result<SrtStreamId>::Error(ErrorKind::bad_input, "streamid has control characters");
  }
  if (text.starts_with(kKeyValuePrefix)) return parse_key_values(text.substr(kKeyValuePrefix.size()));
  // Other "#!" syntaxes (e.g. the nested "#!:{...}") are not routed.
  if (text.starts_with("#!")) {
    return Result<SrtStreamId>::Error(ErrorKind::bad_input, "streamid has an unsupported #! syntax");
  }
  SrtStreamId out;
  if (Status s = split_resource(text, &out); !s.ok()) return s;
  return out;
}

std::string_view srt_mode_name(SrtMode mode) {
  return mode == SrtMode::kPublish ? "publish" : "request";
}

std::string srt_streamid_proxy_chain(const SrtStreamId& id) {
  std::string chain;
  for (const auto& [key, value] : id.extra) {
    if (key != kSrtViaKey || value.empty()) continue;
    if (!chain.empty()) chain += '.';
    chain += value;
  }
  return chain;
}

Result<std::string> srt_streamid_for_origin(std::string_view raw, const SrtStreamId& id, uint64_t proxy) {
  std::string out;
  if (raw.starts_with(kKeyValuePrefix)) {
    out = std::string(kKeyValuePrefix);
    std::string_view body = raw.substr(kKeyValuePrefix.size());
    bool first = true;
    while (!body.empty()) {
      size_t comma = body.find(',');
      std::string_view item = body.substr(0, comma);
      body = comma == std::string_view::npos ? std::string_view() : body.substr(comma + 1);
      if (item.empty()) continue;
      size_t eq = item.find('=');
      if (eq != std::string_view::npos && item.substr(0, eq) == kSrtViaKey) continue;  // merged below
      if (!first) out += ',';
      out += item;
      first = false;
    }
    if (!first) out += ',';
  } else {
    // A ',' would split the resource in the key-value form.
    if (raw.find(',') != std::string_view::npos) {
      return Result<std::string>::Error(
          ErrorKind::bad_input, "streamid \"" + std::string(raw) +
                                    "\" has a ',' outside the #!:: form: it cannot carry the proxy-loop marker");
    }
    out = "#!::r=" + id.app + "/" + id.stream + (id.query.empty() ? "" : "?" + id.query) + ",";
  }
  out += std::string(kSrtViaKey) + "=" + proxy_chain_append(srt_streamid_proxy_chain(id), proxy);
  if (out.size() > kSrtMaxStreamIdBytes) {
    return Result<std::string>::Error(ErrorKind::bad_input, "streamid with the proxy-loop marker is longer than " +
                                                                std::to_string(kSrtMaxStreamIdBytes) + " bytes");
  }
  return out;
}

}  // namespace sp
