// The error log. One line per event:
//   [2026-11-24 00:34:36.123][info][12345][k3v9x2qa] message
// The bracketed context id names a session (or a process role such as
// "master"), so one client can be followed through a busy log. Each line is
// written with a single write(2) to an O_APPEND descriptor, so lines from
// several processes sharing one file never interleave.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sp {

enum class LogLevel { debug = 0, info, notice, warn, error, crit };

// "debug", "info", "notice", "warn", "error", "crit"; false if unknown.
bool parse_log_level(std::string_view word, LogLevel* out);

// A short random id for a session, e.g. "k3v9x2qa".
std::string new_context_id();

namespace log {

// Opens (or switches to) `path`; "stderr" logs to standard error. A new
// file is created 0640: lines may name clients and streams.
Status open(const std::string& path, LogLevel level);
// Reopens the current file (USR1 / logrotate). Keeps the old file on error.
// The descriptor number never changes (see fd()), so other threads may write
// while it happens.
Status reopen();
// The descriptor lines go to, for handing stderr over when daemonising.
int fd();
const std::string& path();
LogLevel level();
inline bool enabled(LogLevel l) { return l >= level(); }

// Context used when a line has no session: the process role ("master", ...).
void set_process_context(std::string_view ctx);
const std::string& process_context();

// Query parameters whose name contains one of these words are written with
// their value as "***" (`log_redact`, core/conf_checks.h); empty = none.
void set_redact_words(const std::vector<std::string>& words);

void write(LogLevel level, std::string_view ctx, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace log
}  // namespace sp

// ctx is anything convertible to std::string_view: a session's id, or
// sp::log::process_context().
#define SP_LOG(lvl, ctx, ...)                                 \
  do {                                                        \
    if (::sp::log::enabled(lvl)) ::sp::log::write(lvl, ctx, __VA_ARGS__); \
  } while (0)
#define SP_DEBUG(ctx, ...) SP_LOG(::sp::LogLevel::debug, ctx, __VA_ARGS__)
#define SP_INFO(ctx, ...) SP_LOG(::sp::LogLevel::info, ctx, __VA_ARGS__)
#define SP_NOTICE(ctx, ...) SP_LOG(::sp::LogLevel::notice, ctx, __VA_ARGS__)
#define SP_WARN(ctx, ...) SP_LOG(::sp::LogLevel::warn, ctx, __VA_ARGS__)
#define SP_ERROR(ctx, ...) SP_LOG(::sp::LogLevel::error, ctx, __VA_ARGS__)
#define SP_CRIT(ctx, ...) SP_LOG(::sp::LogLevel::crit, ctx, __VA_ARGS__)
// Process-level lines (no session).
#define SP_PINFO(...) SP_INFO(::sp::log::process_context(), __VA_ARGS__)
#define SP_PNOTICE(...) SP_NOTICE(::sp::log::process_context(), __VA_ARGS__)
#define SP_PWARN(...) SP_WARN(::sp::log::process_context(), __VA_ARGS__)
#define SP_PERROR(...) SP_ERROR(::sp::log::process_context(), __VA_ARGS__)
