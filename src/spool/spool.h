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
// format is trusted only after its CRC checks. The envelope is the one mx::Envelope
// (core/envelope.h), encoded by envelope_codec.h.
//
// On-disk format, recovery rules, checkpoint semantics and failure behaviour: docs/spool.md.
// Errors: I/O failures are kTransientBackend (reply 451 and let the client retry); bad
// options are kConfig; a spool directory locked by another process is kConfig.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/envelope.h"
#include "core/message_id.h"
#include "core/result.h"

namespace mx::spool {

struct SpoolOptions {
  std::string dir = "var/spool";          // created if missing
  size_t lanes = 1;                       // one per I/O thread
  // Free space the spool's filesystem should keep: below it, recipients are deferred with
  // 452 4.3.1 (policy/storage_guard.h reads it; the spool itself does not). 0: no check.
  uint64_t min_free = 512ull << 20;
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
  uint64_t records_checkpointed = 0;  // records covered by checkpoints (each counted once)
  uint64_t records_skipped = 0;       // records never handed out: missing spill, bad envelope

  // Records durable but not checkpointed: acknowledged (or recovered on open) and not yet
  // done by the consumer. Exact, except that records lost inside a corrupt region (their
  // number is unknown) are never counted out; clamped at 0 (a record may be read in the
  // instant before its commit is counted).
  uint64_t backlog() const {
    uint64_t in = recovered_records + commits, out = records_checkpointed + records_skipped;
    return in > out ? in - out : 0;
  }
};

// Collects one message's body. Owned by the I/O thread that created it. Holds nothing
// until the first append (an idle connection costs ~200 bytes); the body is buffered in
// memory up to inline_max, then streamed to a spill file in 64 KiB writes. Destroying a
// writer without committing it (RSET, disconnect) discards the body and its spill file.
// A writer must be committed or destroyed before its Spool is closed.
class MessageWriter {
 public:
  virtual ~MessageWriter() = default;
  // Appends body bytes (copied; `bytes` may be reused at once). An error (disk full, I/O
  // error) is final for this message: later appends and the commit report it.
  virtual Status append(std::string_view bytes) = 0;
  virtual uint64_t size() const = 0;
};
using MessageWriterPtr = std::unique_ptr<MessageWriter>;

// Called once per commit, on the lane's sync thread: ok once durable, or the error.
// Callbacks of one lane run in commit order. A callback may call commit() again, but must
// not call Spool::close() (it would wait for itself).
using CommitCallback = std::function<void(Status)>;

class Lane {
 public:
  virtual ~Lane() = default;
  // A new, empty message body. Cheap; no I/O.
  virtual MessageWriterPtr begin() = 0;
  // Appends the record (one pwritev on the calling thread, no fsync) and queues it for the
  // lane's next group-commit fdatasync; `done` runs when it is durable, or with the error.
  // `writer` must come from begin() of this spool (any lane). Safe to call from several
  // threads (commits are serialised per lane), though the server uses one per lane. After
  // close(), `done` runs at once, on the calling thread, with an error.
  virtual void commit(MessageWriterPtr writer, Envelope envelope, CommitCallback done) = 0;
  // As commit(), for one body under several envelopes: one record per envelope (a message
  // for several tenants, each copy with its own id and recipients). The records are written
  // with one pwritev and queued together, so one group commit makes them durable together;
  // `done` runs once: ok only when every record is durable. A spilled body is hard-linked
  // once per further copy (each record owns its spill file, removed by its own checkpoint).
  // `envelopes` must not be empty (else `done` gets kPermanentBackend).
  virtual void commitCopies(MessageWriterPtr writer, std::vector<Envelope> envelopes, CommitCallback done) = 0;
};

// A durable record, as the pipeline reads it. (lane, sequence) identifies it; that is all
// Reader::checkpoint() looks at.
struct Record {
  Envelope envelope;
  std::string_view body;   // valid until the reader moves past this record
  uint64_t lane = 0;
  uint64_t sequence = 0;   // per-lane, strictly increasing (also across restarts)
};

// Reads durable records in order, across restarts, from the last checkpoint. One reader
// per spool (the pipeline); not thread-safe. Destroy it before the Spool: the Spool's
// destruction releases the directory lock that keeps other processes out.
// Order: within a lane, sequence order; lanes are interleaved round-robin. Only records
// whose fdatasync completed are returned (after a restart: everything recovery kept, which
// it fdatasyncs first). A record that fails its CRC when read, or whose spill file is
// missing or damaged, is skipped, logged and counted (SpoolStats), never returned.
class Reader {
 public:
  virtual ~Reader() = default;
  // The next durable record not yet handed out, waiting up to `wait` for one to appear
  // (woken by the sync threads). nullopt on timeout. The view in the record stays valid
  // until the next call. An error (kTransientBackend: a read failed) leaves the position
  // unchanged; call again later.
  virtual Result<std::optional<Record>> next(Millis wait) = 0;
  // Marks every record handed out up to and including `upto` (in next() order) as done,
  // durably (checkpoint file replaced with rename + fsync). Then removes spill files of
  // those records and segments whose records are all done. After a crash the reader
  // resumes after the last persisted checkpoint, so records may be seen again, never
  // skipped. kNotFound if `upto` was not handed out by this reader (already-done records
  // are accepted as a no-op); an I/O error leaves the previous checkpoint in force.
  virtual Status checkpoint(const Record& upto) = 0;
  // Forgets every record handed out since the last checkpoint: next() returns them again.
  // For a consumer whose batch failed after the records' views were gone (e.g. a deferred
  // store sync). Cheap; no I/O until the next call.
  virtual void rewind() = 0;
};

class Spool {
 public:
  virtual ~Spool() = default;
  // Opens or creates the spool at options.dir and runs recovery. Errors name the path.
  static Result<std::unique_ptr<Spool>> open(const SpoolOptions& options);

  // Lanes 0..laneCount()-1 (options.lanes). Lanes left on disk by an earlier run with more
  // lanes are still read, but get no new records.
  virtual Lane& lane(size_t index) = 0;
  virtual size_t laneCount() const = 0;
  // The spool's reader; call once (one consumer per spool).
  virtual std::unique_ptr<Reader> reader() = 0;
  // Stops the sync threads after completing every outstanding commit. Idempotent; the
  // destructor calls it.
  virtual void close() = 0;

  // Counters since open. Thread-safe.
  virtual SpoolStats stats() const = 0;
};

}  // namespace mx::spool
