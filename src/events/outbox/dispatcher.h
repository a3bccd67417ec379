// events/outbox/dispatcher.h — Dispatcher: the one thread per sink that drains the sink's
// outbox (DESIGN.md "Contracts: events are at-least-once"; docs/events.md).
//
// It reads the outbox in order into a window (at most `window` events in memory), delivers
// the events that are due in calls of up to sink.maxBatch() (EventSink::publishEach: one
// outcome per event), and checkpoints the outbox past the longest prefix of finished
// events. An event finishes when the sink confirmed it, or when it is dead-lettered:
//   * refused (retry.h dispositionOf: kPermanentBackend, kProtocol, kPolicy, kResource):
//     at once;
//   * retryable: it is tried again after a delay drawn with full jitter from
//     [0, min(retry.max, retry.initial * 2^attempts)], or after the sink's Retry-After if
//     that is longer — until `max_attempts` failed attempts (0: no bound) or `max_age` since
//     its first failure, when it is dead-lettered with the last error.
// A dead letter is written durably to the sink's dead-letter log (a SinkQueue, replayable)
// and to its JSON-lines file (dead_letter.h) for people, counted and logged (sink, event
// id, reason); if a dead-letter sink is configured, the event is also published there
// (best effort: the log holds it either way). Nothing leaves the outbox without a trace.
//
// When every attempt of a round fails with a retryable error, the whole sink pauses for a
// backoff of its own (same schedule), so a dead endpoint is not hammered by each event's
// timer. When the window is full and its head is waiting for a retry while later events
// are being delivered, the waiting events are appended again at the outbox's tail with
// their attempt counts (durably first) and finished here, so one event that a sink keeps
// refusing with 429 never holds the others back.
//
// Checkpoints are written at most every `checkpoint_every` (or per 1,024 finished events,
// or at stop): after a crash, events confirmed since the last one are delivered again with
// the same id (at-least-once; consumers deduplicate by id).
//
// Replay: requests dropped in <sink dir>/replay/ by `mxgate outbox replay` are taken every
// second: dead letters of the dead-letter log (those dead-lettered at or after `since`) go
// back into the outbox with their attempts reset; the others stay.
//
// Threads: start() runs the loop on its own thread; stop() from any thread; wake() from
// any thread (the Outbox calls it after an append). The sink, queues, files and metrics
// must outlive the dispatcher. publishEach() is only ever called from this thread.
// Trust: records are CRC-checked by the spool and decoded defensively (outbox_record.h);
// a record that does not decode is dead-lettered as unreadable, never retried forever.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "events/dead_letter.h"
#include "events/event_sink.h"
#include "events/outbox/outbox_metrics.h"
#include "events/outbox/outbox_record.h"
#include "events/outbox/sink_queue.h"
#include "events/retry.h"

namespace mx::events {

struct DispatchOptions {
  BackoffOptions retry{Millis(1'000), Millis(3'600'000)};  // full jitter between these
  Millis max_age{24ll * 3'600'000};                        // from the first failure to the dead letter
  uint32_t max_attempts = 0;                               // failed attempts before the dead letter; 0: only max_age
  size_t window = 1024;                                    // events held in memory (delivering or waiting)
  Millis checkpoint_every{200};
  Millis idle_wait{50};  // the longest sleep between looks at the outbox
};

// A delay drawn with "full jitter" (uniform in [0, min(max, initial * 2^attempt)]), at
// least 1 ms.
Millis fullJitter(const BackoffOptions& o, uint32_t attempt, const RandomSource& random);

// What a dispatcher and the CLI share about one sink's files.
struct SinkFiles {
  std::string name;
  SinkQueue* queue = nullptr;           // the outbox
  SinkQueue* dead = nullptr;            // the dead-letter log (replayable)
  DeadLetterFile* dead_file = nullptr;  // the same letters as JSON lines, for people
  std::string replay_dir;               // <sink dir>/replay
};

// Moves the dead letters dead-lettered at or after `since_ms` back into the outbox (their
// attempts reset) and keeps the others; returns how many were moved. Needs the dead
// queue's reader (the owner: the dispatcher's thread, or a CLI holding the lock).
Result<uint64_t> replayDeadLetters(const SinkFiles& files, int64_t since_ms);

// Drops a replay request for the running mxgate that owns the sink's directory.
Status requestReplay(const std::string& replay_dir, int64_t since_ms);

class Dispatcher {
 public:
  Dispatcher(SinkFiles files, EventSink& sink, EventSink* dead_letter_sink, DispatchOptions options,
             OutboxMetrics& metrics, const Clock& clock, RandomSource random,
             std::function<void(std::string_view)> log);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  // Finishes the current delivery call, checkpoints what is finished, stops the thread.
  // Everything else stays durable in the outbox for the next start. Idempotent.
  void stop();
  // New events were appended: look now instead of after idle_wait.
  void wake();
  // Runs rounds on the calling thread until nothing is due and the outbox is read to its
  // end, or `limit` passes (tests, and the CLI's offline drain). Returns events finished.
  uint64_t runUntilIdle(Millis limit);

 private:
  enum class State : uint8_t { kWaiting, kDone };
  struct Item {
    OutboxEntry entry;
    uint64_t lane = 0, sequence = 0;
    int64_t enqueued_ms = 0;  // appended to the outbox (the record's received_at)
    int64_t id_ms = 0;        // the message id's time (its 250); 0 if the id does not parse
    State state = State::kWaiting;
    ErrorClass last_class = ErrorClass::kTransientBackend;  // of the last failed attempt
  };

  void run();
  bool round();  // one pass; true if anything was delivered, finished or read
  bool fill();
  bool deliverDue(int64_t now_ms);
  void finishFailed(Item& item, const Delivery& d, int64_t now_ms);
  // Dead-letters the items (durably); false when that failed (they stay waiting).
  bool deadLetter(std::vector<Item*>& items, int64_t now_ms);
  void checkpoint(bool force);
  void rotateHead(int64_t now_ms);
  void pollReplay(int64_t now_ms);
  void idleWait(int64_t now_ms);
  int64_t nowMs() const { return unixMillis(clock_.wall()); }
  void log(const std::string& line) const;

  SinkFiles files_;
  EventSink& sink_;
  EventSink* dead_letter_sink_;
  DispatchOptions options_;
  OutboxMetrics& metrics_;
  const Clock& clock_;
  RandomSource random_;
  std::function<void(std::string_view)> log_;

  std::deque<Item> window_;
  uint32_t sink_failures_ = 0;  // consecutive rounds where every attempt failed (retryable)
  int64_t sink_paused_until_ms_ = 0;
  int64_t last_checkpoint_ms_ = 0;
  int64_t last_replay_poll_ms_ = 0;
  bool delivered_since_rotation_ = false;
  bool read_error_logged_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace mx::events
