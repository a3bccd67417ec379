// policy/storage_guard.h — refuses new mail while the spool's filesystem is nearly full,
// as Postfix's smtpd does with queue_minfree: LocalPolicy then defers each recipient with
// kInsufficientStorage (452, RFC 5321 4.2.2 / RFC 3463 X.3.1) and the client retries later, instead
// of sending a whole body that the spool could then not make durable. This matters most
// when the pipeline falls behind (it runs under SCHED_IDLE) and the spool grows.
//
// A read-only filesystem (ext4 remounts so after an I/O error) counts as no room. The
// free space is read with statvfs(3) at most once per refresh interval and shared by
// every I/O thread through atomics (no lock on the per-recipient path). A failed statvfs
// counts as room: the spool's own write errors (451) remain the last line of defence.
// Trust: none needed; the directory is trusted configuration.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/clock.h"

namespace mx::policy {

class StorageGuard {
 public:
  // Bytes available to an unprivileged writer on the filesystem holding `dir`, or nullopt.
  using FreeBytesFn = std::function<std::optional<uint64_t>(const std::string& dir)>;

  // min_free == 0 disables the guard. `free_bytes` defaults to statvfs (f_bavail * f_frsize,
  // 0 when mounted read-only).
  StorageGuard(std::string dir, uint64_t min_free, FreeBytesFn free_bytes = {},
               std::chrono::milliseconds refresh = std::chrono::milliseconds(1000));

  // False when the filesystem had less than min_free bytes free at the last reading
  // (re-read if that is older than the refresh interval). Thread-safe.
  bool hasRoom(MonoTime now);

 private:
  const std::string dir_;
  const uint64_t min_free_;
  const FreeBytesFn free_bytes_;
  const std::chrono::nanoseconds refresh_;
  std::atomic<int64_t> next_check_ns_{INT64_MIN};  // steady-clock ns of the next reading
  std::atomic<bool> room_{true};
};

}  // namespace mx::policy
