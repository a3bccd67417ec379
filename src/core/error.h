// core/error.h — the short list of error classes every module reports with, and the
// Error value that carries one. Modules return errors as values (see result.h); the
// mapping of a class to an SMTP reply or an event lives in one place per consumer.
// Trust: none needed; these are plain values.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace mx {

// Modelled on Postfix's MAIL_ERROR_* classes and Envoy's error tiers.
enum class ErrorClass {
  kProtocol,          // the peer broke a protocol rule (bad syntax, bad sequence)
  kPolicy,            // the request is well-formed but not allowed
  kResource,          // a configured limit was reached (size, count, memory)
  kTransientBackend,  // storage/network failed in a way that may heal: reply 4xx
  kPermanentBackend,  // storage/network refused for good: reply 5xx
  kConfig,            // a configuration value is missing or wrong (startup only)
  kNotFound,          // a looked-up thing does not exist
};

std::string_view errorClassName(ErrorClass c);

class Error {
 public:
  Error(ErrorClass cls, std::string message) : class_(cls), message_(std::move(message)) {}

  ErrorClass errorClass() const { return class_; }
  const std::string& message() const { return message_; }
  bool transient() const { return class_ == ErrorClass::kTransientBackend; }

 private:
  ErrorClass class_;
  std::string message_;
};

}  // namespace mx
