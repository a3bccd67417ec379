// lambda/runtime_api.h — the AWS Lambda Runtime API client a custom runtime (`provided.al2023`)
// talks to: GET /2018-06-01/runtime/invocation/next (long poll: the next event and its
// headers), POST …/invocation/{id}/response, POST …/invocation/{id}/error and POST
// …/runtime/init/error, on the endpoint in AWS_LAMBDA_RUNTIME_API ("host:port", plain HTTP on
// the sandbox's loopback). Our own small code on the shared HTTP client (http/client.h).
//
// Spec: AWS Lambda Developer Guide, "Using the Lambda runtime API for custom runtimes" (API
// version 2018-06-01): the Lambda-Runtime-* response headers of /next, the error document
// {"errorMessage","errorType","stackTrace":[]} with the Lambda-Runtime-Function-Error-Type
// header. A /next request has no timeout of its own: the sandbox is frozen between
// invocations, and the poll may last as long as the function is idle.
//
// Threads: one runtime loop calls it (sendAndWait); not thread-safe.
// Errors: kTransientBackend when the endpoint cannot be reached or answers 5xx; kProtocol
// for a /next answer without a request id or with an unusable header (the runtime cannot
// report that invocation: it exits and Lambda starts a fresh one); kPermanentBackend for any
// other status (e.g. 413 for a response over Lambda's 6 MB limit).
// Trust: the Runtime API is the Lambda service's, but its headers are still checked for
// size and shape before use; the payload is handed on as untrusted bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/client.h"

namespace mx::lambda {

inline constexpr std::string_view kRuntimeApiVersion = "2018-06-01";

struct Invocation {
  std::string request_id;    // Lambda-Runtime-Aws-Request-Id
  int64_t deadline_ms = 0;   // Lambda-Runtime-Deadline-Ms: Unix ms; 0 when not given
  std::string function_arn;  // Lambda-Runtime-Invoked-Function-Arn
  std::string trace_id;      // Lambda-Runtime-Trace-Id (AWS X-Ray); empty when not given
  std::string payload;       // the event, untrusted JSON
};

// The Invocation of a /next answer (status, headers, body). Exposed for the fuzz target.
Result<Invocation> parseInvocation(const http::Response& response);

// The error document the Runtime API takes (JSON-escaped, invalid UTF-8 replaced).
std::string errorDocument(std::string_view error_type, std::string_view message);

class RuntimeApi {
 public:
  // `endpoint` is AWS_LAMBDA_RUNTIME_API's value; `http` must outlive this.
  RuntimeApi(http::HttpClient& http, std::string endpoint);

  Result<Invocation> next();
  Status respond(const std::string& request_id, std::string body);
  // `error_type` e.g. "Runtime.HandlerError"; the message is what the Lambda console shows.
  Status fail(const std::string& request_id, std::string_view error_type, std::string_view message);
  // Before the first next(): the function could not start (bad config). Lambda then fails
  // the invocation that started it and logs the message.
  Status initError(std::string_view error_type, std::string_view message);

 private:
  Status post(const std::string& path, std::string body, std::string_view error_type);

  http::HttpClient& http_;
  std::string base_;  // "http://host:port/2018-06-01"
};

}  // namespace mx::lambda
