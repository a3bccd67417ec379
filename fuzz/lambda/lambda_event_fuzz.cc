// fuzz/lambda/lambda_event_fuzz.cc — libFuzzer target for the Lambda invocation-payload
// parser. Invariants: no crash or leak (ASan), a result is stable on a second parse, and
// every entry is either a failure with a record id or names a valid bucket and key.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lambda/lambda_event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mx::lambda;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  LambdaEventOptions options{"ses-bucket", "inbound/"};
  auto r = parseLambdaEvent(in, options);
  auto again = parseLambdaEvent(in, options);
  if (r.ok() != again.ok()) std::abort();
  if (!r.ok()) return 0;
  if (r->size() != again->size() || r->size() > kMaxLambdaRecords) std::abort();
  for (const RawMessageRef& m : *r) {
    if (m.failed()) {
      if (m.record_id.empty()) std::abort();
      continue;
    }
    if (m.bucket.empty() || m.key.empty() || m.key.size() > kMaxS3KeyBytes) std::abort();
  }
  return 0;
}
