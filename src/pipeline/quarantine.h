// pipeline/quarantine.h — where a record goes when the pipeline cannot process it: a
// permanent failure (the store refuses its object; a message that can never be processed)
// or a transient one that outlasted pipeline.give_up_after. The record leaves the spool
// (it is checkpointed) only once it is durably here, so nothing is lost; an operator
// lists the entries, fixes the cause, and sends them back with `mxgate quarantine retry`.
//
// Layout (under <spool.dir>/quarantine, docs/pipeline.md "Quarantine"):
//   <dir>/<id>.mxq          an entry: envelope + raw bytes + why + first/last failure + attempts
//   <dir>/retry/<id>.mxq    an entry sent back by `quarantine retry`; the running consumer
//                           polls this inbox between batches (or the next start does),
//                           feeds it through the MessageHandler, and deletes it durably once
//                           its objects are stored and its event published; if it fails for
//                           good again it is written back to <dir> with the new reason
//   <dir>/.tmp-*            a put() in progress (removed on open by the owner after a crash)
//   <dir>/<id>.mxq.damaged  an inbox entry that failed its checks, set aside (never retried)
// Every change is durable before it returns: write a temporary, fdatasync, rename, fsync
// the directory (put); rename, fsync both directories (retry); unlink, fsync (finish).
// Nothing here takes the spool's LOCK, so `mxgate quarantine` works while `mxgate serve`
// runs; the only writer of entries is the consumer, the CLI only renames them into the inbox
// (rename is atomic, so the two never see half a file).
//
// File format (little-endian): "MXQUAR01" | u32 meta_len | meta | u32 CRC32C(magic..meta) |
// raw bytes. meta = u8 version (1) | u8 error class | u32 attempts | u32 retries |
// i64 first failure ns | i64 last failure ns | u64 raw length | u32 CRC32C(raw) |
// str reason | str origin | str envelope (spool/envelope_codec.h), each str = u32 len + bytes.
//
// Threads: a Quarantine may be used from several threads; the file system serialises.
// Errors: I/O is kTransientBackend (naming the path); a missing entry kNotFound; a damaged
// file kPermanentBackend; a malformed id kConfig.
// Trust: entries are our own files but are checked (magic, lengths, CRCs) before use; ids
// from the command line are checked to be ULIDs before they touch a path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/envelope.h"
#include "core/result.h"

namespace mx::pipeline {

// Why a record is here, accumulated over every stay (a retried entry keeps its first failure).
struct QuarantineFailure {
  std::string reason;                  // the last error, naming what failed
  ErrorClass error_class = ErrorClass::kPermanentBackend;
  WallTime first_failure{};
  WallTime last_failure{};
  uint32_t attempts = 0;               // failed attempts, over every stay
};

struct QuarantineEntry {
  std::string name;         // file name in its directory: "<id>.mxq"
  std::string id;           // the message id (ULID text)
  Envelope envelope;
  uint64_t size = 0;        // bytes of the raw message
  QuarantineFailure failure;
  std::string origin;       // where it last failed: "spool lane 0 sequence 42" or "retry"
  uint32_t retries = 0;     // times sent back by `quarantine retry`
  std::string raw;          // the raw message: only filled by loadRetry()
  bool damaged = false;     // list(): the file failed its checks (see `damage`)
  std::string damage;
};

struct QuarantineOptions {
  std::string dir;      // created if missing, with its retry/ inbox
  bool fsync = true;    // false only for benchmarks
  // The consumer (the only writer) is the owner: open() removes temporaries a crash left.
  bool owner = false;
};

class Quarantine {
 public:
  static Result<std::unique_ptr<Quarantine>> open(const QuarantineOptions& options);

  const std::string& dir() const { return options_.dir; }
  std::string retryDir() const { return options_.dir + "/retry"; }

  // Writes an entry for the message, durably, replacing one with the same id.
  Status put(const Envelope& envelope, std::string_view raw, const QuarantineFailure& failure,
             std::string_view origin, uint32_t retries);

  // Entries in the quarantine (not the inbox), oldest id first; raw bytes are not read.
  // A file that fails its checks is listed with damaged = true.
  Result<std::vector<QuarantineEntry>> list() const;

  // Moves entry `id` to the retry inbox, durably. kNotFound if there is none (the error
  // says if it is already in the inbox); kConfig if `id` is not a message id.
  Status retry(std::string_view id);
  // Moves every entry (not the damaged ones) to the inbox; returns their ids.
  Result<std::vector<std::string>> retryAll();

  // The consumer's side of the inbox: entry file names waiting there, oldest id first.
  Result<std::vector<std::string>> inbox() const;
  // The full entry (raw bytes included), checked; kPermanentBackend if damaged.
  Result<QuarantineEntry> loadRetry(std::string_view name) const;
  // Deletes an inbox entry durably (it was stored and published, or put back).
  Status finishRetry(std::string_view name);
  // Moves a damaged inbox entry aside as <dir>/<name>.damaged, so it is not tried again.
  Status setAside(std::string_view name);

 private:
  explicit Quarantine(QuarantineOptions o) : options_(std::move(o)) {}
  Status syncDir(const std::string& path) const;

  QuarantineOptions options_;
};

// "01HF..." with 26 Crockford base-32 characters: the only ids put into paths.
bool isQuarantineId(std::string_view id);

}  // namespace mx::pipeline
