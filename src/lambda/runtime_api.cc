// lambda/runtime_api.cc — see runtime_api.h.
#include "lambda/runtime_api.h"

#include <charconv>
#include <chrono>

#include "core/json_writer.h"

namespace mx::lambda {
namespace {

// Long enough to be no timeout at all (a frozen sandbox may sit in /next for hours), short
// enough that the steady-clock arithmetic of the client cannot overflow.
constexpr Millis kNoTimeout{std::chrono::hours(24 * 365)};
constexpr Millis kPostTimeout{30'000};
constexpr size_t kMaxHeaderValue = 1024;

const std::string* boundedHeader(const http::Response& r, std::string_view name) {
  const std::string* v = r.header(name);
  if (v == nullptr || v->size() > kMaxHeaderValue) return nullptr;
  return v;
}

bool printableAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

Error statusError(const std::string& what, int status) {
  const ErrorClass c = status >= 500 ? ErrorClass::kTransientBackend : ErrorClass::kPermanentBackend;
  return Error(c, "runtime api " + what + ": HTTP " + std::to_string(status));
}

}  // namespace

Result<Invocation> parseInvocation(const http::Response& r) {
  if (r.status != 200) return statusError("next", r.status);
  Invocation inv;
  const std::string* id = boundedHeader(r, "Lambda-Runtime-Aws-Request-Id");
  // The id goes into the next request's path: only printable ASCII without '/', '?', '%'.
  if (id == nullptr || id->empty() || !printableAscii(*id) || id->find_first_of("/?%#") != std::string::npos) {
    return Error(ErrorClass::kProtocol, "runtime api next: no usable Lambda-Runtime-Aws-Request-Id");
  }
  inv.request_id = *id;
  if (const std::string* d = boundedHeader(r, "Lambda-Runtime-Deadline-Ms")) {
    auto [p, ec] = std::from_chars(d->data(), d->data() + d->size(), inv.deadline_ms);
    if (ec != std::errc() || p != d->data() + d->size() || inv.deadline_ms < 0) {
      return Error(ErrorClass::kProtocol, "runtime api next: Lambda-Runtime-Deadline-Ms is not a number");
    }
  }
  if (const std::string* a = boundedHeader(r, "Lambda-Runtime-Invoked-Function-Arn")) inv.function_arn = *a;
  if (const std::string* t = boundedHeader(r, "Lambda-Runtime-Trace-Id"); t != nullptr && printableAscii(*t)) {
    inv.trace_id = *t;
  }
  inv.payload = r.body;
  return inv;
}

std::string errorDocument(std::string_view error_type, std::string_view message) {
  std::string out;
  JsonWriter w(out);
  w.beginObject();
  w.field("errorMessage", message);
  w.field("errorType", error_type);
  w.key("stackTrace").beginArray().endArray();
  w.endObject();
  return out;
}

RuntimeApi::RuntimeApi(http::HttpClient& http, std::string endpoint)
    : http_(http), base_("http://" + std::move(endpoint) + "/" + std::string(kRuntimeApiVersion)) {}

Result<Invocation> RuntimeApi::next() {
  http::Request req;
  req.method = "GET";
  req.url = base_ + "/runtime/invocation/next";
  req.timeout = kNoTimeout;
  auto r = http::sendAndWait(http_, std::move(req));
  if (!r.ok()) return Error(r.error().errorClass(), "runtime api next: " + r.error().message());
  return parseInvocation(*r);
}

Status RuntimeApi::post(const std::string& path, std::string body, std::string_view error_type) {
  http::Request req;
  req.method = "POST";
  req.url = base_ + path;
  req.timeout = kPostTimeout;
  req.body = std::move(body);
  req.headers.push_back({"Content-Type", "application/json"});
  if (!error_type.empty()) req.headers.push_back({"Lambda-Runtime-Function-Error-Type", std::string(error_type)});
  auto r = http::sendAndWait(http_, std::move(req));
  if (!r.ok()) return Error(r.error().errorClass(), "runtime api " + path + ": " + r.error().message());
  if (r->status != 202) return statusError(path, r->status);
  return okStatus();
}

Status RuntimeApi::respond(const std::string& request_id, std::string body) {
  return post("/runtime/invocation/" + request_id + "/response", std::move(body), {});
}

Status RuntimeApi::fail(const std::string& request_id, std::string_view error_type, std::string_view message) {
  return post("/runtime/invocation/" + request_id + "/error", errorDocument(error_type, message), error_type);
}

Status RuntimeApi::initError(std::string_view error_type, std::string_view message) {
  return post("/runtime/init/error", errorDocument(error_type, message), error_type);
}

}  // namespace mx::lambda
