// fuzz/events/outbox_record_fuzz.cc — libFuzzer target for the outbox record codec
// (events/outbox/outbox_record.h): any bytes are either refused with kProtocol or decoded,
// and what decodes encodes back to the same body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "events/outbox/outbox_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  mx::events::OutboxEntry e;
  mx::Status s = mx::events::decodeOutboxBody(body, &e);
  if (!s.ok()) {
    if (s.error().errorClass() != mx::ErrorClass::kProtocol) std::abort();
    return 0;
  }
  mx::events::OutboxEntry again;
  if (!mx::events::decodeOutboxBody(mx::events::encodeOutboxBody(e), &again).ok()) std::abort();
  if (again.event.json != e.event.json || again.event.type != e.event.type || again.attempts != e.attempts ||
      again.not_before_ms != e.not_before_ms || again.first_failure_ms != e.first_failure_ms ||
      again.dead_lettered_ms != e.dead_lettered_ms)
    std::abort();
  return 0;
}
