// store/local/local_blob_store.cc — see local_blob_store.h.
#include "store/local/local_blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <thread>
#include <vector>

namespace mx::store {
namespace {

// Parallel fdatasyncs in sync(): enough for the journal to batch them, few enough not to
// swamp a 2-core machine.
constexpr size_t kSyncThreads = 8;

// Temporaries live in <root>/.staging (no key can start with '.'). Ones older than this are
// leftovers of a crash and are removed on open; younger ones may belong to another
// LocalBlobStore on the same root, still writing.
constexpr time_t kStaleTempSeconds = 3600;

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
  int release() { return std::exchange(fd_, -1); }
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

int fsyncRetry(int fd, bool data_only) {
  int rc;
  do {
    rc = data_only ? ::fdatasync(fd) : ::fsync(fd);
  } while (rc < 0 && errno == EINTR);
  return rc < 0 ? errno : 0;
}

// Runs fn(i) for i in [0, n) on up to kSyncThreads threads; returns the first error.
template <typename Fn>
Status parallel(size_t n, Fn fn) {
  if (n == 0) return okStatus();
  size_t threads = std::min(n, kSyncThreads);
  std::vector<std::optional<Error>> errors(threads);
  auto work = [&](size_t t) {
    for (size_t i = t; i < n; i += threads) {
      if (auto s = fn(i); !s.ok() && !errors[t]) errors[t] = s.error();
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  for (auto& e : errors) {
    if (e) return *e;
  }
  return okStatus();
}

}  // namespace

LocalBlobStore::LocalBlobStore(const LocalBlobStoreOptions& options, int root_fd)
    : root_(options.root),
      fsync_(options.fsync),
      sync_method_(options.sync_method),
      root_fd_(root_fd),
      tmp_prefix_(std::random_device{}() * 0x9E3779B97F4A7C15ull) {}

LocalBlobStore::~LocalBlobStore() {
  discardFrom(pending_, 0);
  ::close(root_fd_);
}

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
  std::string staging = root + "/.staging";
  if (::mkdir(staging.c_str(), 0700) < 0 && errno != EEXIST) return ioError("mkdir", staging, errno);
  if (DIR* d = ::opendir(staging.c_str())) {
    time_t now = ::time(nullptr);
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string path = staging;
      path += "/";
      path += name;
      struct stat fst;
      if (::lstat(path.c_str(), &fst) == 0 && S_ISREG(fst.st_mode) && now - fst.st_mtime > kStaleTempSeconds) {
        ::unlink(path.c_str());
      }
    }
    ::closedir(d);
  }
  int root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return ioError("open", root, errno);
  return std::unique_ptr<LocalBlobStore>(new LocalBlobStore(options, root_fd));
}

Status LocalBlobStore::syncPath(const std::string& path, bool directory) {
  if (!fsync_) return okStatus();
  int raw = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (raw < 0) return ioError("open", path, errno);
  Fd fd(raw);
  if (int err = fsyncRetry(fd.get(), false); err != 0) return ioError("fsync", path, err);
  syncs_.fetch_add(1, std::memory_order_relaxed);
  return okStatus();
}

void LocalBlobStore::markKnown(const std::string& dir) {
  std::lock_guard l(dirs_mu_);
  if (known_dirs_.size() > 100000) known_dirs_.clear();  // bounded: a few per day per tenant
  known_dirs_.insert(dir);
}

Status LocalBlobStore::ensureDir(std::string_view dir, std::vector<std::string>* defer) {
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
  chain.pop_back();  // the directory itself is synced when a file is renamed into it
  if (defer != nullptr) {
    defer->insert(defer->end(), chain.begin(), chain.end());
    return okStatus();
  }
  for (const auto& d : chain) {
    if (auto s = syncPath(d, true); !s.ok()) return s;
  }
  markKnown(key);
  return okStatus();
}

template <typename Fill>
Result<LocalBlobStore::Staged> LocalBlobStore::stage(std::string_view key, std::vector<std::string>* defer_dirs,
                                                     Fill fill) {
  if (auto s = validateKey(key); !s.ok()) return s.error();
  size_t slash = key.rfind('/');
  std::string_view dir_rel = slash == std::string_view::npos ? std::string_view() : key.substr(0, slash);
  if (auto s = ensureDir(dir_rel, defer_dirs); !s.ok()) return s.error();
  Staged st;
  st.dir = dir_rel.empty() ? root_ : root_ + "/" + std::string(dir_rel);
  st.final_path = pathOf(key);
  char name[40];
  std::snprintf(name, sizeof name, "/.staging/%016llx.tmp",
                static_cast<unsigned long long>(tmp_prefix_) + tmp_counter_.fetch_add(1));
  st.tmp = root_ + name;
  int raw = ::open(st.tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (raw < 0) return ioError("create", st.tmp, errno);
  Fd fd(raw);
  if (auto s = fill(fd.get(), st.tmp); !s.ok()) {
    fd.close();
    ::unlink(st.tmp.c_str());
    return s.error();
  }
  st.fd = fd.release();
  return st;
}

Status LocalBlobStore::commitOne(Staged& st) {
  Fd fd(std::exchange(st.fd, -1));
  auto fail = [&](Error e) -> Status {
    fd.close();
    ::unlink(st.tmp.c_str());
    return e;
  };
  if (fsync_) {
    if (int err = fsyncRetry(fd.get(), true); err != 0) return fail(ioError("fdatasync", st.tmp, err));
    syncs_.fetch_add(1, std::memory_order_relaxed);
  }
  if (fd.close() < 0) return fail(ioError("close", st.tmp, errno));
  if (::rename(st.tmp.c_str(), st.final_path.c_str()) < 0) return fail(ioError("rename", st.final_path, errno));
  return okStatus();
}

Status LocalBlobStore::put(std::string_view key, std::string_view bytes) {
  auto st = stage(key, nullptr, [&](int fd, const std::string& tmp) {
    return writeAll(fd, bytes.data(), bytes.size(), tmp);
  });
  if (!st.ok()) return st.error();
  if (auto s = commitOne(*st); !s.ok()) return s;
  return syncPath(st->dir, true);
}

Status LocalBlobStore::putFile(std::string_view key, const std::string& path) {
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) return ioError("open", path, errno);
  Fd in(raw);
  auto st = stage(key, nullptr, [&](int fd, const std::string& tmp) { return copyAll(in.get(), fd, path, tmp); });
  if (!st.ok()) return st.error();
  if (auto s = commitOne(*st); !s.ok()) return s;
  return syncPath(st->dir, true);
}

Status LocalBlobStore::putUnsynced(std::string_view key, std::string_view bytes) {
  std::vector<std::string> dirs;
  auto st = stage(key, &dirs, [&](int fd, const std::string& tmp) {
    return writeAll(fd, bytes.data(), bytes.size(), tmp);
  });
  if (!st.ok()) return st.error();
  // syncfs needs no descriptor: do not hold one per pending object (they share the
  // process's limit with connections). Write errors surface at syncfs.
  if (sync_method_ == SyncMethod::kFilesystem) ::close(std::exchange(st->fd, -1));
  std::lock_guard l(pending_mu_);
  pending_.push_back(std::move(*st));
  pending_dir_syncs_.insert(pending_dir_syncs_.end(), dirs.begin(), dirs.end());
  size_t slash = key.rfind('/');
  if (slash != std::string_view::npos) pending_known_.emplace_back(key.substr(0, slash));
  return okStatus();
}

Status LocalBlobStore::sync() {
  std::vector<Staged> staged;
  std::vector<std::string> dirs, known;
  {
    std::lock_guard l(pending_mu_);
    staged.swap(pending_);
    dirs.swap(pending_dir_syncs_);
    known.swap(pending_known_);
  }
  if (staged.empty()) return okStatus();
  Status s = sync_method_ == SyncMethod::kFilesystem ? syncFilesystem(staged) : syncPerFile(staged, dirs);
  if (!s.ok()) return s;
  for (const auto& k : known) markKnown(k);
  return okStatus();
}

void LocalBlobStore::discardFrom(std::vector<Staged>& staged, size_t from) {
  for (size_t i = from; i < staged.size(); ++i) {
    if (staged[i].fd >= 0) ::close(std::exchange(staged[i].fd, -1));
    ::unlink(staged[i].tmp.c_str());
  }
}

// In put order: a key put twice ends with the later bytes.
Status LocalBlobStore::renameAll(std::vector<Staged>& staged) {
  for (size_t i = 0; i < staged.size(); ++i) {
    if (staged[i].fd >= 0) ::close(std::exchange(staged[i].fd, -1));
    if (::rename(staged[i].tmp.c_str(), staged[i].final_path.c_str()) < 0) {
      Error e = ioError("rename", staged[i].final_path, errno);
      discardFrom(staged, i);
      return e;
    }
  }
  return okStatus();
}

Status LocalBlobStore::syncfsRoot() {
  if (!fsync_) return okStatus();
  if (::syncfs(root_fd_) < 0) return ioError("syncfs", root_, errno);
  syncs_.fetch_add(1, std::memory_order_relaxed);
  return okStatus();
}

Status LocalBlobStore::syncFilesystem(std::vector<Staged>& staged) {
  // 1. Every temporary's data and inode, and every new directory, in one flush.
  if (auto s = syncfsRoot(); !s.ok()) {
    discardFrom(staged, 0);
    return s;
  }
  // 2. Into place; 3. the renames (directory blocks) in a second flush.
  if (auto s = renameAll(staged); !s.ok()) return s;
  return syncfsRoot();
}

Status LocalBlobStore::syncPerFile(std::vector<Staged>& staged, std::vector<std::string>& dirs) {
  // 1. Every file's data, in parallel: ext4 with a journal (and most journaling
  //    filesystems) fold concurrent fsyncs into one journal commit.
  Status data = parallel(staged.size(), [&](size_t i) -> Status {
    if (!fsync_) return okStatus();
    if (int err = fsyncRetry(staged[i].fd, true); err != 0) return ioError("fdatasync", staged[i].tmp, err);
    syncs_.fetch_add(1, std::memory_order_relaxed);
    return okStatus();
  });
  if (!data.ok()) {
    discardFrom(staged, 0);
    return data;
  }
  // 2. Into place.
  if (auto s = renameAll(staged); !s.ok()) return s;
  // 3. Each directory once: new directories' parents and the renamed files' directories.
  for (const auto& st : staged) dirs.push_back(st.dir);
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  return parallel(dirs.size(), [&](size_t i) { return syncPath(dirs[i], true); });
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
