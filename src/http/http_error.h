// The HTTP answer to an error, by its kind (core/result.h ErrorKind): the
// one place every HTTP listener (http_stream, the system API, WHIP/WHEP and
// the SRS WebRTC API) turns a failed Status into a status code. Pure.
#pragma once

#include "core/result.h"

namespace sp {

// bad_input 400, not_found 404, internal 500, upstream 502 (the origin
// answered wrongly), unavailable / full / timeout 503 (no origin could be
// reached in time, or the registry has no room: try later). A timeout is
// 503 rather than 504 because the proxy gave up on reaching an origin, as for
// a refused connect; the client's retry may find another.
int http_status_for(ErrorKind kind);

}  // namespace sp
