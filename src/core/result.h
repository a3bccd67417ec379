// core/result.h — Result<T>: a value or an mx::Error, the data path's only way to fail
// (no exceptions on the data path; see STYLE.md "Errors"). A small stand-in for C++23
// std::expected, which this toolchain (GCC 12 / clang 14, C++20) does not offer.
// Trust: none needed. Reading value() of an error Result is a programming error and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <variant>

#include "core/error.h"

namespace mx {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    if (ok()) {
      std::fputs("mx::Result: error() read on a value\n", stderr);
      std::abort();
    }
    return std::get<1>(v_);
  }

 private:
  void check() const {
    if (!ok()) {
      std::fprintf(stderr, "mx::Result: value() read on an error: %s\n", std::get<1>(v_).message().c_str());
      std::abort();
    }
  }
  std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
struct Ok {};
using Status = Result<Ok>;
inline Status okStatus() { return Ok{}; }

}  // namespace mx
