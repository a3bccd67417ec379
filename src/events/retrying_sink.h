// events/retrying_sink.h — RetryingSink: the decorator every configured sink is wrapped in
// (the boundary where the durable per-sink outbox of a later issue plugs in). The pipeline
// publishes through it; it publishes through the real sink and decides, by error class
// (retry.h dispositionOf), what a failure means:
//
//   transient (kTransientBackend, kConfig, kNotFound): wait (exponential backoff with
//     jitter) and publish the batch again, for as long as it takes — or until the Waiter
//     says stop (shutdown or drain), when publish() returns the error and the caller keeps
//     the records un-checkpointed for the next start.
//   refused (kPermanentBackend, kProtocol, kPolicy, kResource): the sink will never take
//     (some event of) this batch. The events are then published one at a time to find the
//     refused ones; each refused event is written to the dead-letter file with its reason
//     (dead_letter.h), counted and logged; the others are delivered. publish() returns ok,
//     so a sink that refuses everything cannot stop the pipeline's checkpoint.
//
// What it guarantees: publish() returns ok only when every event of the batch has been
// accepted by the sink or durably written as a dead letter; at-least-once holds (a batch
// may be delivered more than once, consumers deduplicate by Event::id).
// What it does not: without the outbox, a sink that fails *transiently* makes publish()
// wait, and the pipeline waits with it (reception goes on into the spool; the spool's
// depth and oldest-record age grow). The outbox will take the event durably and return at
// once, retrying in the background and dead-lettering after a bound.
//
// Threads: publish() may be called from several threads; each call has its own backoff.
// The inner sink, the dead-letter file, the waiter and the observer must outlive this.
// Trust: as event_sink.h.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "core/clock.h"
#include "events/dead_letter.h"
#include "events/event_sink.h"
#include "events/retry.h"

namespace mx::events {

// Told about each publish outcome (for metrics). Called on the publishing thread.
class DeliveryObserver {
 public:
  virtual ~DeliveryObserver() = default;
  virtual void onDelivered(size_t events) {}
  virtual void onAttemptFailed(const Error& error) {}
  virtual void onDeadLettered(size_t events) {}
};

struct RetryingSinkOptions {
  std::string sink_name = "sink";      // in log lines and dead letters (the events.sink name)
  BackoffOptions backoff;
  RandomSource random;                 // null: defaultRandom()
  Waiter* waiter = nullptr;            // null: an internal StopWaiter (never stops)
  const Clock* clock = nullptr;        // for dead letters' time; null: the real clock
  DeliveryObserver* observer = nullptr;
  // One line per failure, dead letter and recovery (no newline). Null: stderr.
  std::function<void(std::string_view)> log;
};

class RetryingSink final : public EventSink {
 public:
  RetryingSink(EventSink& inner, DeadLetterFile& dead_letters, RetryingSinkOptions options);

  // EventSink
  Status publish(std::span<const Event> batch) override;

 private:
  // Publishes the events one at a time, dead-lettering the refused ones.
  Status isolateRefused(std::span<const Event> batch, Backoff& backoff, uint32_t batch_attempts);
  Status writeDeadLetters(std::span<const DeadLetter> letters, Backoff& backoff);
  void log(const std::string& line) const;

  EventSink& inner_;
  DeadLetterFile& dead_;
  RetryingSinkOptions options_;
  StopWaiter own_waiter_;
  Waiter& waiter_;
  RealClock real_clock_;
  const Clock& clock_;
};

}  // namespace mx::events
