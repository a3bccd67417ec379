// policy/storage_guard.cc — see storage_guard.h.
#include "policy/storage_guard.h"

#include <sys/statvfs.h>

namespace mx::policy {
namespace {

std::optional<uint64_t> statvfsFree(const std::string& dir) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return std::nullopt;
  // A filesystem remounted read-only (ext4 does so on an I/O error) has no room at all.
  if ((st.f_flag & ST_RDONLY) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

}  // namespace

StorageGuard::StorageGuard(std::string dir, uint64_t min_free, FreeBytesFn free_bytes,
                           std::chrono::milliseconds refresh)
    : dir_(std::move(dir)),
      min_free_(min_free),
      free_bytes_(free_bytes ? std::move(free_bytes) : FreeBytesFn(statvfsFree)),
      refresh_(refresh) {}

bool StorageGuard::hasRoom(MonoTime now) {
  if (min_free_ == 0) return true;
  int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  int64_t due = next_check_ns_.load(std::memory_order_relaxed);
  // One thread wins the reading; the others use the previous answer meanwhile.
  if (now_ns >= due &&
      next_check_ns_.compare_exchange_strong(due, now_ns + refresh_.count(), std::memory_order_relaxed)) {
    std::optional<uint64_t> free = free_bytes_(dir_);
    room_.store(!free || *free >= min_free_, std::memory_order_relaxed);
  }
  return room_.load(std::memory_order_relaxed);
}

}  // namespace mx::policy
