// core/message_id.cc — ULID encoding and the monotonic generator (see message_id.h).
#include "core/message_id.h"

namespace mx {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int decodeChar(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}

}  // namespace

std::string MessageId::toString() const {
  // 128 bits = 2 (pad) + 48 time + 80 random, emitted as 26 groups of 5 bits.
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(millis_ >> (40 - 8 * i));
  b[6] = static_cast<uint8_t>(rand_hi_ >> 8);
  b[7] = static_cast<uint8_t>(rand_hi_);
  for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<uint8_t>(rand_lo_ >> (56 - 8 * i));
  std::string out(kTextLength, '0');
  // Bit position of the first 5-bit group counts from -2 (two leading pad bits).
  for (size_t g = 0; g < kTextLength; ++g) {
    int bit = static_cast<int>(g) * 5 - 2;
    unsigned v = 0;
    for (int k = 0; k < 5; ++k, ++bit) {
      v <<= 1;
      if (bit >= 0) v |= (b[bit / 8] >> (7 - bit % 8)) & 1u;
    }
    out[g] = kAlphabet[v];
  }
  return out;
}

std::optional<MessageId> MessageId::parse(std::string_view text) {
  if (text.size() != kTextLength) return std::nullopt;
  std::array<uint8_t, 16> b{};
  int bit = -2;
  for (char c : text) {
    int v = decodeChar(c);
    if (v < 0) return std::nullopt;
    for (int k = 4; k >= 0; --k, ++bit) {
      unsigned one = (static_cast<unsigned>(v) >> k) & 1u;
      if (bit < 0) {
        if (one) return std::nullopt;  // overflow: first char must be 0-7
        continue;
      }
      b[bit / 8] |= static_cast<uint8_t>(one << (7 - bit % 8));
    }
  }
  uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = (ms << 8) | b[i];
  uint16_t hi = static_cast<uint16_t>((b[6] << 8) | b[7]);
  uint64_t lo = 0;
  for (int i = 0; i < 8; ++i) lo = (lo << 8) | b[8 + i];
  return MessageId(ms, hi, lo);
}

MessageIdGenerator::MessageIdGenerator(uint64_t seed) : rng_(seed) {}

MessageId MessageIdGenerator::next(WallTime now) {
  uint64_t ms = static_cast<uint64_t>(unixMillis(now));
  if (ms <= last_millis_) {
    // Same (or earlier, if the wall clock stepped back) millisecond: keep the last time and
    // increment the 80-bit random part so ids from this generator stay strictly increasing.
    ++last_lo_;
    if (last_lo_ == 0) ++last_hi_;
  } else {
    last_millis_ = ms;
    last_hi_ = static_cast<uint16_t>(rng_());
    last_lo_ = rng_();
  }
  return MessageId(last_millis_, last_hi_, last_lo_);
}

}  // namespace mx
