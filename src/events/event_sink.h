// events/event_sink.h — EventSink: where "message received" events go (DESIGN.md
// "Contracts: events are at-least-once"). One interface, one subdirectory per backend:
// file/ (JSON lines, the embedded default); webhook/, kafka/, sqs/ later.
//
// Threads: implementations are thread-safe unless they say otherwise.
// Errors: a failed publish() may have delivered none, some or all of the batch; the caller
// retries the whole batch (consumers deduplicate by Event::id). kTransientBackend: retry
// with backoff; kPermanentBackend: the sink refuses these events (a dead-letter matter).
// Trust: events are built by our own code (cloud_event.h); sinks pass them through.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "core/result.h"

namespace mx::events {

struct Event {
  std::string id;    // idempotency key: the message id
  std::string type;  // CloudEvents "type", e.g. "mxgate.message.received"
  std::string json;  // the complete CloudEvents JSON object, one line (no newline)
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Publishes the batch, in order. ok: every event is durably accepted by the sink.
  virtual Status publish(std::span<const Event> batch) = 0;
};
using EventSinkPtr = std::unique_ptr<EventSink>;

}  // namespace mx::events
