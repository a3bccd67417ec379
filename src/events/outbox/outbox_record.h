// events/outbox/outbox_record.h — what one outbox record holds, and its byte form.
//
// The outbox reuses the spool's segment log (src/spool: group commit, CRC per record,
// recovery, checkpoints); a record there is an Envelope plus a body. For the outbox, the
// envelope carries the event's identity (id, tenant) and the body is this codec's text:
//
//   "mxo1 <attempts> <first_failure_ms> <not_before_ms> <dead_lettered_ms> <type>\n<event json>"
//
// attempts          delivery attempts that failed so far (a rotated or dead-lettered record
//                   keeps its count)
// first_failure_ms  Unix ms of the first failed attempt; 0: never failed
// not_before_ms     Unix ms before which no attempt is made (backoff, Retry-After); 0: now
// dead_lettered_ms  Unix ms it was dead-lettered (records of the dead-letter log); else 0
// type              the CloudEvents type (no spaces)
//
// Trust: records come back from disk after the spool's CRC check, so corruption is caught
// before this; still, decodeOutboxBody() takes the body as untrusted text (fuzzed:
// fuzz/events/outbox_record_fuzz.cc) and answers kProtocol for anything malformed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "events/event_sink.h"

namespace mx::events {

struct OutboxEntry {
  Event event;
  uint32_t attempts = 0;
  int64_t first_failure_ms = 0;
  int64_t not_before_ms = 0;
  int64_t dead_lettered_ms = 0;
  std::string last_error;  // in memory only (not encoded): the last attempt's error, for dead letters
};

std::string encodeOutboxBody(const OutboxEntry& e);
// Fills every encoded field of *out except event.id and event.tenant (the envelope's).
Status decodeOutboxBody(std::string_view body, OutboxEntry* out);

}  // namespace mx::events
