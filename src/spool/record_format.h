// spool/record_format.h — the on-disk layout of spool segment files and their records
// (docs/spool.md "On-disk format"), and the scanner that recovery and the reader use to
// walk a segment: validate each record's CRCs, skip a corrupt region by resynchronising on
// the next valid record, and report where a torn tail begins.
//
// Segment file  = SegmentHeader (40 bytes) followed by records, back to back.
// Record        = RecordHeader (40 bytes) | meta (meta_len bytes) | inline body (if any).
//   meta        = u32 envelope length | envelope (envelope_codec.h) | spill path (rest),
//                 the spill path being present only when flags has kRecordSpilled.
// All integers are little-endian. The record header's CRC is seeded with the segment's
// random salt, so bytes inside a message body that imitate a record can never pass for
// one when recovery resynchronises after corruption.
//
// Trust: the scanner takes arbitrary bytes (fuzzed: fuzz/spool/segment_fuzz.cc). A record
// is believed only after its header CRC, meta CRC and (inline) body CRC all match.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mx::spool {

inline constexpr uint64_t kSegmentMagic = 0x314C4F4F5053584Dull;  // "MXSPOOL1" as bytes
inline constexpr uint32_t kSegmentVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 40;

inline constexpr uint32_t kRecordMagic = 0x3152584Du;  // "MXR1" as bytes
inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kRecordHeaderSize = 40;
inline constexpr uint8_t kRecordSpilled = 1;
// Upper bound on meta (envelope + spill path): far above any real envelope (SMTP limits
// recipients and line lengths), low enough that a forged length cannot make us allocate.
inline constexpr uint32_t kMaxMetaLen = 16u << 20;

struct SegmentHeader {
  uint32_t lane = 0;
  uint64_t base_seq = 0;  // the sequence the segment's first record was to get
  uint64_t salt = 0;      // random per segment; seeds the record header CRC
};

std::string encodeSegmentHeader(const SegmentHeader& h);
// nullopt if `bytes` is shorter than the header, or magic, version or CRC do not match.
std::optional<SegmentHeader> decodeSegmentHeader(std::string_view bytes);

// Fields of one record as parsed from a segment.
struct RecordView {
  uint64_t offset = 0;     // of the record header, relative to the scanned data
  uint64_t length = 0;     // header + meta + inline body
  uint64_t sequence = 0;
  bool spilled = false;
  uint64_t body_len = 0;   // inline body length, or the spill file's size
  uint32_t body_crc = 0;   // CRC32C of the body bytes (verified here only when inline)
  std::string_view envelope;  // encoded envelope (decode with decodeEnvelope)
  std::string_view spill_path;  // relative to the spool directory, when spilled
  std::string_view body;   // inline body, when not spilled
};

// Builds the header and meta of a record into `out` (replacing its contents). The inline
// body (when not spilled) follows `out` on disk and is passed separately so it need not be
// copied; `body_crc` is its CRC32C (or the spill file's).
void encodeRecordPrefix(uint64_t salt, uint64_t sequence, std::string_view envelope_bytes,
                        std::string_view spill_path, uint64_t body_len, uint32_t body_crc,
                        std::string& out);

enum class ParseStatus {
  kOk,
  kIncomplete,  // the data ends inside the record (or its header): a torn write
  kCorrupt,     // a checksum or field does not match
};

// Parses the record starting at data[0]. On kOk fills `out` (offset 0) with views into
// `data`.
ParseStatus parseRecord(std::string_view data, uint64_t salt, RecordView& out);

// Length of the whole record whose header is data[0..kRecordHeaderSize), or nullopt when
// the header is short or fails its CRC. Lets a reader learn how much to read next.
std::optional<uint64_t> recordLength(std::string_view data, uint64_t salt);

// Finds the first valid record starting at an offset >= `from` whose sequence is greater
// than `min_seq`; nullopt if none. Used to resynchronise after a corrupt record.
std::optional<size_t> findNextRecord(std::string_view data, uint64_t salt, size_t from,
                                     uint64_t min_seq);

struct ScanResult {
  std::vector<RecordView> records;  // valid records, in order, offsets relative to data
  uint64_t valid_end = 0;           // offset just after the last valid record
  uint64_t corrupt_regions = 0;     // bad regions followed by a valid record (skipped)
  uint64_t corrupt_bytes = 0;
  uint64_t tail_bytes = 0;          // bytes after valid_end (a torn tail, or garbage)
};

// Walks `data` (the bytes after the segment header). Sequences must increase strictly
// and exceed `min_seq`; a record that breaks this is treated as corrupt.
ScanResult scanRecords(std::string_view data, uint64_t salt, uint64_t min_seq);

}  // namespace mx::spool
