// spool/envelope_codec.h — the binary serialization of spool::Envelope stored in every
// spool record (docs/spool.md "Envelope encoding"). Little-endian, length-prefixed, so
// every string field round-trips exactly, whatever bytes it holds (NUL, CR/LF, invalid
// UTF-8). Versioned by a leading byte so later fields can be appended.
// Trust: decodeEnvelope() takes untrusted bytes (a record that passed its CRC may still
// have been written by a buggy or older build); it bounds-checks everything and never
// allocates more than a small multiple of the input size. Fuzzed (fuzz/spool).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "spool/spool.h"

namespace mx::spool {

inline constexpr uint8_t kEnvelopeVersion = 1;

// Appends the encoding of `e` to `out`. Never fails.
void encodeEnvelope(const Envelope& e, std::string& out);

// Decodes exactly `in` (trailing bytes are an error). Errors are kPermanentBackend:
// the stored bytes are not a valid envelope and never will be.
Result<Envelope> decodeEnvelope(std::string_view in);

}  // namespace mx::spool
