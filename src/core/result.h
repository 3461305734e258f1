// Errors as values. Code on the event path returns Status or Result<T> instead
// of throwing, so nothing unwinds through a libevent or libsrt callback.
//
// Every error carries an ErrorKind, set by the code that knows what went
// wrong (the parser, the registry, the origin client). Callers switch on the
// kind, never on the message text; each protocol turns a kind into its own
// answer in one pure function (http/http_error.h, rtmp/message.h
// rtmp_error_code, srt/srt_route.h srt_reject_for).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace sp {

// What kind of failure an error is; the message says the details.
enum class ErrorKind : uint8_t {
  // A bug, or a local failure that is nobody's input and no origin's doing
  // (corrupt stored data, out of memory). The kind of Status::Error(msg)
  // without a kind, so code that does not say what it is stays honest.
  internal = 0,
  // The input is malformed or invalid: a request, message, streamid, SDP,
  // registration, configuration value, a value too long for the registry.
  bad_input,
  // What the request names does not exist (session, stream, file, origin).
  not_found,
  // Nothing can serve it now, try later: no alive origin for the stream, the
  // origin refused or reset the connection, no socket could be opened.
  unavailable,
  // A bounded table is full of live entries (the registry): try later.
  full,
  // A wait ran out: origin connect, origin answer.
  timeout,
  // The origin answered, but wrongly: malformed or oversized answer, closed
  // before a complete answer, or it failed after it started answering.
  upstream,
};

// "bad_input", "not_found", ...: for logs and tests.
constexpr const char* error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::internal: return "internal";
    case ErrorKind::bad_input: return "bad_input";
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::full: return "full";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::upstream: return "upstream";
  }
  return "?";
}

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(ErrorKind kind, std::string message) {
    Status s;
    s.ok_ = false;
    s.kind_ = kind;
    s.message_ = std::move(message);
    return s;
  }
  // Kind internal (see ErrorKind::internal).
  static Status Error(std::string message) { return Error(ErrorKind::internal, std::move(message)); }
  bool ok() const { return ok_; }
  // Meaningful only when !ok().
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // The same error with `prefix` before its message (kind kept).
  Status with_prefix(const std::string& prefix) const { return ok_ ? *this : Error(kind_, prefix + message_); }

 private:
  bool ok_ = true;
  ErrorKind kind_ = ErrorKind::internal;
  std::string message_;
};

// Holds either a value or an error (a Status that is not ok).
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status error) : v_(std::move(error)) {}  // NOLINT: must be an error
  static Result Error(ErrorKind kind, std::string message) { return Result(Status::Error(kind, std::move(message))); }
  // Kind internal (see ErrorKind::internal).
  static Result Error(std::string message) { return Result(Status::Error(std::move(message))); }

  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  // The error message; empty when ok().
  const std::string& error() const {
    static const std::string empty;
    return ok() ? empty : std::get<1>(v_).message();
  }
  // The error's kind; meaningful only when !ok().
  ErrorKind kind() const { return ok() ? ErrorKind::internal : std::get<1>(v_).kind(); }
  Status status() const { return ok() ? Status::Ok() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sp
