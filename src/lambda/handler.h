// lambda/handler.h — the parse pipeline as a Lambda function (issue 12 part 1): one
// invocation's payload (lambda_event.h: S3 ObjectCreated, S3-in-SQS, S3-in-SNS-in-SQS, SES
// receipts) → for each message: the raw object read from S3, its identity and envelope
// (message_source.h), the same MessageHandler the server's pipeline runs (parse, store the
// raw message if it is not already ours, the parsed JSON and attachments under the server's
// keys), then its event published straight to the tenant's sinks — and the answer Lambda
// expects:
//   - SQS: always a response, {"batchItemFailures":[{"itemIdentifier":"<messageId>"}…]}
//     naming exactly the records that failed (ReportBatchItemFailures), so one bad record
//     does not make the batch retry; SQS's redrive policy moves a record that keeps failing
//     to the queue's dead-letter queue, and every failure is logged with its reason. From a
//     FIFO queue, the records after a failed one are not processed and are reported
//     failed with it, so a message group keeps its order.
//   - S3 and SES (asynchronous invocations): an error when any message failed, so Lambda
//     retries the whole event (idempotent: same ids, keys and event ids) and finally sends
//     it, with the error message as the reason, to the function's on-failure destination.
//     On success {"disposition":"CONTINUE"} (what a synchronous SES rule reads) and the
//     counts.
// No outbox here: the event source (the SQS message not yet deleted, Lambda's async retry)
// is what holds a message until its event is taken, so an event is published and
// confirmed by its sinks before the record counts as done. An event a sink refuses for good
// goes to that sink's dead-letter sink when it has one; else the record fails.
// Records past the invocation's deadline (minus a margin) are not started: they fail, to
// be retried, rather than being cut off half-way.
//
// Every processed or failed message is a JSON log line, and each invocation ends with one
// CloudWatch Embedded Metric Format line (namespace "mxgate", dimension FunctionName:
// Messages, Bytes, ProcessingTime, Errors, FailedRecords), so no agent is needed.
//
// Threads: one invocation at a time (the runtime loop). Trust: the payload and the objects
// are untrusted (see lambda_event.h, message_source.h); sinks and store are ours.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "events/event_sink.h"
#include "lambda/lambda_event.h"
#include "lambda/message_source.h"
#include "lambda/runtime_api.h"
#include "pipeline/message_handler.h"

namespace mx::lambda {

// Reads the object an event names (app: the S3 store backend; tests: memory).
class ObjectReader {
 public:
  struct Object {
    std::string bytes;
    ObjectInfo info;
  };
  virtual ~ObjectReader() = default;
  // Errors: kNotFound (the object is gone), kTransientBackend, kPermanentBackend.
  virtual Result<Object> read(const RawMessageRef& ref) = 0;
};

struct SinkTarget {
  std::string name;
  events::EventSink* sink = nullptr;
  events::EventSink* dead_letter = nullptr;  // takes what `sink` refuses for good; null: none
};

struct HandlerOptions {
  LambdaEventOptions event;
  MessageSourceOptions source;    // `layout` is taken from the MessageHandler
  uint64_t max_message_size = 0;  // larger objects fail for good; 0: no limit
  Millis deadline_margin{2'000};  // records not started this close to the deadline
  // The indexes of the sinks a tenant's events go to; null: every sink.
  std::function<std::vector<size_t>(std::string_view tenant)> route;
  // One output line (a JSON log line or the EMF line), without newline. Null: stdout.
  std::function<void(std::string_view)> out;
  std::string function_name = "mxgate";  // the EMF dimension (AWS_LAMBDA_FUNCTION_NAME)
};

struct InvocationOutcome {
  std::string response;          // the /response body, when `failure` is empty
  std::optional<Error> failure;  // report the invocation as failed (/error) with this
  // Counts, for tests and the EMF line.
  size_t messages = 0;
  size_t failed_records = 0;
};

class Handler {
 public:
  // All references must outlive the handler.
  Handler(ObjectReader& reader, pipeline::MessageHandler& messages, std::vector<SinkTarget> sinks,
          HandlerOptions options, const Clock& clock);

  InvocationOutcome handle(const Invocation& invocation);

 private:
  struct RecordResult;
  RecordResult processRecord(const RawMessageRef& ref, const std::string& request_id, const std::string& traceparent);
  Status publish(const events::Event& event, const std::string& request_id);
  void line(std::string_view text) const;
  void logFailure(const std::string& request_id, const RawMessageRef& ref, const Error& error) const;

  ObjectReader& reader_;
  pipeline::MessageHandler& messages_;
  std::vector<SinkTarget> sinks_;
  HandlerOptions options_;
  const Clock& clock_;
};

}  // namespace mx::lambda
