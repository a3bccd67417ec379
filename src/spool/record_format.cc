// spool/record_format.cc — see record_format.h.
// Record header layout (40 bytes):
//   0 u32 magic | 4 u8 version | 5 u8 flags | 6 u16 reserved (0) | 8 u64 sequence |
//   16 u64 body_len | 24 u32 meta_len | 28 u32 body_crc | 32 u32 meta_crc |
//   36 u32 header_crc = CRC32C(salt as 8 LE bytes || header bytes 0..35).
// Segment header layout (40 bytes):
//   0 u64 magic | 8 u32 version | 12 u32 lane | 16 u64 base_seq | 24 u64 salt |
//   32 u32 crc = CRC32C(bytes 0..31) | 36 u32 reserved (0).
#include "spool/record_format.h"

#include <cstring>

#include "spool/crc32c.h"

namespace mx::spool {
namespace {

void put(char* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint64_t get(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

uint32_t headerCrc(uint64_t salt, const char* header) {
  char s[8];
  put(s, salt, 8);
  return crc32c(crc32c(0, s, 8), header, 36);
}

}  // namespace

std::string encodeSegmentHeader(const SegmentHeader& h) {
  std::string out(kSegmentHeaderSize, '\0');
  char* p = out.data();
  put(p, kSegmentMagic, 8);
  put(p + 8, kSegmentVersion, 4);
  put(p + 12, h.lane, 4);
  put(p + 16, h.base_seq, 8);
  put(p + 24, h.salt, 8);
  put(p + 32, crc32c(0, p, 32), 4);
  return out;
}

std::optional<SegmentHeader> decodeSegmentHeader(std::string_view b) {
  if (b.size() < kSegmentHeaderSize) return std::nullopt;
  const char* p = b.data();
  if (get(p, 8) != kSegmentMagic || get(p + 8, 4) != kSegmentVersion) return std::nullopt;
  if (get(p + 32, 4) != crc32c(0, p, 32)) return std::nullopt;
  SegmentHeader h;
  h.lane = static_cast<uint32_t>(get(p + 12, 4));
  h.base_seq = get(p + 16, 8);
  h.salt = get(p + 24, 8);
  return h;
}

void encodeRecordPrefix(uint64_t salt, uint64_t sequence, std::string_view envelope_bytes,
                        std::string_view spill_path, uint64_t body_len, uint32_t body_crc,
                        std::string& out) {
  size_t meta_len = 4 + envelope_bytes.size() + spill_path.size();
  out.resize(kRecordHeaderSize + meta_len);
  char* h = out.data();
  char* m = h + kRecordHeaderSize;
  put(m, envelope_bytes.size(), 4);
  if (!envelope_bytes.empty()) std::memcpy(m + 4, envelope_bytes.data(), envelope_bytes.size());
  if (!spill_path.empty()) {
    std::memcpy(m + 4 + envelope_bytes.size(), spill_path.data(), spill_path.size());
  }
  put(h, kRecordMagic, 4);
  h[4] = static_cast<char>(kRecordVersion);
  h[5] = static_cast<char>(spill_path.empty() ? 0 : kRecordSpilled);
  put(h + 6, 0, 2);
  put(h + 8, sequence, 8);
  put(h + 16, body_len, 8);
  put(h + 24, meta_len, 4);
  put(h + 28, body_crc, 4);
  put(h + 32, crc32c(0, m, meta_len), 4);
  put(h + 36, headerCrc(salt, h), 4);
}

ParseStatus parseRecord(std::string_view data, uint64_t salt, RecordView& out) {
  if (data.size() < kRecordHeaderSize) return ParseStatus::kIncomplete;
  const char* h = data.data();
  // The magic is checked before the CRC only to fail fast; the CRC decides.
  if (get(h, 4) != kRecordMagic) return ParseStatus::kCorrupt;
  if (get(h + 36, 4) != headerCrc(salt, h)) return ParseStatus::kCorrupt;
  uint8_t version = static_cast<uint8_t>(h[4]);
  uint8_t flags = static_cast<uint8_t>(h[5]);
  if (version != kRecordVersion || (flags & ~kRecordSpilled) != 0 || get(h + 6, 2) != 0) {
    return ParseStatus::kCorrupt;
  }
  uint64_t seq = get(h + 8, 8);
  uint64_t body_len = get(h + 16, 8);
  uint32_t meta_len = static_cast<uint32_t>(get(h + 24, 4));
  uint32_t body_crc = static_cast<uint32_t>(get(h + 28, 4));
  uint32_t meta_crc = static_cast<uint32_t>(get(h + 32, 4));
  bool spilled = (flags & kRecordSpilled) != 0;
  if (meta_len < 4 || meta_len > kMaxMetaLen || seq == 0) return ParseStatus::kCorrupt;
  uint64_t rest = data.size() - kRecordHeaderSize;
  if (meta_len > rest) return ParseStatus::kIncomplete;
  uint64_t inline_len = spilled ? 0 : body_len;
  if (inline_len > rest - meta_len) return ParseStatus::kIncomplete;
  std::string_view meta = data.substr(kRecordHeaderSize, meta_len);
  if (crc32c(meta) != meta_crc) return ParseStatus::kCorrupt;
  uint64_t env_len = get(meta.data(), 4);
  if (env_len > meta_len - 4) return ParseStatus::kCorrupt;
  std::string_view spill = meta.substr(4 + env_len);
  if (spilled == spill.empty()) return ParseStatus::kCorrupt;
  std::string_view body;
  if (!spilled) {
    body = data.substr(kRecordHeaderSize + meta_len, inline_len);
    if (crc32c(body) != body_crc) return ParseStatus::kCorrupt;
  }
  out = RecordView{};
  out.length = kRecordHeaderSize + meta_len + inline_len;
  out.sequence = seq;
  out.spilled = spilled;
  out.body_len = body_len;
  out.body_crc = body_crc;
  out.envelope = meta.substr(4, env_len);
  out.spill_path = spill;
  out.body = body;
  return ParseStatus::kOk;
}

std::optional<uint64_t> recordLength(std::string_view data, uint64_t salt) {
  if (data.size() < kRecordHeaderSize) return std::nullopt;
  const char* h = data.data();
  if (get(h, 4) != kRecordMagic || get(h + 36, 4) != headerCrc(salt, h)) return std::nullopt;
  bool spilled = (static_cast<uint8_t>(h[5]) & kRecordSpilled) != 0;
  uint64_t meta_len = get(h + 24, 4);
  uint64_t body_len = get(h + 16, 8);
  if (meta_len > kMaxMetaLen) return std::nullopt;
  if (!spilled && body_len > (uint64_t{1} << 48)) return std::nullopt;
  return kRecordHeaderSize + meta_len + (spilled ? 0 : body_len);
}

std::optional<size_t> findNextRecord(std::string_view data, uint64_t salt, size_t from,
                                     uint64_t min_seq) {
  static constexpr char kMagicBytes[4] = {'M', 'X', 'R', '1'};
  while (from + kRecordHeaderSize <= data.size()) {
    const void* hit = memmem(data.data() + from, data.size() - from, kMagicBytes, 4);
    if (hit == nullptr) return std::nullopt;
    size_t at = static_cast<size_t>(static_cast<const char*>(hit) - data.data());
    RecordView r;
    if (parseRecord(data.substr(at), salt, r) == ParseStatus::kOk && r.sequence > min_seq) {
      return at;
    }
    from = at + 1;
  }
  return std::nullopt;
}

ScanResult scanRecords(std::string_view data, uint64_t salt, uint64_t min_seq) {
  ScanResult res;
  size_t pos = 0;
  uint64_t last = min_seq;
  while (pos < data.size()) {
    RecordView r;
    ParseStatus st = parseRecord(data.substr(pos), salt, r);
    if (st == ParseStatus::kOk && r.sequence > last) {
      r.offset = pos;
      last = r.sequence;
      pos += r.length;
      res.records.push_back(r);
      res.valid_end = pos;
      continue;
    }
    // Not a valid record here. If a valid one follows, the bytes between are a corrupt
    // region (skipped, counted); otherwise everything from here on is the tail.
    auto next = findNextRecord(data, salt, pos + 1, last);
    if (!next) break;
    ++res.corrupt_regions;
    res.corrupt_bytes += *next - pos;
    pos = *next;
  }
  res.tail_bytes = data.size() - res.valid_end;
  return res;
}

}  // namespace mx::spool
