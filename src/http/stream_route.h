// Routing of one HTTP stream request, the pure part: method, path, query and
// Host in, what serves it (and the stream key or HLS session id it names)
// out. First match wins:
//   OPTIONS                           kOptions (200, CORS headers)
//   not GET or HEAD                   kMethodNotAllowed (405)
//   /api/v1/versions[/]               kVersions
//   any path with ?spbhid=ID          kHlsSession, id = ID
//   ?app=A&stream=S (both non-empty)  S or the path *.m3u8: kNewHls, else
//                                     kLive; key = make_stream_key(Host, A, S)
//   *.m3u8                            kNewHls, key from Host and target
//   *.flv *.ts *.aac *.mp3            kLive, key from Host and target
//   anything else                     kStatic
// A stream key that cannot be made is kBadRequest (400) with the reason.
// The I/O behind each kind is in stream_request.cpp.
#pragma once

#include <string>
#include <string_view>

namespace sp {

struct StreamRoute {
  enum Kind { kOptions, kMethodNotAllowed, kVersions, kHlsSession, kNewHls, kLive, kStatic, kBadRequest };
  Kind kind = kStatic;
  std::string key;     // kNewHls, kLive: the stream key
  std::string hls_id;  // kHlsSession: the session id (may be empty: an unknown session)
  std::string error;   // kBadRequest
};

// `target` is the request's origin-form target ("/path?query"), `path` and
// `query` its two parts (as HttpRequestHead splits them), `host` the Host
// header (or the absolute-form authority).
StreamRoute route_stream_request(std::string_view method, std::string_view target, std::string_view path,
                                 std::string_view query, std::string_view host);

// Extension of the last path segment, lower-case, without the dot: "" when
// none.
std::string url_extension(std::string_view path);

}  // namespace sp
