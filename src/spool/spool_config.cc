// spool/spool_config.cc — see spool_config.h.
#include "spool/spool_config.h"

namespace mx::spool {

const config::Table<SpoolOptions>& spoolTable() {
  static const config::Table<SpoolOptions> t = [] {
    config::Table<SpoolOptions> t("spool", "the durable spool: where a message lives from `250` until it is stored and published");
    t.add("dir", &SpoolOptions::dir, "segment logs, spill files, checkpoint and quarantine", config::Check::nonEmpty());
    t.add("segment_size", &SpoolOptions::segment_bytes, "roll to a new segment beyond this",
          config::Check::atLeast(64 * 1024));
    t.add("inline_max", &SpoolOptions::inline_max, "larger bodies are streamed to a spill file instead of memory");
    t.add("fsync", &SpoolOptions::fsync, "`false` only for benchmarks: `250` without durability");
    t.add("min_free", &SpoolOptions::min_free,
          "while the spool's filesystem has less free space than this, every recipient gets `452 4.3.1 "
          "Insufficient system storage` (read at most once a second; `0` turns the check off)");
    return t;
  }();
  return t;
}

}  // namespace mx::spool
