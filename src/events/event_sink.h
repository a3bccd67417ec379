// events/event_sink.h — EventSink: where "message received" events go (DESIGN.md
// "Contracts: events are at-least-once"). One interface, one subdirectory per backend:
// file/ (JSON lines, the embedded default), webhook/, kafka/, sqs/; and the durable
// per-sink outbox (outbox/) that the pipeline publishes into, whose dispatchers deliver to
// the backends.
//
// Two ways to publish:
//   publish()      all or nothing: ok means every event of the batch is durably taken.
//   publishEach()  one outcome per event, for a sink that can confirm or refuse events one
//                  by one (an SQS batch's per-entry failures, Kafka delivery reports, one
//                  webhook request per event). The outbox's dispatcher uses this one.
// Threads: implementations are thread-safe unless they say otherwise.
// Errors: a failed publish() may have delivered none, some or all of the batch; the caller
// retries the whole batch (consumers deduplicate by Event::id). The error class decides
// (retry.h dispositionOf): kTransientBackend is retried with backoff; kPermanentBackend,
// kProtocol and kPolicy mean the sink refuses the event for good (a dead letter).
// Trust: events are built by our own code (cloud_event.h); sinks pass them through.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"

#include "core/result.h"

namespace mx::events {

struct Event {
  std::string id;      // idempotency key: the message id (CloudEvents "id")
  std::string type;    // CloudEvents "type", e.g. "mxgate.message.received"
  std::string tenant;  // routing: which sinks take it, Kafka topic template, SQS group id
  std::string json;    // the complete CloudEvents JSON object (structured mode), one line
};

// The outcome of one event of a publishEach() call.
struct Delivery {
  Status status = okStatus();  // ok: the sink confirmed the event (durably taken)
  // The sink asked for this pause before the next attempt (HTTP Retry-After, a throttling
  // answer); 0: no such request. Only meaningful with an error status.
  Millis retry_after{0};
};

// publish()'s answer from publishEach()'s outcomes, for a sink whose publish() is
// publishEach() (webhook, SQS): ok if every event was taken; else the first retryable error
// (the batch will be sent again), else the first refusal.
Status combinedStatus(std::span<const Delivery> deliveries);

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Publishes the batch, in order. ok: every event is durably accepted by the sink.
  virtual Status publish(std::span<const Event> batch) = 0;
  // Publishes the batch and returns one outcome per event, in the batch's order. The
  // default publishes the whole batch with publish() and gives every event its result.
  virtual std::vector<Delivery> publishEach(std::span<const Event> batch);
  // The most events one publish()/publishEach() call should carry (SQS: 10 per request;
  // a webhook sink: what it sends concurrently). Callers split larger batches.
  virtual size_t maxBatch() const { return 256; }
};
using EventSinkPtr = std::unique_ptr<EventSink>;

}  // namespace mx::events
