// mime/digest.h — the hashing the parser needs (SHA-256 of attachments and of the raw
// message, FIPS 180-4) behind an interface, so that the application can supply OpenSSL's
// (src/mime links no crypto library) while tests, fuzzers and the CLI use the built-in one.
//
// The built-in Sha256Digester uses the x86 SHA extensions when the CPU has them (chosen at
// run time) and portable C++ otherwise.
// Trust: input is arbitrary bytes; implementations must accept any length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mx::mime {

class Digester {
 public:
  virtual ~Digester() = default;
  // Writes the SHA-256 of `data` (32 bytes) to `out`. Implementations must be safe to call
  // from several threads at once: one Digester is shared by all parse calls of a process.
  virtual void sha256(std::string_view data, uint8_t out[32]) const = 0;
};

// The built-in implementation.
class Sha256Digester final : public Digester {
 public:
  // Digester
  void sha256(std::string_view data, uint8_t out[32]) const override;
};

// A process-wide Sha256Digester.
const Digester& builtinDigester();

// Lower-case hex of `n` bytes.
std::string toHex(const uint8_t* bytes, size_t n);

// SHA-256 of `data` as 64 lower-case hex digits.
std::string sha256Hex(const Digester& digester, std::string_view data);

// Incremental SHA-256 over the portable code (used where data arrives in pieces).
class Sha256Stream {
 public:
  Sha256Stream();
  void update(std::string_view data);
  void finish(uint8_t out[32]);

 private:
  uint32_t state_[8];
  uint64_t length_ = 0;
  uint8_t buffer_[64];
  size_t buffered_ = 0;
};

}  // namespace mx::mime
