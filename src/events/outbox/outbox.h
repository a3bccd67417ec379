// events/outbox/outbox.h — Outbox: the durable per-sink queues between the pipeline and
// the event sinks (DESIGN.md "Contracts: events are at-least-once"; docs/events.md).
//
// The pipeline publishes each batch's events into the Outbox (it is an EventSink). For
// every event, the tenant's sinks are looked up (`route`; by default every sink), and the
// event is appended to each of those sinks' outbox — all of them written first, then one
// wait for their group commits — before publish() returns ok and the pipeline checkpoints
// the spool. From there one Dispatcher per sink (dispatcher.h) delivers, retries,
// dead-letters; a slow or dead sink delays nobody but itself.
//
// Backpressure: a sink whose outbox takes more than `max_bytes` on disk makes publish()
// fail with kTransientBackend ("outbox of sink X is full"): the pipeline retries with
// backoff, the spool absorbs the backlog, and spool.min_free finally turns it into
// 452 4.3.1 at RCPT. The disk never grows without bound.
//
// Layout under `dir`, per sink: <name>/queue/ (the outbox, a spool), <name>/dead/ (the
// dead-letter log, a spool), <name>/dead-letters.jsonl (the same letters for people),
// <name>/replay/ (requests from `mxgate outbox replay`).
//
// Threads: publish() from any thread (the pipeline's); start()/stop() from the owner.
// Errors: open() names the sink and path (kConfig when another process holds it);
// publish(): kTransientBackend (I/O, full).
// Trust: events are ours (cloud_event.h).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "events/dead_letter.h"
#include "events/event_sink.h"
#include "events/outbox/dispatcher.h"
#include "events/outbox/outbox_metrics.h"
#include "events/outbox/sink_queue.h"

namespace mx::events {

// One configured sink, as the outbox takes it.
struct OutboxSink {
  std::string name;
  EventSink* sink = nullptr;              // the backend; not owned; must outlive the outbox
  EventSink* dead_letter_sink = nullptr;  // optional: dead letters are also published there
  DispatchOptions dispatch;
  uint64_t max_bytes = 1ull << 30;  // the outbox's bound on disk
  std::string dead_letter_file{};   // the JSON-lines dead letters; empty: <dir>/<name>/dead-letters.jsonl
};

struct OutboxOptions {
  std::string dir = "var/outbox";
  bool fsync = true;
  // The indexes (into the sinks given to open()) of the sinks a tenant's events go to.
  // Null: every sink.
  std::function<std::vector<size_t>(std::string_view tenant)> route;
  const Clock* clock = nullptr;               // null: the real clock
  RandomSource random;                        // null: defaultRandom()
  std::function<void(std::string_view)> log;  // one line each; null: stderr
};

// One sink's figures for `mxgate outbox status`.
struct OutboxSinkStatus {
  std::string name;
  uint64_t depth = 0;          // events not yet confirmed
  int64_t oldest_unix_ms = 0;  // the oldest held event's reception time; 0: none
  uint64_t dead_letters = 0;   // in the dead-letter log
  uint64_t disk_bytes = 0;
};

class Outbox final : public EventSink {
 public:
  static Result<std::unique_ptr<Outbox>> open(OutboxOptions options, std::vector<OutboxSink> sinks);
  ~Outbox() override;
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // EventSink: appends each event to its tenant's sinks' outboxes; ok once durable there.
  Status publish(std::span<const Event> batch) override;

  // Starts / stops the dispatchers (stop: the outboxes keep what is not delivered).
  void start();
  void stop();

  size_t sinkCount() const { return sinks_.size(); }
  const OutboxMetrics& metrics(size_t i) const { return *sinks_[i]->metrics; }
  OutboxSinkStatus status(size_t i) const;
  // The sink's dispatcher, for tests and the CLI's offline drain.
  Dispatcher& dispatcher(size_t i) { return *sinks_[i]->dispatcher; }
  const SinkFiles& files(size_t i) const { return sinks_[i]->files; }
  // The Prometheus text of every sink's figures (labelled sink="<name>").
  std::string renderMetrics() const;

 private:
  struct PerSink {
    OutboxSink config;
    std::unique_ptr<SinkQueue> queue, dead;
    std::unique_ptr<DeadLetterFile> dead_file;
    std::unique_ptr<OutboxMetrics> metrics;
    SinkFiles files;
    std::unique_ptr<Dispatcher> dispatcher;
  };
  explicit Outbox(OutboxOptions options) : options_(std::move(options)) {}
  void log(std::string_view line) const;

  OutboxOptions options_;
  RealClock real_clock_;
  std::vector<std::unique_ptr<PerSink>> sinks_;
  bool started_ = false;
};

}  // namespace mx::events
