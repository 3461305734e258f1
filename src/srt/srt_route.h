// Where an SRT caller goes, decided from its streamid alone: the parsed
// streamid, the registry stream key and, for a refusal, the SRT rejection code
// the caller will see. Pure (no sockets, no registry), so the decision
// the listen callback takes is unit-tested on real streamids.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "srt/streamid.h"

namespace sp {

// Rejection codes the proxy sends (values of libsrt's access_control.h,
// SRT_REJC_PREDEFINED + HTTP status), repeated here so this header stays free
// of libsrt; srt_route_test.cpp checks them against the library's constants.
constexpr int kSrtRejectBadRequest = 1400;   // SRT_REJX_BAD_REQUEST: malformed streamid
constexpr int kSrtRejectUnavailable = 1503;  // SRT_REJX_DOWN: no origin alive for the stream
constexpr int kSrtRejectOverload = 1402;     // SRT_REJX_OVERLOAD: worker is not taking callers
constexpr int kSrtRejectNotFound = 1404;     // SRT_REJX_NOTFOUND
constexpr int kSrtRejectInternal = 1500;     // SRT_REJX_ISE
constexpr int kSrtRejectGateway = 1502;      // SRT_REJX_GW: the origin answered wrongly
// 1000 + HTTP 508 Loop Detected (libsrt names no constant for it): the
// streamid's srsproxy= chain already lists this proxy (core/proxy_loop.h).
constexpr int kSrtRejectLoop = 1508;

struct SrtRoute {
  SrtStreamId id;
  std::string key;  // VHOST/APP/STREAM, see registry/stream_key.h
};

// Parses the streamid and builds the stream key. The error (kind bad_input)
// says what is wrong with the streamid.
Result<SrtRoute> route_srt_streamid(std::string_view streamid);

// The rejection a caller gets for an error of `kind` (core/result.h): the one
// place SRT turns an ErrorKind into its answer. bad_input 1400, not_found
// 1404, internal 1500, upstream 1502, unavailable / full / timeout 1503.
int srt_reject_for(ErrorKind kind);

// "1400 (bad request)"-style text of a rejection code for logs, covering
// libsrt's own reasons (below 1000) and the predefined HTTP-like ones.
std::string srt_reject_text(int code);

}  // namespace sp
