// spool/crc32c.cc — see crc32c.h. Slicing-by-8 after Intel's "A Systematic Approach to
// Building High Performance Software-based CRC Generators" (Kounavis, Berry, 2005); the
// hardware path uses the SSE4.2 CRC32 instruction, whose polynomial is CRC-32C.
#include "spool/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define MX_CRC32C_X86 1
#endif

namespace mx::spool {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected 0x1EDC6F41

struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  constexpr Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? kPoly : 0u);
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
  }
};
constexpr Tables kTables;

#ifdef MX_CRC32C_X86
__attribute__((target("sse4.2"))) uint32_t hardware(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = ~crc;
  // Align to 8 bytes so the 64-bit loads are aligned (faster on older cores).
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  return ~static_cast<uint32_t>(c);
}

bool detectHardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#endif

const bool kHaveHardware =
#ifdef MX_CRC32C_X86
    detectHardware();
#else
    false;
#endif

}  // namespace

uint32_t crc32cSoftware(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  const auto& t = kTables.t;
  uint32_t c = ~crc;
  while (n >= 8) {
    // Little-endian load of 8 bytes; the first four fold into the running CRC.
    uint32_t lo = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                  static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
    lo ^= c;
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
        t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return ~c;
}

uint32_t crc32cHardware(uint32_t crc, const void* data, size_t n) {
#ifdef MX_CRC32C_X86
  return hardware(crc, static_cast<const uint8_t*>(data), n);
#else
  return crc32cSoftware(crc, data, n);
#endif
}

bool crc32cHardwareAvailable() { return kHaveHardware; }

uint32_t crc32c(uint32_t crc, const void* data, size_t n) {
  return kHaveHardware ? crc32cHardware(crc, data, n) : crc32cSoftware(crc, data, n);
}

}  // namespace mx::spool
