// fuzz/events/sqs_response_fuzz.cc — libFuzzer target for events/sqs/sqs_response.h: any
// SendMessageBatch answer body and x-amzn-query-error header must not crash (ASan/UBSan), and:
//  - parseSendMessageBatchResponse() fails only with kTransientBackend; on success every
//    entry has a non-empty Id of at most 80 bytes, Successful entries carry no fault, code or
//    message, and every string is printable ASCII within its bound (ids 80, codes 128 + "...",
//    messages 256 + "...");
//  - parseSqsError() gives printable, bounded code and message whatever the input;
//  - sqsErrorClass() of that code is one of the four classes the table uses.
// Input layout: byte 0 bit 0: a header is present (the bytes up to the first '\n'); byte 1
// picks the HTTP status; the rest is the body. Raw bytes: answers are untrusted.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "events/sqs/sqs_response.h"

#define check(ok)                                                  \
  do {                                                             \
    if (!(ok)) {                                                   \
      std::fprintf(stderr, "sqs_response_fuzz: %s failed\n", #ok); \
      std::abort();                                                \
    }                                                              \
  } while (0)

namespace {

bool printable(std::string_view s, size_t max) {
  if (s.size() > max + 3) return false;
  for (char c : s) {
    if (c < 0x20 || c >= 0x7F) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool with_header = (data[0] & 1) != 0;
  constexpr int kStatuses[] = {200, 400, 403, 404, 429, 500, 503, 0};
  const int status = kStatuses[data[1] & 7];
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string header;
  if (with_header) {
    size_t nl = rest.find('\n');
    header = std::string(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }

  auto parsed = mx::events::parseSendMessageBatchResponse(rest);
  if (!parsed.ok()) {
    check(parsed.error().errorClass() == mx::ErrorClass::kTransientBackend);
  } else {
    for (const auto& e : *parsed) {
      check(!e.id.empty() && e.id.size() <= 80 && printable(e.id, 80));
      check(printable(e.code, 128) && printable(e.message, 256));
      if (e.ok) check(!e.sender_fault && e.code.empty() && e.message.empty());
    }
  }

  mx::events::SqsError err = mx::events::parseSqsError(rest, with_header ? &header : nullptr);
  check(printable(err.code, 128) && printable(err.message, 256));
  const mx::ErrorClass c = mx::events::sqsErrorClass(status, err.code);
  check(c == mx::ErrorClass::kTransientBackend || c == mx::ErrorClass::kPermanentBackend ||
        c == mx::ErrorClass::kConfig || c == mx::ErrorClass::kNotFound);
  return 0;
}
