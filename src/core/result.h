// Errors as values. Code on the event path returns Status or Result<T> instead
// of throwing, so nothing unwinds through a libevent or libsrt callback.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sp {

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) {
    Status s;
    s.ok_ = false;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }

 private:
  bool ok_ = true;
  std::string message_;
};

// Holds either a value or an error message.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status error) : v_(std::move(error)) {}  // NOLINT: must be an error
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
  Status status() const { return ok() ? Status::Ok() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sp
