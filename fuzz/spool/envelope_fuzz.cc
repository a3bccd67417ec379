// fuzz/spool/envelope_fuzz.cc — decodeEnvelope() on arbitrary bytes must never crash,
// hang or over-allocate; whatever it accepts must survive encode → decode unchanged.
// Trust: the input is hostile.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spool/envelope_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto e = mx::spool::decodeEnvelope(in);
  if (!e.ok()) return 0;
  std::string again;
  mx::spool::encodeEnvelope(*e, again);
  auto d = mx::spool::decodeEnvelope(again);
  if (!d.ok() || !(*d == *e)) std::abort();
  return 0;
}
