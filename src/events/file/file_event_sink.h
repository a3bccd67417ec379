// events/file/file_event_sink.h — EventSink appending one JSON line per event to a file
// (JSON Lines; e.g. var/events.jsonl): the embedded default, and what tests read.
//
// Durability: publish() writes the whole batch with one write and one fdatasync, so a
// batch of N events costs one sync. On open, a partial last line (a publish that crashed
// before it returned) is cut off: it was never acknowledged and its batch will be published
// again. If a write or sync fails, the file is truncated back to where the batch began,
// so a retried batch does not leave a torn line in the middle of the file.
// Each line is one event's JSON; a raw CR or LF in it (only possible as insignificant
// whitespace, JSON strings escape them) is replaced by a space so a line is an event.
//
// Threads: thread-safe; concurrent publishers are serialised (each batch is contiguous).
// Trust: the file is ours; events come from cloud_event.h.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "events/event_sink.h"

namespace mx::events {

struct FileEventSinkOptions {
  std::string path;   // created if missing (its directory too)
  bool fsync = true;  // false only for benchmarks and tests that do not crash
};

class FileEventSink final : public EventSink {
 public:
  static Result<std::unique_ptr<FileEventSink>> open(const FileEventSinkOptions& options);
  ~FileEventSink() override;

  // EventSink
  Status publish(std::span<const Event> batch) override;

  uint64_t syncCount() const { return syncs_.load(std::memory_order_relaxed); }
  uint64_t eventCount() const { return events_.load(std::memory_order_relaxed); }

 private:
  FileEventSink(std::string path, int fd, uint64_t size, bool fsync);

  const std::string path_;
  const int fd_;
  const bool fsync_;
  std::mutex mu_;
  uint64_t size_;  // guarded by mu_: bytes of complete, acknowledged lines
  std::string buf_;  // guarded by mu_
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> events_{0};
};

}  // namespace mx::events
