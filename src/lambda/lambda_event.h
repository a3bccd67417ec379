// lambda/lambda_event.h — one AWS Lambda invocation payload turned into the list of raw
// messages (S3 objects) to process. Pure: no network, no clock.
// Shapes accepted (AWS documentation, "Using AWS Lambda with Amazon S3 / SQS / SES"):
//   - S3 event notification: {"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:…",
//     "s3":{"bucket":{"name"},"object":{"key","size","eTag","versionId"}}}]}. Records whose
//     eventName is not ObjectCreated:* are skipped; {"Event":"s3:TestEvent"} gives no message.
//     Object keys arrive URL-encoded ('+' for space) and are decoded here.
//   - SQS event: {"Records":[{"eventSource":"aws:sqs","messageId","body"}]}, the body holding
//     an S3 event notification, directly or inside an SNS envelope
//     {"Type":"Notification","Message":"<S3 event>"}. A record whose body cannot be read does
//     not fail the batch: it comes back as one entry with `error` set and its `record_id`, for
//     the handler's batchItemFailures.
//   - SES receipt event: {"Records":[{"eventSource":"aws:ses","ses":{"mail":{"messageId",
//     "source","destination","timestamp"},"receipt":{"spfVerdict":{"status"},…}}}]}. The event does not
//     name where SES stored the message: the key is LambdaEventOptions::ses_prefix + messageId
//     in LambdaEventOptions::ses_bucket.
// Trust: the payload is untrusted JSON of any shape. Input is bounded (6 MiB, Lambda's
// payload limit; 10,000 messages in all), every field's type is checked before use, bucket
// names, keys and SES message ids are checked, and no error message quotes the input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mx::lambda {

inline constexpr size_t kMaxLambdaPayload = 6 * 1024 * 1024;
inline constexpr size_t kMaxLambdaRecords = 10000;  // messages and skipped records, in all
inline constexpr size_t kMaxS3KeyBytes = 1024;      // S3's own limit on a key

enum class LambdaEventSource { kS3, kSqs, kSes };

// The receipt verdicts of an SES event, as SES spells them ("PASS", "FAIL", "GRAY",
// "PROCESSING_FAILED", "DISABLED"); empty when the event does not carry one.
struct SesVerdicts {
  std::string spf;
  std::string dkim;
  std::string dmarc;
  std::string spam;
  std::string virus;
};

struct RawMessageRef {
  LambdaEventSource source = LambdaEventSource::kS3;
  std::string bucket;
  std::string key;  // decoded
  std::optional<uint64_t> size;
  std::string version_id;  // empty when not given
  std::string etag;        // empty when not given
  // The SQS messageId the entry came from (for batchItemFailures); empty for S3 and SES.
  std::string record_id;
  // Set when this SQS record could not be read; then only record_id is meaningful.
  std::string error;
  // The SQS record came from a FIFO queue (eventSourceARN ends in ".fifo"): records after a
  // failed one must not be processed, and are reported failed with it.
  bool fifo = false;
  // SES only.
  std::string ses_message_id;
  std::string ses_source;
  std::string ses_timestamp;  // mail.timestamp as sent (RFC 3339); empty when not given
  std::vector<std::string> ses_destination;
  SesVerdicts ses_verdicts;

  bool failed() const { return !error.empty(); }
};

struct LambdaEventOptions {
  std::string ses_bucket;  // where the SES S3 action stores messages
  std::string ses_prefix;  // its object key prefix ("" or e.g. "inbound/")
};

// Errors: kResource when a bound is exceeded, kProtocol for any other shape (the payload
// as a whole is unusable; Lambda retries it or sends it to the on-failure destination).
Result<std::vector<RawMessageRef>> parseLambdaEvent(std::string_view json, const LambdaEventOptions& options = {});

// S3 event-notification key decoding: '+' is a space, %XX a byte. nullopt on a bad escape.
std::optional<std::string> decodeS3EventKey(std::string_view encoded);

}  // namespace mx::lambda
