// pipeline/spool_consumer.h — SpoolConsumer: the embedded consumer of the spool (DESIGN.md
// "Data flow"). One thread reads durable records, hands each to the MessageHandler
// (objects stored, event built), and per batch of up to batch_max records: makes the
// batch's objects durable (one MessageHandler::syncObjects()), publishes the batch's events
// (one EventSink::publish(), in mxgate into the sinks' durable outboxes), then checkpoints the
// spool reader past the batch. Between batches (and when idle, every retry_poll) it also
// takes the quarantine's retry inbox (quarantine.h) through the same handler.
//
// Failures are decided by FailurePolicy (failure_policy.h), by error class:
//   * a message's transient failure: backoff with jitter and the message is handled again;
//     after retry.give_up_after it goes to the quarantine;
//   * a message's permanent failure (the store refuses its object): straight to the
//     quarantine, with its reason, a metric and a log line; the consumer moves on;
//   * the batch's store sync fails: the batch is read again (Reader::rewind()), except the
//     records already quarantined, after a backoff;
//   * reading the spool or writing the checkpoint or the quarantine fails: backoff, again.
//
// Guarantees: at-least-once, nothing lost. A record is checkpointed only after its objects
// are durable and its event published, or after it is durably in the quarantine. After a
// crash the consumer resumes at the first record not checkpointed: objects are rewritten
// under the same keys, events may repeat with the same id. A retried quarantine entry is
// deleted only after its objects are durable and its event published.
//
// Threads: start() runs the loop on its own thread; stop() from any thread. Metrics may be
// read from any thread. The handler, sink, quarantine, metrics and waiter must outlive the
// consumer; the reader is owned.
// Trust: records come from the spool (CRC-checked); their bytes are the handler's concern.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "events/event_sink.h"
#include "events/retry.h"
#include "pipeline/failure_policy.h"
#include "pipeline/message_handler.h"
#include "pipeline/metrics.h"
#include "pipeline/quarantine.h"
#include "spool/spool.h"

namespace mx::pipeline {

struct SpoolConsumerOptions {
  size_t batch_max = 256;       // records per store sync + event publish + checkpoint
  Millis idle_wait{100};        // how long one wait for new records lasts (stop latency)
  Millis retry_poll{500};       // how often the quarantine's retry inbox is looked at
  RetryOptions retry;           // backoff and give_up_after (failure_policy.h)
  // Where failures and quarantining are reported (one line each). Empty: stderr. Called on
  // the consumer thread.
  std::function<void(std::string_view)> log;
  // Ends the consumer's waits on stop(); may be shared with others that should stop too. Null: an own one.
  events::StopWaiter* stop_waiter = nullptr;
  // Tests: waits go here instead of sleeping (stop is still checked). Null: stop_waiter.
  events::Waiter* waiter_for_test = nullptr;
  const Clock* clock = nullptr;        // for failure times and the retry poll; null: real
  events::RandomSource random;         // for jitter; null: events::defaultRandom()
  // Added to the consumer thread's nice value; 0 leaves it alone (see sched_idle).
  int nice = 0;
  // Run the consumer thread under SCHED_IDLE: only CPU time no other thread wants, and an
  // SMTP thread that wakes preempts it at once. Ignored (with a log line) if refused. Once
  // stop() asks it to drain, the thread returns to SCHED_OTHER so the drain finishes on a
  // busy machine.
  bool sched_idle = false;
};

class SpoolConsumer {
 public:
  SpoolConsumer(std::unique_ptr<spool::Reader> reader, MessageHandler& handler, events::EventSink& sink,
                Quarantine& quarantine, SpoolConsumerOptions options, PipelineMetrics& metrics);
  ~SpoolConsumer();
  SpoolConsumer(const SpoolConsumer&) = delete;
  SpoolConsumer& operator=(const SpoolConsumer&) = delete;

  // Starts the consumer thread. Call once.
  void start();
  // Drains: processes every record durable by now (and the retry inbox), publishes and
  // checkpoints, then stops the thread and returns. A transient failure while draining is
  // not waited on: the record stays in the spool for the next start, so stop() returns.
  // Permanent failures still go to the quarantine. Stop the producers first. Idempotent.
  void stop();
  // Runs the same loop on the calling thread until no durable record (and no retry) is
  // left, without waiting on transient failures. Returns the first failure not waited on.
  Status runUntilIdle();

 private:
  enum class Outcome { kHandled, kQuarantined };

  Status run();
  Status flush();
  Status pollRetries(bool force);
  // Handles one message until its event is in `*event` or it is durably quarantined; an
  // error only when a failure was not waited on (stopping).
  Result<Outcome> handleMessage(std::string_view raw, const Envelope& env, const std::string& origin,
                                const QuarantineFailure& prior, uint32_t retries, events::Event* event);
  Status quarantineDurably(const Envelope& env, std::string_view raw, const QuarantineFailure& failure,
                           const std::string& origin, uint32_t retries);
  Status publish(std::vector<events::Event>& events);
  bool stopping() const { return stop_waiter_.stopRequested(); }
  bool waitFor(Millis d);
  void log(std::string_view line) const;
  void markDone(const spool::Record& r);
  bool hasPending() const { return !events_.empty() || have_done_; }

  std::unique_ptr<spool::Reader> reader_;
  MessageHandler& handler_;
  events::EventSink& sink_;
  Quarantine& quarantine_;
  SpoolConsumerOptions options_;
  PipelineMetrics& metrics_;
  RealClock real_clock_;
  const Clock& clock_;
  events::StopWaiter own_waiter_;
  events::StopWaiter& stop_waiter_;
  FailurePolicy policy_;

  // Consumer thread only.
  std::vector<events::Event> events_;              // the batch's events (spool records)
  bool have_done_ = false;                         // the batch holds records to checkpoint
  spool::Record last_;                             // lane and sequence of the batch's last record
  std::set<std::pair<uint64_t, uint64_t>> quarantined_;  // (lane, sequence) quarantined this batch
  MonoTime last_poll_{};
  std::optional<FailureState> sync_failures_;  // consecutive failed batch syncs; reset by one that succeeds

  std::thread thread_;
};

}  // namespace mx::pipeline
