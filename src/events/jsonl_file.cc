// events/jsonl_file.cc — see jsonl_file.h.
#include "events/jsonl_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mx::events {
namespace {

Error ioError(std::string_view what, const std::string& path, int err) {
  return Error(ErrorClass::kTransientBackend,
               "events: " + std::string(what) + " " + path + ": " + std::strerror(err));
}

Status makeParentDirs(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return okStatus();
  std::string dir = path.substr(0, slash);
  size_t pos = 0;
  while (pos <= dir.size()) {
    size_t next = dir.find('/', pos);
    if (next == std::string::npos) next = dir.size();
    std::string cur = dir.substr(0, next);
    pos = next + 1;
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0700) < 0 && errno != EEXIST) return ioError("mkdir", cur, errno);
  }
  return okStatus();
}

// Offset just past the last '\n' in the file's first `size` bytes (0 if none).
Result<uint64_t> lastLineEnd(int fd, uint64_t size, const std::string& path) {
  char buf[65536];
  uint64_t end = size;
  while (end > 0) {
    uint64_t start = end > sizeof buf ? end - sizeof buf : 0;
    auto n = static_cast<size_t>(end - start);
    ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(start));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ioError("read", path, errno);
    }
    if (static_cast<size_t>(r) != n) return ioError("read", path, EIO);
    for (size_t i = n; i > 0; --i) {
      if (buf[i - 1] == '\n') return start + i;
    }
    end = start;
  }
  return uint64_t{0};
}

}  // namespace

JsonLinesFile::JsonLinesFile(std::string path, int fd, uint64_t size, bool fsync)
    : path_(std::move(path)), fd_(fd), fsync_(fsync), size_(size) {}

JsonLinesFile::~JsonLinesFile() { ::close(fd_); }

Result<std::unique_ptr<JsonLinesFile>> JsonLinesFile::open(const std::string& path, bool fsync) {
  if (path.empty()) return Error(ErrorClass::kConfig, "events: file path is empty");
  if (auto s = makeParentDirs(path); !s.ok()) return s.error();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ioError("open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) < 0) {
    int err = errno;
    ::close(fd);
    return ioError("stat", path, err);
  }
  auto size = static_cast<uint64_t>(st.st_size);
  auto end = lastLineEnd(fd, size, path);
  if (!end.ok()) {
    ::close(fd);
    return end.error();
  }
  if (*end != size) {
    // A torn last line: its append never returned ok.
    if (::ftruncate(fd, static_cast<off_t>(*end)) < 0 || (fsync && ::fdatasync(fd) < 0)) {
      int err = errno;
      ::close(fd);
      return ioError("truncate", path, err);
    }
  }
  return std::unique_ptr<JsonLinesFile>(new JsonLinesFile(path, fd, *end, fsync));
}

Status JsonLinesFile::append(std::span<const std::string_view> lines) {
  if (lines.empty()) return okStatus();
  std::lock_guard l(mu_);
  buf_.clear();
  for (std::string_view line : lines) {
    size_t at = buf_.size();
    buf_.append(line);
    std::replace_if(buf_.begin() + static_cast<std::ptrdiff_t>(at), buf_.end(),
                    [](char c) { return c == '\n' || c == '\r'; }, ' ');
    buf_.push_back('\n');
  }
  const uint64_t start = size_;
  auto rollback = [&](Error e) -> Status {
    // Leave no partial batch behind: a retry appends it again from here.
    if (::ftruncate(fd_, static_cast<off_t>(start)) < 0) {
      return Error(e.errorClass(), e.message() + " (and truncating back failed: " + std::strerror(errno) + ")");
    }
    return e;
  };
  size_t done = 0;
  while (done < buf_.size()) {
    ssize_t w = ::pwrite(fd_, buf_.data() + done, buf_.size() - done, static_cast<off_t>(start + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return rollback(ioError("write", path_, errno));
    }
    done += static_cast<size_t>(w);
  }
  if (fsync_) {
    int rc;
    do {
      rc = ::fdatasync(fd_);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return rollback(ioError("fdatasync", path_, errno));
    syncs_.fetch_add(1, std::memory_order_relaxed);
  }
  size_ = start + buf_.size();
  lines_.fetch_add(lines.size(), std::memory_order_relaxed);
  if (buf_.capacity() > (4u << 20)) std::string().swap(buf_);
  return okStatus();
}

}  // namespace mx::events
