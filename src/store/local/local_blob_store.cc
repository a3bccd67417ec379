// store/local/local_blob_store.cc — see local_blob_store.h.
#include "store/local/local_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

namespace mx::store {
namespace {

Error ioError(std::string_view what, const std::string& path, int err) {
  return Error(ErrorClass::kTransientBackend,
               "store: " + std::string(what) + " " + path + ": " + std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }
  int get() const { return fd_; }
  int close() {
    int rc = 0;
    if (fd_ >= 0) rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status writeAll(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ioError("write", path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return okStatus();
}

Status copyAll(int in, int out, const std::string& from, const std::string& to) {
  for (;;) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) break;
    if (n < 0) return ioError("copy", from, errno);
    if (n == 0) return okStatus();
  }
  // Fallback: plain read/write from wherever copy_file_range stopped.
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ioError("read", from, errno);
    if (n == 0) return okStatus();
    if (auto s = writeAll(out, buf.data(), static_cast<size_t>(n), to); !s.ok()) return s;
  }
}

}  // namespace

LocalBlobStore::LocalBlobStore(const LocalBlobStoreOptions& options)
    : root_(options.root), fsync_(options.fsync), tmp_prefix_(std::random_device{}() * 0x9E3779B97F4A7C15ull) {}

Result<std::unique_ptr<LocalBlobStore>> LocalBlobStore::open(const LocalBlobStoreOptions& options) {
  if (options.root.empty()) return Error(ErrorClass::kConfig, "store: local root is empty");
  std::string cur;
  size_t pos = 0;
  const std::string& root = options.root;
  while (pos <= root.size()) {
    size_t next = root.find('/', pos);
    if (next == std::string::npos) next = root.size();
    cur = root.substr(0, next);
    pos = next + 1;
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0700) < 0 && errno != EEXIST) return ioError("mkdir", cur, errno);
  }
  struct stat st;
  if (::stat(root.c_str(), &st) < 0) return ioError("stat", root, errno);
  if (!S_ISDIR(st.st_mode)) return ioError("open", root, ENOTDIR);
  return std::unique_ptr<LocalBlobStore>(new LocalBlobStore(options));
}

Status LocalBlobStore::syncPath(const std::string& path, bool directory) {
  if (!fsync_) return okStatus();
  int raw = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (raw < 0) return ioError("open", path, errno);
  Fd fd(raw);
  int rc;
  do {
    rc = ::fsync(fd.get());
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return ioError("fsync", path, errno);
  syncs_.fetch_add(1, std::memory_order_relaxed);
  return okStatus();
}

Status LocalBlobStore::ensureDir(std::string_view dir) {
  if (dir.empty()) return okStatus();
  std::string key(dir);
  {
    std::lock_guard l(dirs_mu_);
    if (known_dirs_.count(key) != 0) return okStatus();
  }
  // Create each missing component, then fsync every parent on the chain. Syncing parents
  // that already had the entry is cheap and covers a directory another thread created but
  // has not synced yet; it happens once per directory per process.
  std::vector<std::string> chain{root_};
  std::string cur = root_;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    cur += "/" + key.substr(start, end - start);
    if (::mkdir(cur.c_str(), 0700) < 0) {
      if (errno != EEXIST) return ioError("mkdir", cur, errno);
      struct stat st;
      if (::lstat(cur.c_str(), &st) < 0) return ioError("stat", cur, errno);
      if (!S_ISDIR(st.st_mode)) return ioError("mkdir", cur, ENOTDIR);  // includes symlinks
    }
    chain.push_back(cur);
    start = end + 1;
  }
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    if (auto s = syncPath(chain[i], true); !s.ok()) return s;
  }
  std::lock_guard l(dirs_mu_);
  if (known_dirs_.size() > 100000) known_dirs_.clear();  // bounded: one per day per tenant
  known_dirs_.insert(std::move(key));
  return okStatus();
}

template <typename Fill>
Status LocalBlobStore::writeAtomically(std::string_view key, Fill fill) {
  if (auto s = validateKey(key); !s.ok()) return s;
  size_t slash = key.rfind('/');
  std::string_view dir_rel = slash == std::string_view::npos ? std::string_view() : key.substr(0, slash);
  if (auto s = ensureDir(dir_rel); !s.ok()) return s;
  std::string dir = dir_rel.empty() ? root_ : root_ + "/" + std::string(dir_rel);
  std::string final_path = pathOf(key);
  char name[40];
  std::snprintf(name, sizeof name, "/.tmp.%016llx",
                static_cast<unsigned long long>(tmp_prefix_ + tmp_counter_.fetch_add(1)));
  std::string tmp = dir + name;
  int raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (raw < 0) return ioError("create", tmp, errno);
  Fd fd(raw);
  auto cleanup = [&](Status s) {
    fd.close();
    ::unlink(tmp.c_str());
    return s;
  };
  if (auto s = fill(fd.get(), tmp); !s.ok()) return cleanup(s);
  if (fsync_) {
    int rc;
    do {
      rc = ::fdatasync(fd.get());
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return cleanup(ioError("fdatasync", tmp, errno));
    syncs_.fetch_add(1, std::memory_order_relaxed);
  }
  if (fd.close() < 0) return cleanup(ioError("close", tmp, errno));
  if (::rename(tmp.c_str(), final_path.c_str()) < 0) return cleanup(ioError("rename", final_path, errno));
  return syncPath(dir, true);
}

Status LocalBlobStore::put(std::string_view key, std::string_view bytes) {
  return writeAtomically(key, [&](int fd, const std::string& tmp) {
    return writeAll(fd, bytes.data(), bytes.size(), tmp);
  });
}

Status LocalBlobStore::putFile(std::string_view key, const std::string& path) {
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) return ioError("open", path, errno);
  Fd in(raw);
  return writeAtomically(key, [&](int fd, const std::string& tmp) { return copyAll(in.get(), fd, path, tmp); });
}

Result<std::string> LocalBlobStore::get(std::string_view key) {
  if (auto s = validateKey(key); !s.ok()) return s.error();
  std::string path = pathOf(key);
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (raw < 0) {
    if (errno == ENOENT) return Error(ErrorClass::kNotFound, "store: no object " + std::string(key));
    return ioError("open", path, errno);
  }
  Fd fd(raw);
  std::string out;
  struct stat st;
  if (::fstat(fd.get(), &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ioError("read", path, errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<bool> LocalBlobStore::exists(std::string_view key) {
  if (auto s = validateKey(key); !s.ok()) return s.error();
  std::string path = pathOf(key);
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return S_ISREG(st.st_mode);
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return ioError("stat", path, errno);
}

}  // namespace mx::store
