// The access log: one line per client session end, in JSON (one object per
// line, cJSON) or a fixed space-separated text format (man srs-proxy.conf(5),
// "access_log"). Configured globally (`access_log` at top level) and per
// protocol block (the block wins; `off` disables). Every protocol fills one
// SessionRecord when a session ends and hands it to end_session(), which
// feeds the metrics (core/metrics.h) and writes the line.
//
// Writes are one write(2) per line on an O_APPEND descriptor: no buffer, so
// a crash loses no line and lines of several workers sharing a file never
// interleave. USR1 reopens the files, as it does the error log (the master
// passes the signal on to every worker).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/metrics.h"
#include "core/result.h"

namespace sp {

// access_log PATH [json|text]; or access_log off; a relative PATH is
// resolved against the main configuration file's directory.
Status parse_access_log(const Config& c, const ConfDirective& d, AccessLogConf* out);
// The one Directive row every block declares, for context `ctx`; `field`
// is an expression of Config& c naming the block's AccessLogConf.
#define SP_ACCESS_LOG_DIRECTIVE(ctx, field)                                                                    \
  Directive {                                                                                                  \
    "access_log", ctx, 1, 2, 0, false,                                                                         \
        [](Config& c, const ConfDirective& d) { return ::sp::parse_access_log(c, d, &(field)); },                  \
        "access_log PATH|off [json|text];", "off",                                                           \
        "One line per client session end (time, context id, protocol, listener, client, stream key, origin, "  \
        "bytes, duration, end reason, HTTP status); in a protocol block it overrides the top-level one."        \
  }

struct SessionRecord {
  int64_t unix_ms = 0;  // end time (0: now)
  std::string_view ctx;
  metrics::Protocol protocol = metrics::Protocol::rtmp;
  std::string_view listener;  // "ip:port" (filled from the meter when empty)
  std::string_view client;    // "ip:port"
  std::string_view stream_key;
  std::string_view origin;  // server id, empty: none
  uint64_t bytes_in = 0;    // from the client
  uint64_t bytes_out = 0;   // to the client
  int64_t duration_ms = 0;
  metrics::End reason = metrics::End::normal;
  std::string_view reason_text;  // the protocol's own words
  int http_status = 0;           // 0: not HTTP
};

// Pure formatting (unit-tested); each ends with '\n'.
std::string access_log_json(const SessionRecord& r);
std::string access_log_text(const SessionRecord& r);

namespace access_log {

// This process's log for `p`: the block's setting if set, else the global one.
Status use(metrics::Protocol p, const AccessLogConf& block, const AccessLogConf& global);
void write(const SessionRecord& r);
// USR1: reopens every file (keeps the old descriptor on error).
Status reopen();

}  // namespace access_log

// The session is over: counts its end in `meter` (which gives protocol and
// listener) and writes its access-log line.
void end_session(metrics::SessionMeter& meter, SessionRecord r);

}  // namespace sp
