// Routing of one HTTP stream request (see stream_route.h).
#include "http/stream_route.h"

#include <algorithm>
#include <cctype>

#include "http/hls_playlist.h"
#include "http/query.h"
#include "registry/stream_key.h"

namespace sp {

std::string url_extension(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = base.rfind('.');
  if (dot == std::string_view::npos) return "";
  std::string out(base.substr(dot + 1));
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

namespace {

bool is_live_extension(std::string_view ext) { return ext == "flv" || ext == "ts" || ext == "aac" || ext == "mp3"; }

StreamRoute with_key(StreamRoute::Kind kind, const Result<std::string>& key) {
  StreamRoute r;
  if (!key.ok()) {
    r.kind = StreamRoute::kBadRequest;
    r.error = key.error();
    return r;
  }
  r.kind = kind;
  r.key = *key;
  return r;
}

}  // namespace

StreamRoute route_stream_request(std::string_view method, std::string_view target, std::string_view path,
                                 std::string_view query, std::string_view host) {
  StreamRoute r;
  if (method == "OPTIONS") {
    r.kind = StreamRoute::kOptions;
    return r;
  }
  if (method != "GET" && method != "HEAD") {
    r.kind = StreamRoute::kMethodNotAllowed;
    return r;
  }
  if (path == "/api/v1/versions" || path == "/api/v1/versions/") {
    r.kind = StreamRoute::kVersions;
    return r;
  }
  if (auto id = query_param(query, kHlsSessionParam)) {
    r.kind = StreamRoute::kHlsSession;
    r.hls_id = *id;
    return r;
  }
  std::string ext = url_extension(path);
  // SRS's `?app=live&stream=s.flv` form names the stream in the query.
  auto app = query_param(query, "app");
  auto stream = query_param(query, "stream");
  if (app && stream && !app->empty() && !stream->empty()) {
    std::string sext = url_extension(*stream);
    bool hls = sext == "m3u8" || (sext.empty() && ext == "m3u8");
    return with_key(hls ? StreamRoute::kNewHls : StreamRoute::kLive, make_stream_key(host, *app, *stream, query));
  }
  if (ext == "m3u8") return with_key(StreamRoute::kNewHls, stream_key_from_http(host, target));
  if (is_live_extension(ext)) return with_key(StreamRoute::kLive, stream_key_from_http(host, target));
  return r;
}

}  // namespace sp
