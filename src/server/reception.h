// server/reception.h — the one reception path (DESIGN.md "Seams: one envelope"): every way
// in — the SMTP driver today, HTTP ingest, WebSocket and Lambda next — hands a complete
// mx::Envelope and the body writer here. Reception gives the message its id and receive
// time and commits envelope and body to the spool lane of this event loop; the completion
// says durable (reply 250) or not (451). Nothing else in the server writes the spool.
//
// Threads: one Reception per event-loop thread (it owns that loop's id generator and uses
// its spool lane); not thread-safe. Commit completions run on the spool's sync thread:
// the caller hands off to its loop (asio::post) from there.
// Trust: envelope and body are client data, stored opaquely.
#pragma once

#include <functional>

#include "core/clock.h"
#include "core/envelope.h"
#include "core/message_id.h"
#include "core/result.h"
#include "spool/spool.h"

namespace mx::server {

class Reception {
 public:
  // `lane` and `clock` must outlive this object. `seed` makes ids of different threads
  // and processes differ within one millisecond.
  Reception(spool::Lane& lane, const Clock& clock, uint64_t seed) : lane_(lane), clock_(clock), ids_(seed) {}

  // A new, empty body writer (no I/O).
  spool::MessageWriterPtr begin() { return lane_.begin(); }

  // Called once: ok when the record is durable, or the error. Runs on the spool's sync
  // thread (or at once, on the calling thread, when the commit cannot even start).
  using Done = std::function<void(const MessageId& id, Status status)>;

  // Sets envelope.id and envelope.received_at and commits. A null `writer` (the body could
  // not be buffered: disk full while appending) completes at once with a transient error.
  // Returns the id given to the message.
  MessageId commit(spool::MessageWriterPtr writer, Envelope envelope, Done done);

 private:
  spool::Lane& lane_;
  const Clock& clock_;
  MessageIdGenerator ids_;
};

}  // namespace mx::server
