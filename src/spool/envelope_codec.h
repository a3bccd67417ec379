// spool/envelope_codec.h — the binary serialization of mx::Envelope (core/envelope.h)
// stored in every spool record (docs/spool.md "Envelope encoding"). Little-endian,
// length-prefixed, so every string field round-trips exactly, whatever bytes it holds
// (NUL, CR/LF, invalid UTF-8). Versioned by a leading byte: encodeEnvelope() writes the
// current version; decodeEnvelope() reads it and every older one, so a spool written by an
// older build is drained by a newer one after an upgrade.
// Trust: decodeEnvelope() takes untrusted bytes (a record that passed its CRC may still
// have been written by a buggy or older build); it bounds-checks everything and never
// allocates more than a small multiple of the input size. Fuzzed (fuzz/spool).
#pragma once

#include <string>
#include <string_view>

#include "core/envelope.h"
#include "core/result.h"

namespace mx::spool {

// Version 1: the first release (no reception, esmtp, declared size, body type or chunked).
// Version 2: the one core::Envelope, every field.
inline constexpr uint8_t kEnvelopeVersion = 2;

// Appends the encoding of `e` to `out`. Never fails.
void encodeEnvelope(const Envelope& e, std::string& out);

// Decodes exactly `in` (trailing bytes are an error), any known version. Fields a
// version did not record take their defaults (v1: reception smtp, esmtp false, declared
// size 0, body 8bitmime when its 8-bit flag was set, else 7bit; chunked false). Errors
// are kPermanentBackend: the stored bytes are not a valid envelope and never will be.
Result<Envelope> decodeEnvelope(std::string_view in);

// Version 1's encoder, kept only so tests can check that old records stay readable.
void encodeEnvelopeV1ForTest(const Envelope& e, std::string& out);

}  // namespace mx::spool
