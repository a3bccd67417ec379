// events/outbox/sink_queue.h — SinkQueue: one durable queue of events, on the spool's
// segment log (src/spool: append-only segments, group commit, CRC, recovery, checkpoints;
// docs/spool.md). Each configured sink has two: its outbox (events not yet confirmed by the
// sink) and its dead-letter log (events given up on, kept for `mxgate outbox replay`).
//
// append() writes each entry as one spool record (envelope: the event's id and tenant, and
// as received_at the time of the append; body: outbox_record.h) and returns once all of them are on stable storage (one
// fdatasync for the lot, whatever the number). The queue's single reader hands records
// back in append order, across restarts, from the last checkpoint.
//
// Threads: append() from any thread; the reader belongs to one consumer (the sink's
// dispatcher, or a CLI that holds the directory lock). Another process holding the same
// directory makes open() fail with kConfig ("in use by another process").
// Errors: I/O failures are kTransientBackend, named with the path.
// Trust: what is read back is CRC-checked by the spool; bodies are then decoded by
// outbox_record.h, which does not trust them either.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "events/outbox/outbox_record.h"
#include "spool/spool.h"

namespace mx::events {

// The commits of one appendAsync() call; wait() returns when all are durable (or failed).
class AppendTicket {
 public:
  Status wait();

 private:
  friend class SinkQueue;
  void done(Status s);
  std::mutex mu_;
  std::condition_variable cv_;
  size_t pending_ = 0;
  Status first_ = okStatus();
};

class SinkQueue {
 public:
  static Result<std::unique_ptr<SinkQueue>> open(const std::string& dir, bool fsync,
                                                 std::function<void(std::string_view)> log);
  ~SinkQueue();

  // Appends the entries, durably, in order. ok: every one is on disk.
  Status append(std::span<const OutboxEntry> entries) { return appendAsync(entries)->wait(); }
  // Writes the entries and queues them for the group commit without waiting, so that
  // several queues' fdatasyncs overlap; the ticket's wait() is append()'s answer.
  std::shared_ptr<AppendTicket> appendAsync(std::span<const OutboxEntry> entries);
  // The one reader (created at open; the spool's rules, spool.h Reader).
  spool::Reader& reader() { return *reader_; }
  // Records durable and not checkpointed.
  uint64_t backlog() const { return spool_->stats().backlog(); }
  // Bytes the queue's files take on disk (segments, checkpoint), measured at most every
  // 100 ms (cached in between). For the outbox's size bound.
  uint64_t diskBytes();
  const std::string& dir() const { return dir_; }
  spool::SpoolStats stats() const { return spool_->stats(); }

 private:
  SinkQueue(std::string dir, std::unique_ptr<spool::Spool> spool);

  std::string dir_;
  std::unique_ptr<spool::Spool> spool_;
  std::unique_ptr<spool::Reader> reader_;
  std::atomic<uint64_t> disk_bytes_{0};
  std::atomic<int64_t> disk_measured_ms_{0};
};

}  // namespace mx::events
