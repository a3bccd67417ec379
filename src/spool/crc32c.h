// spool/crc32c.h — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// every spool record and checkpoint (RFC 3720 section 12.1 and appendix B.4, the iSCSI
// digest). Uses the SSE4.2 CRC32 instruction when the CPU has it, else slicing-by-8 tables.
// Trust: any bytes, any length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mx::spool {

// Extends `crc` (the value returned for the bytes so far; 0 for none) over `data`.
// crc32c(crc32c(0, a), b) == crc32c(0, a + b). Thread-safe, no allocation.
uint32_t crc32c(uint32_t crc, const void* data, size_t n);
inline uint32_t crc32c(uint32_t crc, std::string_view s) { return crc32c(crc, s.data(), s.size()); }
inline uint32_t crc32c(std::string_view s) { return crc32c(0, s.data(), s.size()); }

// The two implementations, exposed so tests can check both against the vectors.
uint32_t crc32cSoftware(uint32_t crc, const void* data, size_t n);
// Only valid when crc32cHardwareAvailable() is true.
uint32_t crc32cHardware(uint32_t crc, const void* data, size_t n);
bool crc32cHardwareAvailable();

}  // namespace mx::spool
