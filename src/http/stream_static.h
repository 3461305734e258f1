// Static files of the HTTP stream service from `root` (players,
// crossdomain.xml): the I/O half of http_static.h, for a request the router
// gave no stream (stream_route.h kStatic).
#pragma once

#include "http/http_parser.h"

namespace sp {

class StreamRequest;

// Answers `req` with the file its path names under the resolved root (one
// byte range at most), 403 for a path that leads out of it, else 404; the
// request is over on return.
void serve_static_file(StreamRequest& req, const HttpRequestHead& head);

}  // namespace sp
