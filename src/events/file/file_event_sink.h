// events/file/file_event_sink.h — EventSink appending one JSON line per event to a file
// (JSON Lines; e.g. var/events.jsonl): the embedded default, and what tests read.
//
// Durability (events/jsonl_file.h): publish() writes the whole batch with one write and
// one fdatasync, so a batch of N events costs one sync. On open, a partial last line (a
// publish that crashed before it returned) is cut off: it was never acknowledged and its
// batch will be published again. If a write or sync fails, the file is truncated back to
// where the batch began, so a retried batch does not leave a torn line in the middle of the
// file. Each line is one event's JSON.
// Errors: only kTransientBackend (a local file never refuses an event for good).
//
// Threads: thread-safe; concurrent publishers are serialised (each batch is contiguous).
// Trust: the file is ours; events come from cloud_event.h.
#pragma once

#include <memory>
#include <string>

#include "events/event_sink.h"
#include "events/jsonl_file.h"

namespace mx::events {

struct FileEventSinkOptions {
  std::string path;   // created if missing (its directory too)
  bool fsync = true;  // false only for benchmarks and tests that do not crash
};

class FileEventSink final : public EventSink {
 public:
  static Result<std::unique_ptr<FileEventSink>> open(const FileEventSinkOptions& options);

  // EventSink
  Status publish(std::span<const Event> batch) override;

  uint64_t syncCount() const { return file_->syncCount(); }
  uint64_t eventCount() const { return file_->lineCount(); }

 private:
  explicit FileEventSink(std::unique_ptr<JsonLinesFile> file) : file_(std::move(file)) {}

  std::unique_ptr<JsonLinesFile> file_;
};

}  // namespace mx::events
