// spool/spool_impl.h — internal state of the spool shared by the lanes (writers and their
// sync threads), the reader and recovery. Not part of the public API: include spool.h.
//
// Locking: each LaneState::mu guards that lane's segment list and every Segment field
// marked "guarded"; LaneImpl::write_mu_ serialises commits on a lane (normally one thread
// anyway) and is always taken before LaneState::mu. SharedState::notify_mu guards only the
// durability generation used to wake the reader. No lock is held while running callbacks,
// fsyncing, or reading files (except that a commit writes its record under write_mu_).
// Trust: internal state only; bytes read from disk are validated (record_format.h) before
// anything here believes them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "spool/checkpoint.h"
#include "spool/file_util.h"
#include "spool/spool.h"

namespace mx::spool::internal {

// One segment file of one lane.
struct Segment {
  uint64_t base_seq = 0;
  uint64_t salt = 0;
  std::string path;  // the file: <options.dir>/lane-NNNN/<base>.seg

  // Guarded by LaneState::mu.
  std::shared_ptr<UniqueFd> write_fd;  // while it is the lane's active segment
  uint64_t written_end = 0;            // bytes written (header included)
  uint64_t durable_end = 0;            // bytes known to be on stable storage
  uint64_t last_written_seq = 0;       // 0: no record
  bool sealed = false;                 // no more records will be appended
  bool broken = false;                 // a write or sync failed: records past durable_end
                                       // will never be acknowledged
  std::vector<std::string> spills;     // spill paths (spool-relative) of its records

  // Every record that will ever be readable from this segment is readable now.
  bool finished() const { return sealed && (broken || durable_end == written_end); }
};
using SegmentPtr = std::shared_ptr<Segment>;

// The part of a lane the reader sees; exists for every lane directory on disk as well as
// every configured lane.
struct LaneState {
  uint32_t index = 0;
  std::string dir;        // <spool>/lane-NNNN
  std::string spill_dir;  // <spool>/lane-NNNN/spill
  std::mutex mu;
  std::deque<SegmentPtr> segments;  // ordered by base_seq
};

struct AtomicStats {
  std::atomic<uint64_t> commits{0}, commit_failures{0}, segment_syncs{0}, spill_syncs{0},
      dir_syncs{0}, sync_batches{0}, segments_created{0}, segments_deleted{0},
      spills_created{0}, spills_deleted{0}, recovered_records{0}, torn_tails_truncated{0},
      torn_bytes_truncated{0}, corrupt_regions{0}, corrupt_segments{0}, missing_spills{0},
      orphan_spills_removed{0}, records_read{0}, checkpoints{0}, records_checkpointed{0},
      records_skipped{0};
  SpoolStats snapshot() const;
};

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

struct SharedState {
  SpoolOptions options;
  AtomicStats stats;
  std::vector<std::unique_ptr<LaneState>> lanes;  // index == LaneState::index
  CheckpointMap checkpoint;                        // as loaded on open

  // Durability generation: bumped by sync threads whenever records become durable.
  std::mutex notify_mu;
  std::condition_variable notify_cv;
  uint64_t generation = 0;

  void notifyDurable();
  void log(std::string_view line) const;
  std::string spillPath(std::string_view relative) const { return options.dir + "/" + std::string(relative); }
};

// Names: lane directories "lane-0000", segment files "<base_seq as 16 hex>.seg", spill
// files "<16 hex>.spill" in the lane's "spill" subdirectory.
std::string laneDirName(uint32_t lane);
std::string segmentFileName(uint64_t base_seq);
// A spool-relative spill path as stored in records, checked to have exactly the shape
// "lane-<digits>/spill/<16 hex>.spill" (a record's path is never trusted blindly).
bool validSpillPath(std::string_view relative);

std::unique_ptr<Reader> makeReader(std::shared_ptr<SharedState> state);

}  // namespace mx::spool::internal
