// spool/reader.cc — the spool's one consumer-side reader (see spool.h "Reader").
// Reads each lane's segments with pread through a small read-ahead window, only up to the
// durable end the sync thread has published, revalidating every record (a disk can rot
// after recovery checked it). Spilled bodies are mmap'ed and their CRC checked before the
// record is handed out. Lanes are merged round-robin; within a lane, sequence order.
// Checkpoints are per lane (the highest finished sequence), written with rename + fsync.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <deque>

#include "spool/crc32c.h"
#include "spool/envelope_codec.h"
#include "spool/record_format.h"
#include "spool/spool_impl.h"

namespace mx::spool::internal {
namespace {

constexpr uint64_t kReadAhead = 64 << 10;

// A read-only mapping of one spill file; the body view of the last record returned.
class SpillMapping {
 public:
  SpillMapping() = default;
  SpillMapping(const SpillMapping&) = delete;
  SpillMapping& operator=(const SpillMapping&) = delete;
  ~SpillMapping() { reset(); }
  void reset() {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
  }
  void set(void* data, size_t size) {
    reset();
    data_ = data;
    size_ = size;
  }
  std::string_view view() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

class ReaderImpl final : public Reader {
 public:
  explicit ReaderImpl(std::shared_ptr<SharedState> state) : state_(std::move(state)) {
    cursors_.resize(state_->lanes.size());
    for (size_t i = 0; i < cursors_.size(); ++i) {
      cursors_[i].lane = state_->lanes[i].get();
      auto it = state_->checkpoint.find(static_cast<uint32_t>(i));
      cursors_[i].done = it == state_->checkpoint.end() ? 0 : it->second;
    }
  }

  // Reader
  Result<std::optional<Record>> next(Millis wait) override;
  Status checkpoint(const Record& upto) override;
  void rewind() override;

 private:
  struct Cursor {
    LaneState* lane = nullptr;
    SegmentPtr seg;
    UniqueFd fd;
    uint64_t offset = 0;
    uint64_t last_seq = 0;  // highest sequence read (delivered or skipped) in this lane
                            // since this reader started; sequences must grow
    uint64_t done = 0;      // highest checkpointed sequence
    std::string window;     // file bytes [window_off, window_off + window.size())
    uint64_t window_off = 0;
  };
  struct Delivered {
    uint32_t lane;
    uint64_t seq;
    std::string spill;  // spool-relative spill path, or empty
  };

  Result<std::optional<Record>> tryLane(Cursor& c);
  // Reads one record at c.offset (< durable_end). nullopt: skipped one, call again.
  Result<std::optional<Record>> readOne(Cursor& c, uint64_t durable_end);
  Status fill(Cursor& c, uint64_t off, uint64_t len, uint64_t limit);
  std::string_view windowAt(const Cursor& c, uint64_t off) const {
    return std::string_view(c.window).substr(off - c.window_off);
  }
  // true: mapped and verified; false: missing or damaged (skip); error: try again later.
  Result<bool> mapSpill(std::string_view rel, uint64_t len, uint32_t crc);
  void deleteConsumed();

  std::shared_ptr<SharedState> state_;
  std::vector<Cursor> cursors_;
  size_t rr_ = 0;
  std::deque<Delivered> delivered_;
  SpillMapping spill_;
};

Result<std::optional<Record>> ReaderImpl::next(Millis wait) {
  spill_.reset();  // the previous record's body is no longer needed
  const auto deadline = std::chrono::steady_clock::now() + wait;
  const size_t n = cursors_.size();
  for (;;) {
    uint64_t gen;
    {
      std::lock_guard l(state_->notify_mu);
      gen = state_->generation;
    }
    for (size_t k = 0; k < n; ++k) {
      size_t i = (rr_ + k) % n;
      auto r = tryLane(cursors_[i]);
      if (!r.ok()) return r.error();
      if (*r) {
        rr_ = i + 1;
        return r;
      }
    }
    std::unique_lock l(state_->notify_mu);
    if (!state_->notify_cv.wait_until(l, deadline, [&] { return state_->generation != gen; })) {
      return std::optional<Record>();
    }
  }
}

Result<std::optional<Record>> ReaderImpl::tryLane(Cursor& c) {
  for (;;) {
    uint64_t durable_end;
    bool finished;
    SegmentPtr next;
    {
      std::lock_guard l(c.lane->mu);
      if (!c.seg) {
        if (c.lane->segments.empty()) return std::optional<Record>();
        c.seg = c.lane->segments.front();
        c.offset = kSegmentHeaderSize;
      }
      durable_end = c.seg->durable_end;
      finished = c.seg->finished();
      if (c.offset >= durable_end && finished) {
        for (const auto& s : c.lane->segments) {
          if (s->base_seq > c.seg->base_seq) {
            next = s;
            break;
          }
        }
      }
    }
    if (c.offset < durable_end) {
      auto r = readOne(c, durable_end);
      if (!r.ok() || *r) return r;
      continue;
    }
    if (!finished || !next) return std::optional<Record>();
    c.seg = std::move(next);
    c.offset = kSegmentHeaderSize;
    c.fd.reset();
    c.window.clear();
    c.window_off = 0;
  }
}

Status ReaderImpl::fill(Cursor& c, uint64_t off, uint64_t len, uint64_t limit) {
  if (off >= c.window_off && off + len <= c.window_off + c.window.size()) return okStatus();
  uint64_t want = std::min(std::max(len, kReadAhead), limit - off);
  c.window.resize(want);
  auto n = readAt(c.fd.get(), c.window.data(), want, off, c.seg->path);
  if (!n.ok()) {
    c.window.clear();
    return n.error();
  }
  c.window.resize(*n);
  c.window_off = off;
  if (*n < len) {
    return Error(ErrorClass::kTransientBackend, "spool: " + c.seg->path + " is shorter than its durable end");
  }
  return okStatus();
}

Result<std::optional<Record>> ReaderImpl::readOne(Cursor& c, uint64_t durable_end) {
  if (!c.fd.valid()) {
    auto fd = openFile(c.seg->path, O_RDONLY);
    if (!fd.ok()) return fd.error();
    c.fd = std::move(*fd);
    c.window.clear();
  }
  const uint64_t avail = durable_end - c.offset;
  RecordView rv;
  ParseStatus ps = ParseStatus::kCorrupt;
  if (avail >= kRecordHeaderSize) {
    if (auto s = fill(c, c.offset, kRecordHeaderSize, durable_end); !s.ok()) return s.error();
    auto len = recordLength(windowAt(c, c.offset), c.seg->salt);
    if (len && *len <= avail) {
      if (auto s = fill(c, c.offset, *len, durable_end); !s.ok()) return s.error();
      ps = parseRecord(windowAt(c, c.offset).substr(0, *len), c.seg->salt, rv);
    }
  }
  if (ps != ParseStatus::kOk || rv.sequence <= c.last_seq) {
    // Bytes that checked on open (or were just synced) no longer do. Skip to the next
    // valid record; what lies between is lost and reported.
    std::string rest(avail, '\0');
    auto n = readAt(c.fd.get(), rest.data(), rest.size(), c.offset, c.seg->path);
    if (!n.ok()) return n.error();
    rest.resize(*n);
    auto pos = findNextRecord(rest, c.seg->salt, 1, c.last_seq);
    uint64_t skip = pos ? *pos : avail;
    bump(state_->stats.corrupt_regions);
    state_->log("spool: corrupt record at offset " + std::to_string(c.offset) + " of " + c.seg->path +
                "; skipped " + std::to_string(skip) + " bytes");
    c.offset += skip;
    return std::optional<Record>();
  }
  const uint32_t lane = c.lane->index;
  if (rv.sequence <= c.done) {
    // Finished before the last restart.
    c.offset += rv.length;
    c.last_seq = rv.sequence;
    return std::optional<Record>();
  }
  auto env = decodeEnvelope(rv.envelope);
  if (!env.ok()) {
    bump(state_->stats.corrupt_regions);
    state_->log("spool: record " + std::to_string(rv.sequence) + " in " + c.seg->path +
                " has a bad envelope (" + env.error().message() + "); skipped");
    bump(state_->stats.records_skipped);
    c.offset += rv.length;
    c.last_seq = rv.sequence;
    return std::optional<Record>();
  }
  Record rec;
  rec.envelope = std::move(*env);
  rec.lane = lane;
  rec.sequence = rv.sequence;
  rec.body = rv.body;
  if (rv.spilled) {
    auto m = mapSpill(rv.spill_path, rv.body_len, rv.body_crc);
    if (!m.ok()) return m.error();
    if (!*m) {
      bump(state_->stats.missing_spills);
      bump(state_->stats.records_skipped);
      state_->log("spool: record " + std::to_string(rv.sequence) + " (message " + rec.envelope.id.toString() +
                  ") in " + c.seg->path + ": spill file " + std::string(rv.spill_path) +
                  " is missing or damaged; skipped");
      c.offset += rv.length;
      c.last_seq = rv.sequence;
      return std::optional<Record>();
    }
    rec.body = spill_.view();
  }
  c.offset += rv.length;
  c.last_seq = rv.sequence;
  delivered_.push_back(Delivered{lane, rv.sequence, rv.spilled ? std::string(rv.spill_path) : std::string()});
  bump(state_->stats.records_read);
  return std::optional<Record>(std::move(rec));
}

Result<bool> ReaderImpl::mapSpill(std::string_view rel, uint64_t len, uint32_t crc) {
  if (!validSpillPath(rel)) return false;
  std::string abs = state_->spillPath(rel);
  int raw = ::open(abs.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) {
    if (errno == ENOENT) return false;
    return ioError("open", abs, errno);
  }
  UniqueFd fd(raw);
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return ioError("stat", abs, errno);
  if (static_cast<uint64_t>(st.st_size) != len) return false;
  if (len == 0) return crc == 0;
  void* p = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED) return ioError("mmap", abs, errno);
  ::madvise(p, len, MADV_SEQUENTIAL);
  spill_.set(p, len);
  if (crc32c(spill_.view()) != crc) {
    spill_.reset();
    return false;
  }
  return true;
}

void ReaderImpl::rewind() {
  // Each lane starts again at its first segment; records up to the checkpoint are skipped
  // (segments wholly before it are gone already).
  spill_.reset();
  delivered_.clear();
  for (auto& c : cursors_) {
    c.seg.reset();
    c.fd.reset();
    c.window.clear();
    c.window_off = 0;
    c.offset = 0;
    c.last_seq = 0;
  }
}

Status ReaderImpl::checkpoint(const Record& upto) {
  size_t k = 0;
  while (k < delivered_.size() &&
         !(delivered_[k].lane == upto.lane && delivered_[k].seq == upto.sequence)) {
    ++k;
  }
  if (k == delivered_.size()) {
    if (upto.lane < cursors_.size() && upto.sequence <= cursors_[upto.lane].done) return okStatus();
    return Error(ErrorClass::kNotFound, "spool: checkpoint of a record this reader has not handed out");
  }
  CheckpointMap map;
  for (const auto& c : cursors_) {
    if (c.done > 0) map[c.lane->index] = c.done;
  }
  for (size_t j = 0; j <= k; ++j) {
    auto& v = map[delivered_[j].lane];
    v = std::max(v, delivered_[j].seq);
  }
  if (auto s = storeCheckpoint(state_->options.dir, map, state_->options.fsync); !s.ok()) return s;
  bump(state_->stats.checkpoints);
  bump(state_->stats.records_checkpointed, k + 1);
  for (const auto& [lane, seq] : map) cursors_[lane].done = seq;
  std::vector<std::string> spills;
  for (size_t j = 0; j <= k; ++j) {
    if (!delivered_.front().spill.empty()) spills.push_back(std::move(delivered_.front().spill));
    delivered_.pop_front();
  }
  // The checkpoint is durable: these bodies are no longer needed. A crash before the
  // unlinks leaves orphans that the next open removes.
  for (const auto& rel : spills) {
    if (::unlink(state_->spillPath(rel).c_str()) == 0) bump(state_->stats.spills_deleted);
  }
  deleteConsumed();
  return okStatus();
}

void ReaderImpl::deleteConsumed() {
  for (auto& c : cursors_) {
    std::vector<SegmentPtr> gone;
    {
      std::lock_guard l(c.lane->mu);
      auto& segs = c.lane->segments;
      while (!segs.empty()) {
        const SegmentPtr& s = segs.front();
        if (!s->finished() || s->last_written_seq > c.done) break;
        if (c.seg == s && c.offset < s->durable_end) break;
        if (!c.seg || c.seg->base_seq < s->base_seq) break;  // not reached by the reader yet
        gone.push_back(s);
        segs.pop_front();
      }
    }
    for (const auto& s : gone) {
      if (::unlink(s->path.c_str()) == 0) bump(state_->stats.segments_deleted);
      for (const auto& rel : s->spills) {
        if (::unlink(state_->spillPath(rel).c_str()) == 0) bump(state_->stats.spills_deleted);
      }
    }
  }
}

}  // namespace

std::unique_ptr<Reader> makeReader(std::shared_ptr<SharedState> state) {
  return std::make_unique<ReaderImpl>(std::move(state));
}

}  // namespace mx::spool::internal
