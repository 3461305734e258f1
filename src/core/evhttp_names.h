// Names for libevent's evhttp request methods, for logs and error texts of the
// evhttp-based servers (system API, WebRTC signalling).
#pragma once

#include <event2/http.h>

namespace sp {

inline const char* evhttp_method_name(evhttp_cmd_type m) {
  switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
  }
  return "?";
}

}  // namespace sp
