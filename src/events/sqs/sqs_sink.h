// events/sqs/sqs_sink.h — SqsSink: events into an Amazon SQS queue with SendMessageBatch over
// the AWS JSON 1.0 protocol (Amazon SQS API Reference, SendMessageBatch; "Amazon SQS AWS JSON
// protocol"): POST to the queue URL's endpoint (scheme://host[:port]/) with
// X-Amz-Target: AmazonSQS.SendMessageBatch, Content-Type: application/x-amz-json-1.0 and
//
//   {"QueueUrl":"…","Entries":[{"Id":"<index in the batch>","MessageBody":"<event JSON>",
//     "MessageAttributes":{"type":{"DataType":"String","StringValue":"mxgate.message.received"},
//                          "tenant":{"DataType":"String","StringValue":"acme"}},
//     "MessageGroupId":"<tenant>","MessageDeduplicationId":"<event id>"}]}   (the last two: FIFO)
//
// signed with SigV4 (aws/sigv4.h, service "sqs") with credentials from the provider.
// The attributes let consumers filter (Lambda event filtering, EventBridge Pipes) without
// parsing the body; empty values are left out (SQS refuses them).
//
// Batching: a publishEach() batch is cut, in order, into requests of at most 10 entries and at
// most 256 KiB of message payload (body + attribute names, types and values, as SQS counts
// it); the requests go out concurrently, at most `concurrency` over the whole sink
// (events/in_flight_limit.h). An event whose own payload is over 256 KiB is refused
// (kPermanentBackend) without being sent. maxBatch() is 10 x concurrency.
// FIFO queues (the queue name ends in ".fifo"): MessageGroupId is Event::tenant (ordering per
// tenant) and MessageDeduplicationId the event id (SQS drops a resend within its 5-minute
// window). A value SQS would refuse (empty, over 128 bytes, outside the alphanumeric and
// punctuation set) is replaced by "h-" + 40 hex digits of its SHA-256: deterministic, so the
// grouping and deduplication still hold.
//
// Outcomes: one Delivery per event — Successful[] ok, Failed[] and whole-request errors as
// events/sqs/sqs_response.h's table says (sqsErrorClass, sqsEntryErrorClass). An entry that
// the answer does not mention is kTransientBackend. Credentials not available: the
// provider's error class (kTransientBackend or kConfig).
//
// Threads: thread-safe. publish()/publishEach() block the caller until every request of the
// batch is answered (options.timeout bounds each); never call them on the client's threads.
// Trust: events are ours; the queue URL and region come from config. Answers are untrusted:
// see sqs_response.h. Messages name the queue URL (no secret in it) and never a credential.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "core/clock.h"
#include "core/result.h"
#include "events/event_sink.h"
#include "events/in_flight_limit.h"
#include "http/client.h"

namespace mx::events {

inline constexpr size_t kSqsMaxEntries = 10;
inline constexpr size_t kSqsMaxPayload = 256 * 1024;

struct SqsSinkOptions {
  std::string queue_url;  // https://sqs.eu-west-1.amazonaws.com/123456789012/mail-events[.fifo]
  // Empty: from the queue URL's host (sqs.<region>.amazonaws.com[.cn], or the legacy
  // <region>.queue.amazonaws.com); a custom endpoint needs it set.
  std::string region;
  uint32_t concurrency = 4;      // SendMessageBatch requests in flight, sink-wide
  Millis timeout{10000};         // each request
  const Clock* clock = nullptr;  // signing time; null: a RealClock
};

// The region named by an AWS SQS endpoint host, or nullopt.
std::optional<std::string> sqsRegionFromHost(std::string_view host);

// The payload size SQS counts for the event's message: body plus attributes.
size_t sqsMessageSize(const Event& event);

class SqsSink final : public EventSink {
 public:
  // Checks the options. `http` and `credentials` must outlive the sink.
  // Errors: kConfig naming the setting (queue_url and what is wrong with it; region).
  static Result<std::unique_ptr<SqsSink>> open(http::HttpClient& http, aws::CredentialsProvider& credentials,
                                               SqsSinkOptions options);

  // EventSink
  // ok when every event was taken; else the first retried failure if any, else the first
  // refused one.
  Status publish(std::span<const Event> batch) override;
  std::vector<Delivery> publishEach(std::span<const Event> batch) override;
  size_t maxBatch() const override { return kSqsMaxEntries * options_.concurrency; }

  bool fifo() const { return fifo_; }
  const std::string& region() const { return region_; }
  const std::string& endpoint() const { return endpoint_; }  // "scheme://authority/"

 private:
  struct Chunk {
    std::vector<size_t> indices;  // into the publishEach() batch
    std::string body;             // the SendMessageBatch JSON
  };
  SqsSink(http::HttpClient& http, aws::CredentialsProvider& credentials, SqsSinkOptions options, std::string region,
          std::string endpoint, bool fifo);
  std::string requestBody(std::span<const Event> batch, const std::vector<size_t>& indices) const;
  void send(const std::shared_ptr<const Chunk>& chunk, const std::shared_ptr<PendingDeliveries>& pending);
  void onAnswer(const Chunk& chunk, PendingDeliveries& pending, Result<http::Response> r);

  http::HttpClient& http_;
  aws::CredentialsProvider& credentials_;
  const SqsSinkOptions options_;
  RealClock real_clock_;
  const Clock& clock_;
  const std::string region_;
  const std::string endpoint_;
  const bool fifo_;
  aws::Signer signer_;
  InFlightLimit limit_;
};

}  // namespace mx::events
