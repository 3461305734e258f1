// ErrorKind -> HTTP status: see http_error.h.
#include "http/http_error.h"

namespace sp {

int http_status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::bad_input: return 400;
    case ErrorKind::not_found: return 404;
    case ErrorKind::internal: return 500;
    case ErrorKind::upstream: return 502;
    case ErrorKind::unavailable:
    case ErrorKind::full:
    case ErrorKind::timeout: return 503;
  }
  return 500;
}

}  // namespace sp
