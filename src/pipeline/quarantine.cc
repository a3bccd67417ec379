// pipeline/quarantine.cc — see quarantine.h.
#include "pipeline/quarantine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <random>

#include "core/message_id.h"
#include "spool/crc32c.h"
#include "spool/envelope_codec.h"

namespace mx::pipeline {
namespace {

constexpr std::string_view kMagic = "MXQUAR01";
constexpr uint8_t kVersion = 1;
constexpr std::string_view kSuffix = ".mxq";
constexpr size_t kMaxMeta = 16u << 20;

Error ioError(std::string_view what, const std::string& path, int err) {
  return Error(ErrorClass::kTransientBackend,
               "quarantine: " + std::string(what) + " " + path + ": " + std::strerror(err));
}
Error damaged(const std::string& path, std::string_view why) {
  return Error(ErrorClass::kPermanentBackend, "quarantine: " + path + " is damaged: " + std::string(why));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

void putU32(std::string& o, uint32_t v) {
  for (int i = 0; i < 4; ++i) o.push_back(static_cast<char>(v >> (8 * i)));
}
void putU64(std::string& o, uint64_t v) {
  for (int i = 0; i < 8; ++i) o.push_back(static_cast<char>(v >> (8 * i)));
}
void putStr(std::string& o, std::string_view s) {
  putU32(o, static_cast<uint32_t>(s.size()));
  o.append(s);
}

// Bounds-checked little-endian reader over untrusted bytes.
class Cursor {
 public:
  explicit Cursor(std::string_view in) : in_(in) {}
  bool u8(uint8_t& v) {
    if (in_.empty()) return false;
    v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool u32(uint32_t& v) {
    if (in_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in_[i])) << (8 * i);
    in_.remove_prefix(4);
    return true;
  }
  bool u64(uint64_t& v) {
    if (in_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[i])) << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  bool str(std::string_view& s) {
    uint32_t n;
    if (!u32(n) || in_.size() < n) return false;
    s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool empty() const { return in_.empty(); }

 private:
  std::string_view in_;
};

int64_t toNanos(WallTime t) { return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(); }
WallTime fromNanos(int64_t ns) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(ns)));
}

Status writeAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t w = ::write(fd, bytes.data(), bytes.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return ioError("write", path, errno);
    }
    bytes.remove_prefix(static_cast<size_t>(w));
  }
  return okStatus();
}

Result<size_t> readAt(int fd, char* buf, size_t n, uint64_t off, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ioError("read", path, errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

Result<std::vector<std::string>> listEntries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ioError("opendir", dir, errno);
  std::vector<std::string> out;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() == MessageId::kTextLength + kSuffix.size() && n.substr(MessageId::kTextLength) == kSuffix &&
        isQuarantineId(n.substr(0, MessageId::kTextLength))) {
      out.emplace_back(n);
    }
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return ioError("readdir", dir, err);
  std::sort(out.begin(), out.end());  // ULIDs sort by time
  return out;
}

// Reads and checks an entry file; the raw bytes too when `with_raw`.
Result<QuarantineEntry> readEntry(const std::string& path, std::string_view name, bool with_raw) {
  int raw_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (raw_fd < 0) {
    if (errno == ENOENT) return Error(ErrorClass::kNotFound, "quarantine: no entry " + path);
    return ioError("open", path, errno);
  }
  Fd fd(raw_fd);
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return ioError("stat", path, errno);
  const auto file_size = static_cast<uint64_t>(st.st_size);
  char head[12];
  auto n = readAt(fd.get(), head, sizeof head, 0, path);
  if (!n.ok()) return n.error();
  if (*n != sizeof head || std::string_view(head, 8) != kMagic) return damaged(path, "bad header");
  uint32_t meta_len;
  Cursor(std::string_view(head + 8, 4)).u32(meta_len);
  if (meta_len > kMaxMeta || 12 + uint64_t{meta_len} + 4 > file_size) return damaged(path, "bad meta length");
  std::string meta(meta_len + 4, '\0');
  n = readAt(fd.get(), meta.data(), meta.size(), 12, path);
  if (!n.ok()) return n.error();
  if (*n != meta.size()) return damaged(path, "short meta");
  uint32_t crc_stored;
  Cursor(std::string_view(meta).substr(meta_len)).u32(crc_stored);
  uint32_t crc = spool::crc32c(spool::crc32c(0, std::string_view(head, 12)), std::string_view(meta).substr(0, meta_len));
  if (crc != crc_stored) return damaged(path, "meta checksum mismatch");

  QuarantineEntry e;
  e.name = std::string(name);
  Cursor c(std::string_view(meta).substr(0, meta_len));
  uint8_t version, cls;
  uint32_t raw_crc;
  uint64_t first_ns, last_ns, raw_len;
  std::string_view reason, origin, env;
  if (!c.u8(version) || version != kVersion || !c.u8(cls) || !c.u32(e.failure.attempts) || !c.u32(e.retries) ||
      !c.u64(first_ns) || !c.u64(last_ns) || !c.u64(raw_len) || !c.u32(raw_crc) || !c.str(reason) ||
      !c.str(origin) || !c.str(env) || !c.empty()) {
    return damaged(path, "bad meta");
  }
  if (cls > static_cast<uint8_t>(ErrorClass::kNotFound)) return damaged(path, "bad error class");
  const uint64_t raw_off = 12 + uint64_t{meta_len} + 4;
  if (raw_off + raw_len != file_size) return damaged(path, "size does not match its raw length");
  auto decoded = spool::decodeEnvelope(env);
  if (!decoded.ok()) return damaged(path, decoded.error().message());
  e.envelope = std::move(*decoded);
  e.id = e.envelope.id.toString();
  e.size = raw_len;
  e.failure.error_class = static_cast<ErrorClass>(cls);
  e.failure.first_failure = fromNanos(static_cast<int64_t>(first_ns));
  e.failure.last_failure = fromNanos(static_cast<int64_t>(last_ns));
  e.failure.reason = std::string(reason);
  e.origin = std::string(origin);
  if (with_raw) {
    e.raw.resize(raw_len);
    n = readAt(fd.get(), e.raw.data(), raw_len, raw_off, path);
    if (!n.ok()) return n.error();
    if (*n != raw_len || spool::crc32c(e.raw) != raw_crc) return damaged(path, "raw message checksum mismatch");
  }
  return e;
}

}  // namespace

bool isQuarantineId(std::string_view id) {
  auto m = MessageId::parse(id);
  return m && m->toString() == id;
}

Result<std::unique_ptr<Quarantine>> Quarantine::open(const QuarantineOptions& options) {
  if (options.dir.empty()) return Error(ErrorClass::kConfig, "quarantine: dir is empty");
  std::string cur;
  size_t pos = 0;
  std::string retry = options.dir + "/retry";
  for (const std::string* target : std::initializer_list<const std::string*>{&options.dir, &retry}) {
    pos = 0;
    while (pos <= target->size()) {
      size_t next = target->find('/', pos);
      if (next == std::string::npos) next = target->size();
      cur = target->substr(0, next);
      pos = next + 1;
      if (cur.empty()) continue;
      if (::mkdir(cur.c_str(), 0700) < 0 && errno != EEXIST) return ioError("mkdir", cur, errno);
    }
  }
  std::unique_ptr<Quarantine> q(new Quarantine(options));
  if (options.owner) {
    // Temporaries of put()s a crash interrupted: the rename never happened, so the record
    // was never checkpointed and is still in the spool.
    if (DIR* d = ::opendir(options.dir.c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n.substr(0, 5) == ".tmp-") ::unlink((options.dir + "/" + std::string(n)).c_str());
      }
      ::closedir(d);
    }
  }
  return q;
}

Status Quarantine::syncDir(const std::string& path) const {
  if (!options_.fsync) return okStatus();
  int raw = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (raw < 0) return ioError("open", path, errno);
  Fd fd(raw);
  if (::fsync(fd.get()) < 0) return ioError("fsync", path, errno);
  return okStatus();
}

Status Quarantine::put(const Envelope& envelope, std::string_view raw, const QuarantineFailure& f,
                       std::string_view origin, uint32_t retries) {
  std::string env;
  spool::encodeEnvelope(envelope, env);
  std::string meta;
  meta.push_back(static_cast<char>(kVersion));
  meta.push_back(static_cast<char>(f.error_class));
  putU32(meta, f.attempts);
  putU32(meta, retries);
  putU64(meta, static_cast<uint64_t>(toNanos(f.first_failure)));
  putU64(meta, static_cast<uint64_t>(toNanos(f.last_failure)));
  putU64(meta, raw.size());
  putU32(meta, spool::crc32c(raw));
  putStr(meta, f.reason);
  putStr(meta, origin);
  putStr(meta, env);
  std::string head(kMagic);
  putU32(head, static_cast<uint32_t>(meta.size()));
  head += meta;
  putU32(head, spool::crc32c(head));

  static std::atomic<uint64_t> counter{std::random_device{}()};
  const std::string id = envelope.id.toString();
  const std::string tmp = options_.dir + "/.tmp-" + id + "-" + std::to_string(counter.fetch_add(1));
  const std::string final_path = options_.dir + "/" + id + std::string(kSuffix);
  int raw_fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (raw_fd < 0) return ioError("create", tmp, errno);
  {
    Fd fd(raw_fd);
    Status s = writeAll(fd.get(), head, tmp);
    if (s.ok()) s = writeAll(fd.get(), raw, tmp);
    if (s.ok() && options_.fsync && ::fdatasync(fd.get()) < 0) s = ioError("fdatasync", tmp, errno);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (::rename(tmp.c_str(), final_path.c_str()) < 0) {
    Error e = ioError("rename", final_path, errno);
    ::unlink(tmp.c_str());
    return e;
  }
  return syncDir(options_.dir);
}

Result<std::vector<QuarantineEntry>> Quarantine::list() const {
  auto names = listEntries(options_.dir);
  if (!names.ok()) return names.error();
  std::vector<QuarantineEntry> out;
  for (const auto& n : *names) {
    auto e = readEntry(options_.dir + "/" + n, n, false);
    if (e.ok()) {
      out.push_back(std::move(*e));
    } else if (e.error().errorClass() == ErrorClass::kNotFound) {
      continue;  // retried (moved to the inbox) while we listed
    } else {
      QuarantineEntry d;
      d.name = n;
      d.id = n.substr(0, MessageId::kTextLength);
      d.damaged = true;
      d.damage = e.error().message();
      out.push_back(std::move(d));
    }
  }
  return out;
}

Status Quarantine::retry(std::string_view id) {
  if (!isQuarantineId(id)) return Error(ErrorClass::kConfig, "quarantine: '" + std::string(id) + "' is not a message id");
  const std::string name = std::string(id) + std::string(kSuffix);
  const std::string from = options_.dir + "/" + name;
  const std::string to = retryDir() + "/" + name;
  if (::rename(from.c_str(), to.c_str()) < 0) {
    if (errno == ENOENT) {
      struct stat st;
      if (::stat(to.c_str(), &st) == 0) {
        return Error(ErrorClass::kNotFound, "quarantine: " + std::string(id) + " is already waiting to be retried");
      }
      return Error(ErrorClass::kNotFound, "quarantine: no entry " + std::string(id));
    }
    return ioError("rename", from, errno);
  }
  // The inbox first: once its entry is durable, losing the old name is harmless.
  if (auto s = syncDir(retryDir()); !s.ok()) return s;
  return syncDir(options_.dir);
}

Result<std::vector<std::string>> Quarantine::retryAll() {
  auto entries = list();
  if (!entries.ok()) return entries.error();
  std::vector<std::string> moved;
  for (const auto& e : *entries) {
    if (e.damaged) continue;
    Status s = retry(e.id);
    if (s.ok()) {
      moved.push_back(e.id);
    } else if (s.error().errorClass() != ErrorClass::kNotFound) {
      return s.error();
    }
  }
  return moved;
}

Result<std::vector<std::string>> Quarantine::inbox() const { return listEntries(retryDir()); }

Result<QuarantineEntry> Quarantine::loadRetry(std::string_view name) const {
  return readEntry(retryDir() + "/" + std::string(name), name, true);
}

Status Quarantine::finishRetry(std::string_view name) {
  std::string path = retryDir() + "/" + std::string(name);
  if (::unlink(path.c_str()) < 0 && errno != ENOENT) return ioError("unlink", path, errno);
  return syncDir(retryDir());
}

Status Quarantine::setAside(std::string_view name) {
  std::string from = retryDir() + "/" + std::string(name);
  std::string to = options_.dir + "/" + std::string(name) + ".damaged";
  if (::rename(from.c_str(), to.c_str()) < 0) return ioError("rename", from, errno);
  if (auto s = syncDir(options_.dir); !s.ok()) return s;
  return syncDir(retryDir());
}

}  // namespace mx::pipeline
