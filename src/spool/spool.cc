// spool/spool.cc — Spool::open: option checks, the directory lock, recovery of every lane
// (docs/spool.md "Recovery"), and the SpoolImpl that owns the lanes.
//
// Recovery, per lane, per segment in base-sequence order:
//   * a file shorter than a segment header was never written to: removed;
//   * a file whose header does not check is renamed to *.corrupt and counted (never
//     deleted: it may hold acknowledged records a person can still rescue);
//   * records are validated (CRCs, increasing sequences); a bad region followed by valid
//     records is skipped and counted; bytes after the last valid record of the LAST segment
//     are a torn tail — never acknowledged, since the ack waits for fdatasync — and are cut
//     off; on an earlier segment they are left in place, counted, and never read;
//   * segments whose records are all checkpointed are removed;
//   * the surviving segments and the spill files of unconsumed records are fdatasync'ed,
//     since a crashed process may have left them only in the page cache;
// then spill files no unconsumed record refers to are removed, and each configured lane
// starts a fresh segment (records are never appended to a segment from an earlier run).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>

#include "spool/lane.h"
#include "spool/record_format.h"
#include "spool/spool.h"
#include "spool/spool_impl.h"

namespace mx::spool {
namespace internal {

SpoolStats AtomicStats::snapshot() const {
  auto g = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  SpoolStats s;
  s.commits = g(commits);
  s.commit_failures = g(commit_failures);
  s.segment_syncs = g(segment_syncs);
  s.spill_syncs = g(spill_syncs);
  s.dir_syncs = g(dir_syncs);
  s.sync_batches = g(sync_batches);
  s.segments_created = g(segments_created);
  s.segments_deleted = g(segments_deleted);
  s.spills_created = g(spills_created);
  s.spills_deleted = g(spills_deleted);
  s.recovered_records = g(recovered_records);
  s.torn_tails_truncated = g(torn_tails_truncated);
  s.torn_bytes_truncated = g(torn_bytes_truncated);
  s.corrupt_regions = g(corrupt_regions);
  s.corrupt_segments = g(corrupt_segments);
  s.missing_spills = g(missing_spills);
  s.orphan_spills_removed = g(orphan_spills_removed);
  s.records_read = g(records_read);
  s.checkpoints = g(checkpoints);
  s.records_checkpointed = g(records_checkpointed);
  s.records_skipped = g(records_skipped);
  return s;
}

void SharedState::notifyDurable() {
  {
    std::lock_guard l(notify_mu);
    ++generation;
  }
  notify_cv.notify_all();
}

void SharedState::log(std::string_view line) const {
  if (options.log) {
    options.log(line);
    return;
  }
  std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
}

std::string laneDirName(uint32_t lane) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "lane-%04u", lane);
  return buf;
}

std::string segmentFileName(uint64_t base_seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx.seg", static_cast<unsigned long long>(base_seq));
  return buf;
}

namespace {

bool isHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses "lane-NNNN" (4 to 9 digits).
std::optional<uint32_t> parseLaneDir(std::string_view name) {
  if (name.substr(0, 5) != "lane-") return std::nullopt;
  std::string_view d = name.substr(5);
  if (d.size() < 4 || d.size() > 9 || !isDigits(d)) return std::nullopt;
  return static_cast<uint32_t>(std::stoul(std::string(d)));
}

// Parses "<16 hex>.seg".
std::optional<uint64_t> parseSegmentName(std::string_view name) {
  if (name.size() != 20 || name.substr(16) != ".seg" || !isHex(name.substr(0, 16))) return std::nullopt;
  return std::stoull(std::string(name.substr(0, 16)), nullptr, 16);
}

bool isSpillName(std::string_view name) {
  return name.size() == 22 && name.substr(16) == ".spill" && isHex(name.substr(0, 16));
}

// Names in a directory (excluding . and ..).
Result<std::vector<std::string>> listDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return ioError("opendir", path, errno);
  std::vector<std::string> out;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    out.emplace_back(n);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return ioError("readdir", path, err);
  std::sort(out.begin(), out.end());
  return out;
}

// A read-only mapping of a whole file, unmapped on destruction.
class Mapping {
 public:
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  Status map(int fd, size_t size, const std::string& path) {
    if (size == 0) return okStatus();
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return ioError("mmap", path, errno);
    data_ = p;
    size_ = size;
    return okStatus();
  }
  std::string_view view() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

class SpoolImpl final : public Spool {
 public:
  explicit SpoolImpl(std::shared_ptr<SharedState> s) : state_(std::move(s)) {}
  ~SpoolImpl() override { close(); }

  Status openAndRecover();

  // Spool
  Lane& lane(size_t index) override { return *lanes_.at(index); }
  size_t laneCount() const override { return lanes_.size(); }
  std::unique_ptr<Reader> reader() override { return makeReader(state_); }
  void close() override {
    for (auto& l : lanes_) l->stop();
  }
  SpoolStats stats() const override { return state_->stats.snapshot(); }

 private:
  Status lock();
  // Recovers one lane; returns the first sequence the lane may assign next.
  Result<uint64_t> recoverLane(LaneState& lane, std::set<std::string>& referenced);
  void removeOrphanSpills(const std::set<std::string>& referenced);

  std::shared_ptr<SharedState> state_;
  UniqueFd lock_fd_;
  std::vector<std::unique_ptr<LaneImpl>> lanes_;
  std::set<uint32_t> lanes_with_corrupt_segments_;
};

Status SpoolImpl::lock() {
  std::string path = state_->options.dir + "/LOCK";
  auto fd = openFile(path, O_RDWR | O_CREAT);
  if (!fd.ok()) return fd.error();
  if (::flock(fd->get(), LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) {
      return Error(ErrorClass::kConfig, "spool " + state_->options.dir + " is in use by another process");
    }
    return ioError("flock", path, errno);
  }
  lock_fd_ = std::move(*fd);
  return okStatus();
}

Result<uint64_t> SpoolImpl::recoverLane(LaneState& lane, std::set<std::string>& referenced) {
  auto& stats = state_->stats;
  const bool sync = state_->options.fsync;
  if (auto s = makeDirs(lane.spill_dir); !s.ok()) return s.error();
  auto names = listDir(lane.dir);
  if (!names.ok()) return names.error();
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const auto& n : *names) {
    if (auto base = parseSegmentName(n)) files.emplace_back(*base, n);
  }
  std::sort(files.begin(), files.end());
  const auto cp_it = state_->checkpoint.find(lane.index);
  const uint64_t cp = cp_it == state_->checkpoint.end() ? 0 : cp_it->second;
  uint64_t next_seq = cp + 1;
  uint64_t last_seq = 0;  // across segments, sequences only grow
  for (size_t i = 0; i < files.size(); ++i) {
    const bool last_file = i + 1 == files.size();
    const std::string path = lane.dir + "/" + files[i].second;
    next_seq = std::max(next_seq, files[i].first + 1);
    auto fd = openFile(path, O_RDWR);
    if (!fd.ok()) return fd.error();
    struct stat st;
    if (::fstat(fd->get(), &st) < 0) return ioError("stat", path, errno);
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size < kSegmentHeaderSize) {
      // Created but its header never landed: it cannot hold an acknowledged record.
      ::unlink(path.c_str());
      continue;
    }
    Mapping map;
    if (auto s = map.map(fd->get(), size, path); !s.ok()) return s.error();
    auto header = decodeSegmentHeader(map.view());
    if (!header || header->lane != lane.index || header->base_seq != files[i].first) {
      bump(stats.corrupt_segments);
      lanes_with_corrupt_segments_.insert(lane.index);
      state_->log("spool: segment " + path + " has a bad header; renamed to .corrupt, records in it are not read");
      ::rename(path.c_str(), (path + ".corrupt").c_str());
      continue;
    }
    std::string_view data = map.view().substr(kSegmentHeaderSize);
    ScanResult scan = scanRecords(data, header->salt, std::max(last_seq, header->base_seq - 1));
    if (scan.corrupt_regions > 0) {
      bump(stats.corrupt_regions, scan.corrupt_regions);
      state_->log("spool: " + std::to_string(scan.corrupt_regions) + " corrupt region(s) (" +
                  std::to_string(scan.corrupt_bytes) + " bytes) skipped in " + path);
    }
    uint64_t end = kSegmentHeaderSize + scan.valid_end;
    if (scan.tail_bytes > 0) {
      if (last_file) {
        if (::ftruncate(fd->get(), static_cast<off_t>(end)) < 0) return ioError("truncate", path, errno);
        bump(stats.torn_tails_truncated);
        bump(stats.torn_bytes_truncated, scan.tail_bytes);
        state_->log("spool: truncated a torn tail of " + std::to_string(scan.tail_bytes) +
                    " bytes (never acknowledged) from " + path);
      } else {
        bump(stats.corrupt_regions);
        state_->log("spool: " + std::to_string(scan.tail_bytes) + " unreadable bytes at the end of " +
                    path + " (not the last segment); left in place, not read");
      }
    }
    auto seg = std::make_shared<Segment>();
    seg->base_seq = header->base_seq;
    seg->salt = header->salt;
    seg->path = path;
    seg->written_end = end;
    seg->durable_end = end;
    seg->sealed = true;
    bool unconsumed = false;
    std::vector<std::string> spills_to_sync;
    for (const auto& r : scan.records) {
      last_seq = r.sequence;
      next_seq = std::max(next_seq, r.sequence + 1);
      seg->last_written_seq = r.sequence;
      if (r.sequence <= cp) continue;
      unconsumed = true;
      bump(stats.recovered_records);
      if (r.spilled) {
        std::string rel(r.spill_path);
        seg->spills.push_back(rel);
        referenced.insert(rel);
        spills_to_sync.push_back(std::move(rel));
      }
    }
    if (!unconsumed) {
      // Everything in it was checkpointed (or it holds nothing): done with it.
      ::unlink(path.c_str());
      bump(stats.segments_deleted);
      continue;
    }
    if (sync) {
      for (const auto& rel : spills_to_sync) {
        if (!validSpillPath(rel)) continue;
        std::string abs = state_->spillPath(rel);
        int sfd = ::open(abs.c_str(), O_RDONLY | O_CLOEXEC);
        if (sfd < 0) continue;  // the reader reports it when it gets there
        UniqueFd owned(sfd);
        if (auto s = syncFd(sfd, abs); !s.ok()) return s.error();
        bump(stats.spill_syncs);
      }
      if (auto s = syncFd(fd->get(), path); !s.ok()) return s.error();
      bump(stats.segment_syncs);
    }
    lane.segments.push_back(std::move(seg));
  }
  if (sync) {
    if (auto s = syncDir(lane.dir); !s.ok()) return s.error();
    bump(stats.dir_syncs);
  }
  return next_seq;
}

void SpoolImpl::removeOrphanSpills(const std::set<std::string>& referenced) {
  for (const auto& lane : state_->lanes) {
    if (lanes_with_corrupt_segments_.count(lane->index) != 0) {
      // A set-aside segment may refer to these bodies; keep them for whoever rescues it.
      state_->log("spool: keeping unreferenced spill files of " + lane->dir + " (it has a corrupt segment)");
      continue;
    }
    auto names = listDir(lane->spill_dir);
    if (!names.ok()) continue;
    for (const auto& n : *names) {
      std::string rel = laneDirName(lane->index) + "/spill/" + n;
      if (referenced.count(rel) != 0) continue;
      // Spill files of checkpointed records, of records that never got written (crash
      // mid-message), and leftovers of unknown shape in our own directory.
      if (::unlink((lane->spill_dir + "/" + n).c_str()) == 0) bump(state_->stats.orphan_spills_removed);
    }
  }
}

Status SpoolImpl::openAndRecover() {
  const auto& o = state_->options;
  if (o.dir.empty()) return Error(ErrorClass::kConfig, "spool: dir is empty");
  if (o.lanes == 0 || o.lanes > 9999) return Error(ErrorClass::kConfig, "spool: lanes must be 1..9999");
  if (o.inline_max > (1ull << 30)) return Error(ErrorClass::kConfig, "spool: inline_max must be at most 1 GiB");
  if (o.segment_bytes <= kSegmentHeaderSize) {
    return Error(ErrorClass::kConfig, "spool: segment_bytes is too small");
  }
  if (auto s = makeDirs(o.dir); !s.ok()) return s;
  if (auto s = lock(); !s.ok()) return s;
  auto cp = loadCheckpoint(o.dir);
  if (cp.ok()) {
    state_->checkpoint = std::move(*cp);
  } else {
    // Starting from the beginning re-delivers records (duplicates are allowed) but can
    // never skip one; refusing to start would stop mail instead.
    state_->log("spool: " + cp.error().message() + "; reading every record from the start");
  }
  auto names = listDir(o.dir);
  if (!names.ok()) return names.error();
  uint32_t lane_count = static_cast<uint32_t>(o.lanes);
  for (const auto& n : *names) {
    if (auto l = parseLaneDir(n)) lane_count = std::max(lane_count, *l + 1);
  }
  bool created_dirs = false;
  for (uint32_t i = 0; i < lane_count; ++i) {
    auto ls = std::make_unique<LaneState>();
    ls->index = i;
    ls->dir = o.dir + "/" + laneDirName(i);
    ls->spill_dir = ls->dir + "/spill";
    struct stat st;
    if (::stat(ls->dir.c_str(), &st) < 0) created_dirs = true;
    state_->lanes.push_back(std::move(ls));
  }
  std::set<std::string> referenced;
  std::vector<uint64_t> next_seq(lane_count, 1);
  for (auto& ls : state_->lanes) {
    auto n = recoverLane(*ls, referenced);
    if (!n.ok()) return n.error();
    next_seq[ls->index] = *n;
  }
  removeOrphanSpills(referenced);
  if (created_dirs && o.fsync) {
    if (auto s = syncDir(o.dir); !s.ok()) return s;
    bump(state_->stats.dir_syncs);
  }
  for (uint32_t i = 0; i < o.lanes; ++i) {
    auto lane = std::make_unique<LaneImpl>(state_, *state_->lanes[i], next_seq[i]);
    if (auto s = lane->init(); !s.ok()) return s;
    lanes_.push_back(std::move(lane));
  }
  for (auto& l : lanes_) l->start();
  return okStatus();
}

}  // namespace

bool validSpillPath(std::string_view rel) {
  // lane-<4..9 digits>/spill/<16 hex>.spill
  size_t slash = rel.find('/');
  if (slash == std::string_view::npos || !parseLaneDir(rel.substr(0, slash))) return false;
  std::string_view rest = rel.substr(slash + 1);
  if (rest.substr(0, 6) != "spill/") return false;
  return isSpillName(rest.substr(6));
}

}  // namespace internal

Result<std::unique_ptr<Spool>> Spool::open(const SpoolOptions& options) {
  auto state = std::make_shared<internal::SharedState>();
  state->options = options;
  auto spool = std::make_unique<internal::SpoolImpl>(state);
  if (auto s = spool->openAndRecover(); !s.ok()) {
    return Error(s.error().errorClass(), "spool " + options.dir + ": " + s.error().message());
  }
  return std::unique_ptr<Spool>(std::move(spool));
}

}  // namespace mx::spool
