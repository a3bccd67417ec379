// spool/file_util.h — the few POSIX file operations the spool needs, as Status-returning
// helpers: an owning fd, full writes and reads at an offset, fdatasync/fsync of files and
// directories, directory creation. Internal to src/spool.
// Errors: every failure is a kTransientBackend Error naming the operation, the path and
// strerror(errno) (a disk that is full or failing may heal; the caller replies 451).
// Trust: paths come from the spool's own code and configuration.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"

namespace mx::spool {

// Owns a file descriptor; closes it on destruction. Movable, not copyable.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// An Error of class kTransientBackend: "<what> <path>: <strerror(err)>".
Error ioError(std::string_view what, std::string_view path, int err);

// open(2) with O_CLOEXEC added; the error names the path.
Result<UniqueFd> openFile(const std::string& path, int flags, int mode = 0600);
// pwritev(2) until every byte of iov[0..n) is written at `offset` (retries short writes
// and EINTR). `path` only names the file in errors.
Status writeAllAt(int fd, const struct iovec* iov, int n, uint64_t offset, std::string_view path);
Status writeAllAt(int fd, std::string_view bytes, uint64_t offset, std::string_view path);
// pread(2) until `size` bytes are read or end of file; returns the count read.
Result<size_t> readAt(int fd, void* buf, size_t size, uint64_t offset, std::string_view path);
// fdatasync(2) (or fsync(2) when `metadata` is true); retries EINTR only.
Status syncFd(int fd, std::string_view path, bool metadata = false);
// Opens the directory and fsyncs it, so entries created or renamed in it are durable.
Status syncDir(const std::string& path);
// mkdir -p, 0700 for new directories. Does not sync.
Status makeDirs(const std::string& path);

// Fault injection for tests: while set, syncFd() calls `hook(path)` first and fails with
// EIO when it returns true (the fsync is then not performed, as a failing disk would).
// Not for production use; thread-safe to set while syncs run.
using SyncFaultHook = bool (*)(std::string_view path);
void setSyncFaultHookForTest(SyncFaultHook hook);

}  // namespace mx::spool
