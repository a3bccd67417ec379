// spool/spool.h — the durable spool: where a message lives from end-of-data until the
// pipeline has stored it and published its event.
//
// Contract (DESIGN.md "Durability"): a commit's completion reports success only after the
// record (envelope + body) is on stable storage (fdatasync returned). Records are appended
// to per-lane, append-only segment logs; one fdatasync acknowledges every record appended
// to that lane since the previous one (group commit). Each record carries a CRC; recovery
// on open truncates a torn tail that was never acknowledged and never drops a record whose
// commit was acknowledged. Bodies above `inline_max` bytes are streamed to a spill file as
// they arrive (a 50 MB message never needs 50 MB of heap) and referenced by the record.
//
// Threads: each Lane is owned by one I/O thread (no locks on the per-byte path). Commit
// completions run on the lane's sync thread and must only hand off (post to the owner's loop).
//
// Trust: bodies and envelopes are untrusted bytes but are stored opaquely; the on-disk
// format is trusted only after its CRC checks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/message_id.h"
#include "core/result.h"

namespace mx::spool {

// Everything about a message except its bytes. Stored with the record.
struct Envelope {
  MessageId id;
  WallTime received_at{};
  std::string tenant;                 // from recipient routing; "default" if none
  std::string listener;               // "smtp", "submission", "smtps", ...
  std::string mail_from;              // empty for the null reverse-path
  std::vector<std::string> rcpt_to;
  std::string helo;
  std::string client_ip;              // the real client (after PROXY protocol)
  uint16_t client_port = 0;
  std::string proxy_peer_ip;          // the load balancer, when PROXY protocol was used
  std::string tls_version;            // empty if plaintext
  std::string tls_cipher;
  std::string auth_user;              // empty if not authenticated
  bool smtputf8 = false;
  bool body_8bit = false;

  bool operator==(const Envelope&) const = default;
};

struct SpoolOptions {
  std::string dir;                        // created if missing
  size_t lanes = 1;                       // one per I/O thread
  uint64_t segment_bytes = 64ull << 20;   // roll to a new segment past this size
  uint64_t inline_max = 1ull << 20;       // bodies larger than this go to a spill file
  bool fsync = true;                      // false only for benchmarks of the null case
  // Where recovery findings and I/O failures are reported (one line each, no newline).
  // Empty: stderr. Called from any spool thread; must be thread-safe.
  std::function<void(std::string_view)> log;
};

// Counters since open, for metrics and tests. Monotonic; read with Spool::stats().
struct SpoolStats {
  uint64_t commits = 0;               // commits acknowledged durable
  uint64_t commit_failures = 0;       // commits completed with an error (reply 451)
  uint64_t segment_syncs = 0;         // fdatasyncs of segment files: one per group commit
  uint64_t spill_syncs = 0;           // fdatasyncs of spill files
  uint64_t dir_syncs = 0;             // fsyncs of directories
  uint64_t sync_batches = 0;          // group-commit rounds run by the sync threads
  uint64_t segments_created = 0;
  uint64_t segments_deleted = 0;      // fully checkpointed segments removed
  uint64_t spills_created = 0;
  uint64_t spills_deleted = 0;
  uint64_t recovered_records = 0;     // valid, not yet checkpointed records found on open
  uint64_t torn_tails_truncated = 0;  // segments whose unacknowledged tail was cut on open
  uint64_t torn_bytes_truncated = 0;
  uint64_t corrupt_regions = 0;       // corrupt records skipped (on open or while reading)
  uint64_t corrupt_segments = 0;      // segment files with a bad header, set aside (.corrupt)
  uint64_t missing_spills = 0;        // records skipped: spill file missing, short or bad CRC
  uint64_t orphan_spills_removed = 0;
  uint64_t records_read = 0;          // records handed out by the reader
  uint64_t checkpoints = 0;
};

// Collects one message's body. Owned by the I/O thread that created it.
class MessageWriter {
 public:
  virtual ~MessageWriter() = default;
  // Appends body bytes. An error (disk full, I/O error) is final for this message.
  virtual Status append(std::string_view bytes) = 0;
  virtual uint64_t size() const = 0;
};
using MessageWriterPtr = std::unique_ptr<MessageWriter>;

// Called once per commit, on the lane's sync thread: ok once durable, or the error.
using CommitCallback = std::function<void(Status)>;

class Lane {
 public:
  virtual ~Lane() = default;
  virtual MessageWriterPtr begin() = 0;
  // Appends the record and arranges the group-commit fsync; `done` runs when it is durable.
  virtual void commit(MessageWriterPtr writer, Envelope envelope, CommitCallback done) = 0;
};

// A durable record, as the pipeline reads it.
struct Record {
  Envelope envelope;
  std::string_view body;   // valid until the reader moves past this record
  uint64_t lane = 0;
  uint64_t sequence = 0;   // per-lane, strictly increasing
};

// Reads durable records in order, across restarts, from the last checkpoint. One reader
// per spool (the pipeline); not thread-safe.
class Reader {
 public:
  virtual ~Reader() = default;
  // The next durable record not yet acknowledged, waiting up to `wait` for one to appear.
  // nullopt on timeout. The view in the record stays valid until the next call.
  virtual Result<std::optional<Record>> next(Millis wait) = 0;
  // Marks every record up to and including this one as done (persisted; after a crash the
  // reader resumes after the last persisted checkpoint, so records may be seen again).
  virtual Status checkpoint(const Record& upto) = 0;
};

class Spool {
 public:
  virtual ~Spool() = default;
  // Opens or creates the spool at options.dir and runs recovery. Errors name the path.
  static Result<std::unique_ptr<Spool>> open(const SpoolOptions& options);

  virtual Lane& lane(size_t index) = 0;
  virtual size_t laneCount() const = 0;
  virtual std::unique_ptr<Reader> reader() = 0;
  // Stops the sync threads after completing every outstanding commit.
  virtual void close() = 0;

  // Counters since open. Thread-safe.
  virtual SpoolStats stats() const = 0;
};

}  // namespace mx::spool
