// pipeline/pipeline.h — the embedded consumer of the spool (DESIGN.md "Data flow"):
// read a durable record → store the raw message at its raw key (bytes exactly as
// received) → optionally run the MessageProcessor and store its parsed JSON and
// attachments → build the CloudEvents event; then, per batch of up to batch_max records:
// make the batch's objects durable with one BlobStore::sync() → publish the batch of
// events through the EventSink (one sync) → checkpoint the spool reader past the batch.
// If the store sync fails, the batch is forgotten and read again (Reader::rewind()).
//
// Guarantees: at-least-once. A record is checkpointed only after its objects are stored
// and its event published, so after a crash the pipeline resumes at the first record
// that was not checkpointed: objects are rewritten under the same keys (idempotent) and
// events may repeat with the same id; nothing is lost or skipped. A store, sink or
// checkpoint failure is retried with exponential backoff for as long as the pipeline runs;
// the record in hand is never dropped.
//
// Threads: start() runs the loop on its own thread; counters() may be called from any
// thread. The store, sink and processor must outlive the Pipeline; the reader is owned.
// Trust: records come from the spool (CRC-checked); their envelopes and bodies are client
// bytes, which reach storage keys only through store::KeyLayout's sanitising.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "events/cloud_event.h"
#include "events/event_sink.h"
#include "pipeline/processor.h"
#include "spool/spool.h"
#include "store/blob_store.h"
#include "store/keys.h"

namespace mx::pipeline {

struct PipelineOptions {
  size_t batch_max = 256;       // records per store sync + event publish + checkpoint
  Millis idle_wait{100};        // how long one wait for new records lasts (stop latency)
  Millis retry_initial{50};     // first backoff after a failure; doubles up to retry_max
  Millis retry_max{5000};
  std::string hostname;         // for the event source; empty: gethostname()
  std::string key_prefix;       // storage key prefix (KeyLayout)
  // Where failures are reported (one line each). Empty: stderr. Called on the pipeline thread.
  std::function<void(std::string_view)> log;
  // Added to the pipeline thread's nice value (threads it starts inherit it). Reception
  // (the SMTP threads) then goes first when CPU is short; the spool absorbs the burst and
  // the pipeline catches up when the CPU is free. 0 leaves the priority alone.
  int nice = 0;
  // Run the pipeline thread under SCHED_IDLE instead: it runs only on CPU time no other
  // thread wants, and an SMTP thread that wakes preempts it at once (a niced thread can
  // still hold a core for its slice). Under sustained overload it runs rarely and the
  // spool grows. Ignored (with a log line) if the kernel refuses it.
  bool sched_idle = false;
};

struct PipelineCounters {
  uint64_t processed = 0;         // records stored, published and checkpointed
  uint64_t failures = 0;          // failed attempts (read, store, publish, checkpoint); retried
  uint64_t batches = 0;           // event batches published
  uint64_t bytes = 0;             // raw message bytes stored
  uint64_t attachments = 0;       // attachment objects stored
  uint64_t processor_errors = 0;  // messages the processor failed on (raw still stored)
};

class Pipeline {
 public:
  // `processor` may be null.
  Pipeline(std::unique_ptr<spool::Reader> reader, store::BlobStore& store, events::EventSink& sink,
           MessageProcessor* processor, PipelineOptions options);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Starts the pipeline thread. Call once.
  void start();
  // Drains: processes every record that is durable by now, publishes and checkpoints, then
  // stops the thread and returns. If a backend fails while draining, the pipeline gives up
  // at once instead of retrying (the record stays in the spool for the next start), so
  // stop() always returns. Stop the producers (the server) first. Idempotent.
  void stop();
  // Runs the same loop on the calling thread until no durable record is left (for tools
  // and tests). Returns the first backend failure, which is not retried.
  Status runUntilIdle();

  PipelineCounters counters() const;

 private:
  Status run(bool drain_only);
  Status processRecord(const spool::Record& record);
  Status flush();
  template <typename F>
  Status retrying(std::string_view what, F&& attempt);
  bool stopping() const { return drain_only_ || stop_.load(std::memory_order_relaxed); }
  void sleepFor(Millis d);
  void log(std::string_view line) const;

  std::unique_ptr<spool::Reader> reader_;
  store::BlobStore& store_;
  events::EventSink& sink_;
  MessageProcessor* processor_;
  PipelineOptions options_;
  store::KeyLayout keys_;

  // Pipeline thread only.
  bool drain_only_ = false;
  std::vector<events::Event> events_;
  spool::Record last_;    // lane and sequence of the last record in events_
  Millis read_backoff_{0};
  Millis sync_backoff_{0};

  std::atomic<bool> stop_{false};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::thread thread_;

  std::atomic<uint64_t> processed_{0}, failures_{0}, batches_{0}, bytes_{0}, attachments_{0},
      processor_errors_{0};
};

}  // namespace mx::pipeline
