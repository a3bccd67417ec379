// core/message_id.h — MessageId: the time-ordered identifier given to every accepted
// message (ULID layout: 48-bit Unix milliseconds + 80 random bits, 26 characters of
// Crockford base32). Ids sort by creation time as strings, so storage listings and event
// streams come out in arrival order. The generator is monotonic: within one millisecond
// it increments the random part, so ids from one generator are strictly increasing.
// Trust: parse() accepts untrusted text and rejects anything that is not 26 Crockford
// characters.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace mx {

class MessageId {
 public:
  static constexpr size_t kTextLength = 26;

  MessageId() = default;
  MessageId(uint64_t millis, uint16_t rand_hi, uint64_t rand_lo)
      : millis_(millis & 0xFFFFFFFFFFFFull), rand_hi_(rand_hi), rand_lo_(rand_lo) {}

  static std::optional<MessageId> parse(std::string_view text);

  std::string toString() const;
  uint64_t millis() const { return millis_; }
  uint16_t randomHigh() const { return rand_hi_; }
  uint64_t randomLow() const { return rand_lo_; }
  bool operator==(const MessageId&) const = default;
  auto operator<=>(const MessageId&) const = default;

 private:
  uint64_t millis_ = 0;
  uint16_t rand_hi_ = 0;   // top 16 of the 80 random bits
  uint64_t rand_lo_ = 0;   // low 64 of the 80 random bits
};

// Not thread-safe: give each thread its own generator.
class MessageIdGenerator {
 public:
  explicit MessageIdGenerator(uint64_t seed);
  MessageId next(WallTime now);

 private:
  std::mt19937_64 rng_;
  uint64_t last_millis_ = 0;
  uint16_t last_hi_ = 0;
  uint64_t last_lo_ = 0;
};

}  // namespace mx
