// events/dead_letter.h — where events that a sink refused for good end up: a JSON Lines
// file (events.dead_letter_file), one line per refused event:
//   {"dead_lettered_at":"<RFC 3339>","sink":"<name>","error_class":"permanent_backend",
//    "reason":"<the sink's error>","attempts":N,"event":{<the CloudEvents event, as sent>}}
// so an operator can see why and replay the "event" objects once the cause is fixed.
// Durability as events/jsonl_file.h: one write + one fdatasync per call; ok means durable.
// Threads: thread-safe.
// Errors: kTransientBackend (I/O, named with the path).
// Trust: the event JSON is ours (cloud_event.h) and embedded as is; the reason is escaped.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "core/clock.h"
#include "events/event_sink.h"
#include "events/jsonl_file.h"

namespace mx::events {

struct DeadLetter {
  const Event* event = nullptr;  // not owned; must be set
  ErrorClass error_class = ErrorClass::kPermanentBackend;
  std::string reason;            // the sink's error message
  uint32_t attempts = 0;         // publish attempts that included this event
  WallTime at{};
};

class DeadLetterFile {
 public:
  static Result<std::unique_ptr<DeadLetterFile>> open(const std::string& path, bool fsync = true);

  // Appends one line per letter, durably. `sink` names the sink that refused them.
  Status write(std::string_view sink, std::span<const DeadLetter> letters);

  const std::string& path() const { return file_->path(); }
  uint64_t count() const { return file_->lineCount(); }  // letters written since open

 private:
  explicit DeadLetterFile(std::unique_ptr<JsonLinesFile> f) : file_(std::move(f)) {}
  std::unique_ptr<JsonLinesFile> file_;
};

}  // namespace mx::events
