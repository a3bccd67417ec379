// fuzz/spool/segment_fuzz.cc — the recovery scanner over arbitrary segment bytes: no
// crash, no hang, and every record it accepts lies inside the input, in order, with
// strictly increasing sequences, and parses again on its own. The salt is fixed (0) so
// seeds made with it (make_seeds.cc) hold valid records for the mutator to damage.
// Trust: the input is hostile.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "spool/envelope_codec.h"
#include "spool/record_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mx::spool;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ScanResult r = scanRecords(in, /*salt=*/0, /*min_seq=*/0);
  if (r.valid_end > size || r.tail_bytes != size - r.valid_end) std::abort();
  uint64_t prev_end = 0, prev_seq = 0;
  for (const auto& rec : r.records) {
    if (rec.offset < prev_end || rec.offset + rec.length > size || rec.sequence <= prev_seq) std::abort();
    RecordView again;
    if (parseRecord(in.substr(rec.offset), 0, again) != ParseStatus::kOk || again.length != rec.length) std::abort();
    auto len = recordLength(in.substr(rec.offset), 0);
    if (!len || *len != rec.length) std::abort();
    (void)decodeEnvelope(rec.envelope);
    prev_end = rec.offset + rec.length;
    prev_seq = rec.sequence;
  }
  (void)decodeSegmentHeader(in);
  return 0;
}
