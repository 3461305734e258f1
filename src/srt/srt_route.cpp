// Streamid -> stream key, and rejection code names: see srt_route.h.
#include "srt/srt_route.h"

#include <srt/srt.h>

#include "registry/stream_key.h"

namespace sp {

Result<SrtRoute> route_srt_streamid(std::string_view streamid) {
  Result<SrtStreamId> id = parse_srt_streamid(streamid);
  if (!id.ok()) return id.status();
  // The streamid's query (e.g. "?vhost=x&token=y") takes part only through
  // make_stream_key's vhost= rule; the raw streamid goes to the origin as is.
  Result<std::string> key = make_stream_key(id->vhost, id->app, id->stream, id->query);
  if (!key.ok()) return Result<SrtRoute>::Error(ErrorKind::bad_input, "streamid gives no stream key: " + key.error());
  return SrtRoute{std::move(*id), std::move(*key)};
}

int srt_reject_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::bad_input: return kSrtRejectBadRequest;
    case ErrorKind::not_found: return kSrtRejectNotFound;
    case ErrorKind::internal: return kSrtRejectInternal;
    case ErrorKind::upstream: return kSrtRejectGateway;
    case ErrorKind::unavailable:
    case ErrorKind::full:
    case ErrorKind::timeout: return kSrtRejectUnavailable;
  }
  return kSrtRejectInternal;
}

std::string srt_reject_text(int code) {
  if (code < SRT_REJC_PREDEFINED) return std::to_string(code) + " (" + srt_rejectreason_str(code) + ")";
  switch (code) {
    case kSrtRejectBadRequest: return "1400 (bad request)";
    case kSrtRejectOverload: return "1402 (overload)";
    case 1403: return "1403 (forbidden)";
    case kSrtRejectNotFound: return "1404 (not found)";
    case kSrtRejectInternal: return "1500 (internal server error)";
    case kSrtRejectGateway: return "1502 (bad gateway)";
    case kSrtRejectUnavailable: return "1503 (service unavailable)";
    case kSrtRejectLoop: return "1508 (proxy loop detected)";
    default: return std::to_string(code);
  }
}

}  // namespace sp
