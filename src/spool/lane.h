// spool/lane.h — LaneImpl: one lane's writer side (message writers, commit, segment roll)
// and its sync thread (group commit). Internal to src/spool; see spool.h for the contract.
//
// Commit path (owning I/O thread, under write_mu_): encode the record, write it with one
// pwritev at the end of the active segment, queue it. Sync thread: take everything queued,
// fdatasync spill files, fsync their directory, fdatasync each segment touched, fsync the
// lane directory if a segment was created, then mark the records durable, wake the reader,
// and run the callbacks. A failed write or sync fails the affected commits, marks their
// segments broken and makes the next commit roll to a fresh segment: after a failed
// fsync the page cache may have dropped the data ("fsyncgate"), so nothing written before
// it is trusted or appended to again.
// Trust: message bytes and envelopes are untrusted but stored opaquely (length-prefixed,
// CRC-covered); nothing here interprets them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "spool/spool.h"
#include "spool/spool_impl.h"

namespace mx::spool::internal {

class LaneImpl final : public Lane {
 public:
  // `next_seq` is the first sequence this lane may assign (greater than any on disk).
  LaneImpl(std::shared_ptr<SharedState> state, LaneState& lane, uint64_t next_seq);
  ~LaneImpl() override;

  // Opens the lane's directories and creates the first segment. Call once, before start().
  Status init();
  void start();
  // Completes every queued commit, then stops the sync thread. Later commits fail inline.
  void stop();

  // Lane
  MessageWriterPtr begin() override;
  void commit(MessageWriterPtr writer, Envelope envelope, CommitCallback done) override;
  void commitCopies(MessageWriterPtr writer, std::vector<Envelope> envelopes, CommitCallback done) override;

  // For SpoolWriter.
  const SharedState& shared() const { return *state_; }
  SharedState& shared() { return *state_; }
  const LaneState& laneState() const { return lane_; }
  int spillDirFd() const { return spill_dir_fd_.get(); }
  std::string newSpillName();

 private:
  struct Pending {
    uint64_t seq = 0;
    uint64_t end = 0;                    // segment offset just past the record
    SegmentPtr seg;                      // null for a commit that failed before writing
    std::shared_ptr<UniqueFd> seg_fd;
    UniqueFd spill_fd;                   // the record's spill file, still to be synced
    std::string spill_path;              // for error messages
    int spill_dir_fd = -1;               // directory of the spill file (lane-owned fd)
    CommitCallback done;
    std::optional<Error> error;          // set: complete with this error, sync nothing
  };

  // commit() and commitCopies(): n records of one body, written with one pwritev.
  void appendRecords(MessageWriterPtr writer, const Envelope* envelopes, size_t n, CommitCallback done);
  Status roll();                         // under write_mu_
  void fail(CommitCallback done, Error e, UniqueFd spill_fd = {}, const std::string& spill_path = {});
  void enqueue(Pending p);
  void syncLoop();
  Status syncBatch(std::vector<Pending>& batch, bool dir_dirty);

  std::shared_ptr<SharedState> state_;
  LaneState& lane_;
  UniqueFd lane_dir_fd_;
  UniqueFd spill_dir_fd_;
  uint64_t spill_prefix_ = 0;
  std::atomic<uint64_t> spill_counter_{0};

  std::mutex write_mu_;
  uint64_t next_seq_;                    // guarded by write_mu_
  std::mt19937_64 rng_;                  // guarded by write_mu_
  std::string env_buf_;                  // guarded by write_mu_
  std::vector<std::string> prefix_bufs_;  // guarded by write_mu_: one record prefix per copy

  // Guarded by lane_.mu.
  SegmentPtr active_;
  bool need_roll_ = true;
  bool dir_dirty_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::vector<Pending> pending_;
  std::condition_variable cv_;

  std::thread sync_thread_;
};

}  // namespace mx::spool::internal
