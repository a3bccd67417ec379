// events/kafka/kafka_sink.h — EventSink publishing each event as one Kafka record (Apache
// Kafka, Amazon MSK), through librdkafka (Debian librdkafka-dev 2.0.2) as an idempotent
// producer (enable.idempotence=true, acks=all: no duplicates from the producer's own retries,
// order kept per partition).
//
// Record shape: CloudEvents Kafka protocol binding (spec v1.0.2, kafka-protocol-binding):
//   binary mode (§3.2, the default): one `ce_<attribute>` header per context attribute present
//     in the event (specversion, id, source, type, time, subject, traceparent, ...), header
//     `content-type` = the event's datacontenttype, value = the exact JSON text of `data`
//     (events/cloud_event_split.h reads the structured JSON back);
//   structured mode (§3.3): header `content-type: application/cloudevents+json; charset=UTF-8`,
//     value = the whole event JSON.
// Topic: options.topic with "{tenant}" replaced by Event::tenant, checked against Kafka's
// rule (1–249 of [a-zA-Z0-9._-], not "." or ".."). Key: Event::id or Event::tenant (§3.1:
// the key is not a CloudEvents attribute here, only the partitioning choice).
//
// Delivery: publishEach() produces every event, then waits for every delivery report, at most
// delivery_timeout plus a 2 s grace (librdkafka's message.timeout.ms is set to delivery_timeout,
// so it times out what it could not deliver and reports it; the grace covers its 1 s timeout
// scan). A report that never came counts as transient. Each report maps to a Delivery through
// one table (kafkaErrorClass below): ok; kTransientBackend for what may heal (timeouts,
// brokers down, leader changes, not enough replicas, queue full, a fatal producer that is then
// recreated); kNotFound for an unknown topic (it may yet be created: retried); kConfig for a
// failed SASL/TLS authentication (an operator fixes it: retried); kPermanentBackend for what
// will never be accepted (message too large, invalid topic, topic or cluster authorization
// refused, policy violation, and any code the table does not know); kProtocol for an event
// whose stored JSON cannot be split in binary mode. A transient result may still be
// delivered later (librdkafka's "possibly persisted"): events are at-least-once and carry their
// id, so consumers deduplicate.
// Fatal errors (the idempotent producer's, e.g. an out-of-order sequence): the next
// publishEach() drains and destroys the producer and creates a new one from the same config.
//
// Auth (options.auth): "none" (PLAINTEXT; tests), "sasl_scram" (SASL_SSL, SCRAM-SHA-256/512,
// RFC 5802/7677), "mtls" (SSL with a client certificate), "msk_iam" (SASL_SSL + OAUTHBEARER,
// RFC 7628, with the MSK IAM token of msk_iam_token.h, refreshed by librdkafka at 80% of its
// 900 s lifetime from options.credentials->current(), never blocking on the network).
//
// Threads: publish()/publishEach() are thread-safe; concurrent calls are serialised (the
// outbox calls them from one dispatcher thread per sink). One background thread polls the
// producer (delivery reports, token refresh, errors). options.log is called from librdkafka's
// threads and from the poll thread: it must be thread-safe. The destructor must not race a
// publish; it flushes what is queued for at most min(delivery_timeout, 10 s), purges the rest,
// and destroys the producer.
// Errors from open(): kConfig naming the option or the librdkafka property and its reason.
// Trust: events come from our outbox (their JSON is validated in binary mode); broker answers
// are librdkafka's business; secrets (password, keys, tokens) are never logged.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aws/credentials.h"
#include "core/clock.h"
#include "events/event_sink.h"

// librdkafka's handle, kept out of this header (its C API is an implementation detail).
struct rd_kafka_s;

namespace mx::events {

struct KafkaSinkOptions {
  std::string brokers;                              // bootstrap.servers: "host:port,host:port"
  std::string topic;                                // template: "{tenant}" is replaced by Event::tenant
  std::string key = "id";                           // "id" | "tenant": the record key
  std::string mode = "binary";                      // "binary" | "structured" (CloudEvents content mode)
  std::string auth = "none";                        // "none" | "sasl_scram" | "msk_iam" | "mtls"
  std::string sasl_mechanism = "SCRAM-SHA-512";     // sasl_scram: "SCRAM-SHA-256" | "SCRAM-SHA-512"
  std::string username, password;                   // sasl_scram
  std::string ca_file, cert_file, key_file;         // ssl.ca.location (any TLS auth); mtls: cert + key
  std::string region;                               // msk_iam: "eu-west-1"
  aws::CredentialsProvider* credentials = nullptr;  // msk_iam; must outlive the sink
  // Passed to librdkafka as they are, after everything above (so they win).
  std::map<std::string, std::string> properties;
  Millis delivery_timeout{30000};             // message.timeout.ms, and the bound of one publishEach()
  std::function<void(std::string_view)> log;  // librdkafka's log lines and errors; empty: stderr
};

// The one table from a librdkafka error code (an rd_kafka_resp_err_t value, from a delivery
// report or from produce) to the error class of its Delivery. 0 (no error) is not an error:
// callers do not ask.
ErrorClass kafkaErrorClass(int rd_kafka_resp_err);

class KafkaSink final : public EventSink {
 public:
  static Result<std::unique_ptr<KafkaSink>> open(KafkaSinkOptions options);
  ~KafkaSink() override;
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  // EventSink
  Status publish(std::span<const Event> batch) override;
  std::vector<Delivery> publishEach(std::span<const Event> batch) override;
  size_t maxBatch() const override { return 10000; }

  // The topic of `event`, or an error (kPermanentBackend) naming why it is not a valid topic.
  Result<std::string> topicFor(const Event& event) const;

  // Tests: raise an idempotent-producer fatal error (rd_kafka_test_fatal_error) on the current
  // producer; the next publishEach() must recreate it.
  void raiseFatalErrorForTest();
  uint64_t producersCreatedForTest() const { return producers_created_.load(); }
  // Tests (msk_iam): how many tokens were handed to librdkafka, and the last refresh failure.
  uint64_t tokensSetForTest() const { return tokens_set_.load(); }
  std::string lastTokenErrorForTest() const;

  // Named types of the .cc (shared with librdkafka's C callbacks).
  struct Batch;
  struct Callbacks;

 private:
  explicit KafkaSink(KafkaSinkOptions options);
  Status createProducer();  // builds the config, creates the handle, starts the poll thread
  void destroyProducer();   // stops polling, flushes with a bound, purges, destroys
  void collectFinishedBatches();
  void log(std::string_view line) const;
  Delivery produceOne(const Event& event, Batch& batch, size_t index);

  const KafkaSinkOptions options_;
  std::mutex publish_mu_;  // serialises publishers; guards rk_ changes
  rd_kafka_s* rk_ = nullptr;
  std::thread poller_;
  std::atomic<bool> stop_polling_{false};
  std::atomic<bool> fatal_{false};
  std::atomic<uint64_t> producers_created_{0};
  std::atomic<uint64_t> tokens_set_{0};
  mutable std::mutex token_mu_;
  std::string last_token_error_;
  // Batches that returned before all their reports came back: kept alive (their slots are the
  // messages' opaques) until the reports arrive or the producer is destroyed.
  std::vector<std::shared_ptr<Batch>> unfinished_;
};

}  // namespace mx::events
