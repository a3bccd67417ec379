// spool/lane.cc — see lane.h. The per-byte path is SpoolWriter::append: a CRC update and a
// memcpy into a string while the body is small, a buffered pwritev once it has spilled.
#include "spool/lane.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "spool/crc32c.h"
#include "spool/envelope_codec.h"
#include "spool/record_format.h"

namespace mx::spool::internal {
namespace {

// Once a body has spilled, appends are staged up to this size and written together, so a
// driver that appends line by line does not cost one syscall per line.
constexpr size_t kSpillStage = 64 << 10;

std::string hex16(uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = kHex[v & 15];
  return s;
}

// Collects one message body: inline in a string up to inline_max, then in a spill file.
// Owned and used by one I/O thread; holds no lock.
class SpoolWriter final : public MessageWriter {
 public:
  explicit SpoolWriter(LaneImpl& lane) : lane_(lane), inline_max_(lane.shared().options.inline_max) {}
  ~SpoolWriter() override {
    // Never committed (RSET, disconnect, error): the spill file is ours to remove.
    if (spill_fd_.valid()) {
      spill_fd_.reset();
      ::unlink(spill_abs_.c_str());
    }
  }

  // MessageWriter
  Status append(std::string_view bytes) override {
    if (error_) return *error_;
    if (bytes.empty()) return okStatus();
    crc_ = crc32c(crc_, bytes);
    size_ += bytes.size();
    if (!spill_fd_.valid()) {
      if (buf_.size() + bytes.size() <= inline_max_) {
        buf_.append(bytes);
        return okStatus();
      }
      if (auto s = startSpill(); !s.ok()) return setError(s.error());
    }
    if (buf_.size() + bytes.size() <= kSpillStage) {
      if (buf_.capacity() < kSpillStage) buf_.reserve(kSpillStage);
      buf_.append(bytes);
      return okStatus();
    }
    struct iovec iov[2] = {{buf_.data(), buf_.size()}, {const_cast<char*>(bytes.data()), bytes.size()}};
    if (auto s = writeAllAt(spill_fd_.get(), iov, 2, file_bytes_, spill_abs_); !s.ok()) {
      return setError(s.error());
    }
    file_bytes_ += buf_.size() + bytes.size();
    buf_.clear();
    return okStatus();
  }
  uint64_t size() const override { return size_; }

  // Writes out whatever is staged; after this the body is complete on disk or in buf_.
  Status finish() {
    if (error_) return *error_;
    if (spill_fd_.valid() && !buf_.empty()) {
      if (auto s = writeAllAt(spill_fd_.get(), buf_, file_bytes_, spill_abs_); !s.ok()) {
        return setError(s.error());
      }
      file_bytes_ += buf_.size();
      std::string().swap(buf_);
    }
    return okStatus();
  }
  bool spilled() const { return spill_fd_.valid(); }
  std::string_view inlineBody() const { return spilled() ? std::string_view() : buf_; }
  uint32_t crc() const { return crc_; }
  const std::string& spillRelative() const { return spill_rel_; }
  const std::string& spillAbsolute() const { return spill_abs_; }
  UniqueFd takeSpillFd() { return std::move(spill_fd_); }
  const LaneImpl& lane() const { return lane_; }

 private:
  Status setError(Error e) {
    error_ = e;
    return e;
  }

  Status startSpill() {
    const auto& st = lane_.laneState();
    for (int attempt = 0; attempt < 4; ++attempt) {
      std::string name = lane_.newSpillName();
      std::string rel = laneDirName(st.index) + "/spill/" + name;
      std::string abs = lane_.shared().spillPath(rel);
      int fd = ::open(abs.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) {
        if (errno == EEXIST) continue;
        return ioError("create spill", abs, errno);
      }
      spill_fd_.reset(fd);
      spill_rel_ = std::move(rel);
      spill_abs_ = std::move(abs);
      bump(lane_.shared().stats.spills_created);
      if (auto s = writeAllAt(fd, buf_, 0, spill_abs_); !s.ok()) return s;
      file_bytes_ = buf_.size();
      std::string().swap(buf_);  // give back the inline_max-sized buffer
      return okStatus();
    }
    return Error(ErrorClass::kTransientBackend, "spool: could not name a new spill file");
  }

  LaneImpl& lane_;
  const uint64_t inline_max_;
  std::string buf_;          // the inline body, or staged spill bytes
  UniqueFd spill_fd_;
  std::string spill_rel_;
  std::string spill_abs_;
  uint64_t size_ = 0;
  uint64_t file_bytes_ = 0;  // bytes already in the spill file
  uint32_t crc_ = 0;
  std::optional<Error> error_;
};

}  // namespace

LaneImpl::LaneImpl(std::shared_ptr<SharedState> state, LaneState& lane, uint64_t next_seq)
    : state_(std::move(state)), lane_(lane), next_seq_(next_seq), rng_(std::random_device{}()) {
  spill_prefix_ = rng_();
}

LaneImpl::~LaneImpl() { stop(); }

Status LaneImpl::init() {
  auto d = openFile(lane_.dir, O_RDONLY | O_DIRECTORY);
  if (!d.ok()) return d.error();
  lane_dir_fd_ = std::move(*d);
  auto sd = openFile(lane_.spill_dir, O_RDONLY | O_DIRECTORY);
  if (!sd.ok()) return sd.error();
  spill_dir_fd_ = std::move(*sd);
  {
    std::lock_guard wl(write_mu_);
    if (auto s = roll(); !s.ok()) return s;
  }
  // The first segment's directory entry is made durable now rather than by the first
  // commit's sync.
  if (state_->options.fsync) {
    if (auto s = syncFd(lane_dir_fd_.get(), lane_.dir, true); !s.ok()) return s;
    bump(state_->stats.dir_syncs);
  }
  std::lock_guard l(lane_.mu);
  dir_dirty_ = false;
  return okStatus();
}

void LaneImpl::start() { sync_thread_ = std::thread([this] { syncLoop(); }); }

void LaneImpl::stop() {
  {
    // Taking write_mu_ waits out a commit in progress, so it is queued before we stop.
    std::lock_guard wl(write_mu_);
    std::lock_guard l(lane_.mu);
    stopping_ = true;
    cv_.notify_one();
  }
  if (sync_thread_.joinable()) sync_thread_.join();
  std::lock_guard l(lane_.mu);
  stopped_ = true;
  if (active_) {
    active_->sealed = true;
    active_->write_fd.reset();
  }
}

std::string LaneImpl::newSpillName() {
  return hex16(spill_prefix_ + spill_counter_.fetch_add(1, std::memory_order_relaxed)) + ".spill";
}

MessageWriterPtr LaneImpl::begin() { return std::make_unique<SpoolWriter>(*this); }

void LaneImpl::fail(CommitCallback done, Error e, UniqueFd spill_fd, const std::string& spill_path) {
  if (spill_fd.valid()) {
    // The record was never written: nothing refers to the spill file.
    spill_fd.reset();
    ::unlink(spill_path.c_str());
  }
  Pending p;
  p.done = std::move(done);
  p.error = std::move(e);
  {
    std::lock_guard l(lane_.mu);
    if (!stopped_) {
      pending_.push_back(std::move(p));
      cv_.notify_one();
      return;
    }
  }
  // No sync thread any more: complete on the caller's thread.
  bump(state_->stats.commit_failures);
  if (p.done) p.done(*p.error);
}

void LaneImpl::commit(MessageWriterPtr writer, Envelope envelope, CommitCallback done) {
  appendRecords(std::move(writer), &envelope, 1, std::move(done));
}

void LaneImpl::commitCopies(MessageWriterPtr writer, std::vector<Envelope> envelopes, CommitCallback done) {
  if (envelopes.empty()) {
    fail(std::move(done), Error(ErrorClass::kPermanentBackend, "spool: commit of a body without an envelope"));
    return;
  }
  appendRecords(std::move(writer), envelopes.data(), envelopes.size(), std::move(done));
}

void LaneImpl::appendRecords(MessageWriterPtr writer, const Envelope* envelopes, size_t n, CommitCallback done) {
  auto* w = dynamic_cast<SpoolWriter*>(writer.get());
  if (w == nullptr) {
    fail(std::move(done), Error(ErrorClass::kPermanentBackend, "spool: commit of a writer not made by Lane::begin"));
    return;
  }
  if (auto s = w->finish(); !s.ok()) {
    fail(std::move(done), s.error(), w->takeSpillFd(), w->spillAbsolute());
    return;
  }
  const bool spilled = w->spilled();
  // Each record owns its spill file (a checkpoint removes it): the further copies of a
  // spilled body get hard links to the same inode, so its one fdatasync covers them all.
  std::vector<std::string> link_rel, link_abs;
  auto unlinkLinks = [&link_abs] {
    for (const auto& a : link_abs) ::unlink(a.c_str());
  };
  if (spilled) {
    for (size_t i = 1; i < n; ++i) {
      std::string name = newSpillName();
      std::string rel = laneDirName(lane_.index) + "/spill/" + name;
      std::string abs = state_->spillPath(rel);
      if (::link(w->spillAbsolute().c_str(), abs.c_str()) != 0) {
        const int err = errno;
        unlinkLinks();
        fail(std::move(done), ioError("link spill", abs, err), w->takeSpillFd(), w->spillAbsolute());
        return;
      }
      bump(state_->stats.spills_created);
      link_rel.push_back(std::move(rel));
      link_abs.push_back(std::move(abs));
    }
  }
  auto spillRel = [&](size_t i) -> std::string_view {
    if (!spilled) return {};
    return i == 0 ? std::string_view(w->spillRelative()) : std::string_view(link_rel[i - 1]);
  };
  std::unique_lock wl(write_mu_);
  std::string_view body = w->inlineBody();
  // Envelopes are encoded into the record prefixes first: one pwritev writes every record.
  if (prefix_bufs_.size() < n) prefix_bufs_.resize(n);
  std::vector<uint64_t> record_lens(n);
  uint64_t total_len = 0;
  for (size_t i = 0; i < n; ++i) {
    env_buf_.clear();
    encodeEnvelope(envelopes[i], env_buf_);
    record_lens[i] = kRecordHeaderSize + 4 + env_buf_.size() + (spilled ? spillRel(i).size() : body.size());
    total_len += record_lens[i];
    // The sequence is filled in below, once the segment is known; keep the envelope bytes.
    prefix_bufs_[i] = env_buf_;
  }
  bool roll_needed;
  bool closing;
  {
    std::lock_guard l(lane_.mu);
    closing = stopping_;
    roll_needed =
        need_roll_ || !active_ ||
        (active_->written_end > kSegmentHeaderSize && active_->written_end + total_len > state_->options.segment_bytes);
  }
  if (closing) {
    // fail() may run `done` right here; it may commit again, so do not hold write_mu_.
    wl.unlock();
    unlinkLinks();
    fail(std::move(done), Error(ErrorClass::kTransientBackend, "spool: closed"), w->takeSpillFd(),
         w->spillAbsolute());
    return;
  }
  if (roll_needed) {
    if (auto s = roll(); !s.ok()) {
      state_->log("spool: cannot start a new segment in " + lane_.dir + ": " + s.error().message());
      unlinkLinks();
      fail(std::move(done), s.error(), w->takeSpillFd(), w->spillAbsolute());
      return;
    }
  }
  // Sequences are never reused, even after a failed write: a checkpoint names a sequence,
  // and two records with one sequence could make a resumed reader skip the second.
  const uint64_t first_seq = next_seq_;
  next_seq_ += n;
  SegmentPtr seg = active_;  // only this thread (holding write_mu_) changes active_
  std::shared_ptr<UniqueFd> seg_fd = seg->write_fd;
  const uint64_t offset = seg->written_end;
  std::vector<struct iovec> iov(2 * n);
  for (size_t i = 0; i < n; ++i) {
    env_buf_.swap(prefix_bufs_[i]);
    encodeRecordPrefix(seg->salt, first_seq + i, env_buf_, spillRel(i), w->size(), w->crc(), prefix_bufs_[i]);
    iov[2 * i] = {prefix_bufs_[i].data(), prefix_bufs_[i].size()};
    iov[2 * i + 1] = {const_cast<char*>(body.data()), body.size()};
  }
  if (auto s = writeAllAt(seg_fd->get(), iov.data(), static_cast<int>(iov.size()), offset, seg->path); !s.ok()) {
    // A partial record must not sit where the next one would go: cut it off (best effort;
    // readers never look past written_end, and recovery would cut it anyway) and move to a
    // fresh segment for the next commit.
    if (::ftruncate(seg_fd->get(), static_cast<off_t>(offset)) < 0) {
      state_->log("spool: cannot truncate " + seg->path + " after a failed write");
    }
    {
      std::lock_guard l(lane_.mu);
      need_roll_ = true;
    }
    state_->log("spool: " + s.error().message());
    unlinkLinks();
    fail(std::move(done), s.error(), w->takeSpillFd(), w->spillAbsolute());
    return;
  }
  // One Pending per record, queued together below so that one group commit takes them all;
  // the first carries the spill file to sync, the last the callback (they share one fate:
  // one segment, one batch).
  std::vector<Pending> ps(n);
  uint64_t end = offset;
  for (size_t i = 0; i < n; ++i) {
    end += record_lens[i];
    ps[i].seq = first_seq + i;
    ps[i].end = end;
    ps[i].seg = seg;
    ps[i].seg_fd = seg_fd;
  }
  if (spilled) {
    ps[0].spill_path = w->spillAbsolute();
    ps[0].spill_fd = w->takeSpillFd();
    ps[0].spill_dir_fd = w->lane().spillDirFd();
  }
  ps[n - 1].done = std::move(done);
  std::lock_guard l(lane_.mu);
  seg->written_end = end;
  seg->last_written_seq = first_seq + n - 1;
  for (size_t i = 0; i < n && spilled; ++i) seg->spills.emplace_back(spillRel(i));
  for (auto& p : ps) pending_.push_back(std::move(p));
  cv_.notify_one();
}

Status LaneImpl::roll() {
  const uint64_t base = next_seq_;
  std::string path = lane_.dir + "/" + segmentFileName(base);
  auto fd = openFile(path, O_RDWR | O_CREAT | O_EXCL);
  if (!fd.ok()) {
    ++next_seq_;  // a later attempt must not collide with whatever holds this name
    return fd.error();
  }
  SegmentHeader h;
  h.lane = lane_.index;
  h.base_seq = base;
  h.salt = rng_();
  if (auto s = writeAllAt(fd->get(), encodeSegmentHeader(h), 0, path); !s.ok()) {
    ::unlink(path.c_str());
    ++next_seq_;
    return s;
  }
  auto seg = std::make_shared<Segment>();
  seg->base_seq = base;
  seg->salt = h.salt;
  seg->path = std::move(path);
  seg->write_fd = std::make_shared<UniqueFd>(std::move(*fd));
  seg->written_end = kSegmentHeaderSize;
  seg->durable_end = kSegmentHeaderSize;
  {
    std::lock_guard l(lane_.mu);
    if (active_) {
      active_->sealed = true;
      active_->write_fd.reset();
    }
    lane_.segments.push_back(seg);
    active_ = std::move(seg);
    need_roll_ = false;
    dir_dirty_ = true;
  }
  bump(state_->stats.segments_created);
  return okStatus();
}

Status LaneImpl::syncBatch(std::vector<Pending>& batch, bool dir_dirty) {
  bump(state_->stats.sync_batches);
  if (!state_->options.fsync) return okStatus();
  std::vector<int> spill_dirs;
  std::vector<std::pair<int, const std::string*>> segs;
  for (auto& p : batch) {
    if (p.error) continue;
    if (p.spill_fd.valid()) {
      if (auto s = syncFd(p.spill_fd.get(), p.spill_path); !s.ok()) return s;
      bump(state_->stats.spill_syncs);
      if (std::find(spill_dirs.begin(), spill_dirs.end(), p.spill_dir_fd) == spill_dirs.end()) {
        spill_dirs.push_back(p.spill_dir_fd);
      }
    }
    int fd = p.seg_fd->get();
    if (std::find_if(segs.begin(), segs.end(), [&](const auto& e) { return e.first == fd; }) == segs.end()) {
      segs.emplace_back(fd, &p.seg->path);
    }
  }
  // Spill files and their names first: a record is acknowledged only once everything it
  // refers to is durable.
  for (int d : spill_dirs) {
    if (auto s = syncFd(d, "spill directory", true); !s.ok()) return s;
    bump(state_->stats.dir_syncs);
  }
  for (const auto& [fd, path] : segs) {
    if (auto s = syncFd(fd, *path); !s.ok()) return s;
    bump(state_->stats.segment_syncs);
  }
  if (dir_dirty) {
    if (auto s = syncFd(lane_dir_fd_.get(), lane_.dir, true); !s.ok()) return s;
    bump(state_->stats.dir_syncs);
  }
  return okStatus();
}

void LaneImpl::syncLoop() {
  std::vector<Pending> batch;
  for (;;) {
    bool dir_dirty;
    {
      std::unique_lock l(lane_.mu);
      cv_.wait(l, [&] { return !pending_.empty() || stopping_; });
      if (pending_.empty()) {
        stopped_ = true;
        return;
      }
      batch.swap(pending_);
      dir_dirty = std::exchange(dir_dirty_, false);
      for (auto& p : batch) {
        if (!p.error && p.seg->broken) {
          p.error = Error(ErrorClass::kTransientBackend,
                          "spool: an earlier sync of " + p.seg->path + " failed");
        }
      }
    }
    Status st = syncBatch(batch, dir_dirty);
    bool any_durable = false;
    {
      std::lock_guard l(lane_.mu);
      for (auto& p : batch) {
        if (p.error) continue;
        if (st.ok()) {
          p.seg->durable_end = std::max(p.seg->durable_end, p.end);
          any_durable = true;
        } else {
          // fsyncgate: after a failed fsync the kernel may have dropped the dirty pages and
          // a later fsync can succeed without them. Nothing in this segment beyond what was
          // durable is trusted; the next commit rolls to a new segment.
          p.seg->broken = true;
          p.seg->sealed = true;
          if (p.seg == active_) need_roll_ = true;
        }
      }
      if (!st.ok() && dir_dirty) dir_dirty_ = true;
    }
    if (any_durable) state_->notifyDurable();
    if (!st.ok()) state_->log("spool: group commit failed: " + st.error().message());
    for (auto& p : batch) {
      if (p.error) {
        bump(state_->stats.commit_failures);
        if (p.done) p.done(*p.error);
      } else if (!st.ok()) {
        bump(state_->stats.commit_failures);
        if (p.done) p.done(st.error());
      } else {
        bump(state_->stats.commits);
        if (p.done) p.done(okStatus());
      }
    }
    batch.clear();
  }
}

}  // namespace mx::spool::internal
