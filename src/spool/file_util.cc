// spool/file_util.cc — see file_util.h.
#include "spool/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cerrno>
#include <cstring>
#include <vector>

namespace mx::spool {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Error ioError(std::string_view what, std::string_view path, int err) {
  std::string m;
  m.reserve(what.size() + path.size() + 48);
  m.append(what).append(" ").append(path).append(": ").append(std::strerror(err));
  return Error(ErrorClass::kTransientBackend, std::move(m));
}

Result<UniqueFd> openFile(const std::string& path, int flags, int mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ioError("open", path, errno);
  return UniqueFd(fd);
}

Status writeAllAt(int fd, const struct iovec* iov_in, int n, uint64_t offset,
                  std::string_view path) {
  std::vector<struct iovec> iov(iov_in, iov_in + n);
  size_t first = 0;
  while (first < iov.size()) {
    if (iov[first].iov_len == 0) {
      ++first;
      continue;
    }
    int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t w = ::pwritev(fd, &iov[first], count, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return ioError("write", path, errno);
    }
    if (w == 0) return ioError("write", path, EIO);
    offset += static_cast<uint64_t>(w);
    auto left = static_cast<size_t>(w);
    while (left > 0 && first < iov.size()) {
      size_t take = std::min(left, iov[first].iov_len);
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + take;
      iov[first].iov_len -= take;
      left -= take;
      if (iov[first].iov_len == 0) ++first;
    }
  }
  return okStatus();
}

Status writeAllAt(int fd, std::string_view bytes, uint64_t offset, std::string_view path) {
  struct iovec v{const_cast<char*>(bytes.data()), bytes.size()};
  return writeAllAt(fd, &v, 1, offset, path);
}

Result<size_t> readAt(int fd, void* buf, size_t size, uint64_t offset, std::string_view path) {
  size_t done = 0;
  while (done < size) {
    ssize_t r = ::pread(fd, static_cast<char*>(buf) + done, size - done,
                        static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ioError("read", path, errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

namespace {
std::atomic<SyncFaultHook> sync_fault_hook{nullptr};
}  // namespace

void setSyncFaultHookForTest(SyncFaultHook hook) { sync_fault_hook.store(hook); }

Status syncFd(int fd, std::string_view path, bool metadata) {
  if (SyncFaultHook hook = sync_fault_hook.load(std::memory_order_relaxed); hook != nullptr && hook(path)) {
    return ioError(metadata ? "fsync" : "fdatasync", path, EIO);
  }
  int rc;
  do {
    rc = metadata ? ::fsync(fd) : ::fdatasync(fd);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return ioError(metadata ? "fsync" : "fdatasync", path, errno);
  return okStatus();
}

Status syncDir(const std::string& path) {
  auto fd = openFile(path, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) return fd.error();
  return syncFd(fd->get(), path, true);
}

Status makeDirs(const std::string& path) {
  if (path.empty()) return okStatus();
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    cur = path.substr(0, next);
    pos = next + 1;
    if (cur.empty()) continue;  // leading '/'
    if (::mkdir(cur.c_str(), 0700) < 0 && errno != EEXIST) return ioError("mkdir", cur, errno);
  }
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) return ioError("stat", path, errno);
  if (!S_ISDIR(st.st_mode)) return ioError("mkdir", path, ENOTDIR);
  return okStatus();
}

}  // namespace mx::spool
