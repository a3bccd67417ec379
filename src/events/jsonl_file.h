// events/jsonl_file.h — an append-only JSON Lines file (one JSON value per line), written
// a batch at a time with one write and one fdatasync. Shared by the file sink
// (events/file/) and the dead-letter file (dead_letter.h), so both have the same
// durability rules:
//  * append(): the batch's lines are written with one pwrite at the end of the last complete
//    line, then fdatasync'ed; ok means every line is on stable storage. If the write or the
//    sync fails, the file is truncated back to where the batch began, so a retried batch
//    never leaves a torn line in the middle of the file.
//  * open(): a partial last line (an append that crashed before it returned) is cut off: it
//    was never acknowledged.
//  * A raw CR or LF inside a line (only possible as insignificant JSON whitespace; strings
//    escape them) becomes a space, so a line is always exactly one value.
// Threads: thread-safe; concurrent appends are serialised (each batch is contiguous).
// Errors: kTransientBackend for I/O failures (named with the path), kConfig for an empty path.
// Trust: the file is ours; lines come from our own JSON writers.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace mx::events {

class JsonLinesFile {
 public:
  // Creates the file (and its parent directories) if missing, and cuts a torn last line.
  static Result<std::unique_ptr<JsonLinesFile>> open(const std::string& path, bool fsync);
  ~JsonLinesFile();
  JsonLinesFile(const JsonLinesFile&) = delete;
  JsonLinesFile& operator=(const JsonLinesFile&) = delete;

  // Appends one line per element (a newline is added to each). See the file comment.
  Status append(std::span<const std::string_view> lines);

  const std::string& path() const { return path_; }
  uint64_t syncCount() const { return syncs_.load(std::memory_order_relaxed); }
  uint64_t lineCount() const { return lines_.load(std::memory_order_relaxed); }  // appended since open

 private:
  JsonLinesFile(std::string path, int fd, uint64_t size, bool fsync);

  const std::string path_;
  const int fd_;
  const bool fsync_;
  std::mutex mu_;
  uint64_t size_;    // guarded by mu_: bytes of complete, acknowledged lines
  std::string buf_;  // guarded by mu_
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> lines_{0};
};

}  // namespace mx::events
