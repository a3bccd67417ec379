// spool/checkpoint.h — the reader's persisted progress: for each lane, the highest record
// sequence the consumer has finished with. Stored in <spool>/checkpoint, replaced
// atomically (write checkpoint.tmp, fdatasync, rename, fsync the directory), so after a
// crash the file holds either the old or the new progress, never a mix.
// Format: "MXCKPT01" | u32 count | count x (u32 lane, u64 sequence) | u32 CRC32C of all
// preceding bytes. Little-endian.
// Trust: the file is our own, but is checked (size, magic, CRC) before it is believed.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/result.h"

namespace mx::spool {

using CheckpointMap = std::map<uint32_t, uint64_t>;  // lane -> last finished sequence

// Reads <dir>/checkpoint. A missing file is an empty map. A damaged file is an error of
// class kPermanentBackend (the caller decides; the spool then starts from the beginning,
// which re-delivers records but never skips one).
Result<CheckpointMap> loadCheckpoint(const std::string& dir);

// Replaces <dir>/checkpoint durably (unless `sync` is false: benchmarks only).
Status storeCheckpoint(const std::string& dir, const CheckpointMap& map, bool sync);

}  // namespace mx::spool
