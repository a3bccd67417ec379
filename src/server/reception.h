// server/reception.h — the one reception path (DESIGN.md "Seams: one envelope"): every way
// in — the SMTP driver today, HTTP ingest, WebSocket and Lambda next — hands a complete
// mx::Envelope and the body writer here. Reception gives the message its id and receive
// time and commits envelope and body to the spool lane of this event loop; the completion
// says durable (reply 250) or not (451). Nothing else in the server writes the spool.
//
// Threads: one Reception per event-loop thread (it owns that loop's id generator and uses
// its spool lane); not thread-safe. Commit completions run on the spool's sync thread:
// the caller hands off to its loop (asio::post) from there.
// With an AckGate (ack_gate.h, ack_after = "store") the completion waits for it too, after
// the spool commit; the driver then keeps a copy of the body for it (keepsBody()).
// Trust: envelope and body are client data, stored opaquely.
#pragma once

#include <functional>
#include <vector>

#include "core/clock.h"
#include "core/envelope.h"
#include "core/message_id.h"
#include "core/result.h"
#include "server/ack_gate.h"
#include "spool/spool.h"

namespace mx::server {

class Reception {
 public:
  // `lane` and `clock` must outlive this object. `seed` makes ids of different threads
  // and processes differ within one millisecond.
  // `gate` may be null (250 after the spool commit alone); it must outlive this object.
  Reception(spool::Lane& lane, const Clock& clock, uint64_t seed, AckGate* gate = nullptr)
      : lane_(lane), clock_(clock), ids_(seed), gate_(gate) {}

  // Whether commit() needs the body's bytes beside the writer (an AckGate is set).
  bool keepsBody() const { return gate_ != nullptr; }
  // The AckGate's timeout; 0 without one.
  Millis ackTimeout() const { return gate_ ? gate_->timeout() : Millis(0); }

  // A new, empty body writer (no I/O).
  spool::MessageWriterPtr begin() { return lane_.begin(); }

  // Called once: ok when the record is durable (and confirmed by the AckGate, if any), or
  // the error; `spooled` says whether the spool commit itself succeeded (a failure with
  // spooled = true is the gate's). Runs on the spool's sync thread or the gate's (or at once,
  // on the calling thread, when the commit cannot even start).
  using Done = std::function<void(const MessageId& id, Status status, bool spooled)>;

  // Sets envelope.id and envelope.received_at and commits. A null `writer` (the body could
  // not be buffered: disk full while appending) completes at once with a transient error.
  // `body` is the message as spooled when keepsBody(), else ignored: after the spool commit
  // the AckGate gets it, and `done` reports the gate's answer. Returns the message's id.
  MessageId commit(spool::MessageWriterPtr writer, Envelope envelope, Done done, std::string body = {});

  // As commit(), for one message addressed to several tenants: `copies` holds one envelope
  // per tenant (core/envelope.h splitByTenant()), each given its own id and the same
  // received_at, committed together by Lane::commitCopies (one group commit: all durable,
  // or an error for all). With an AckGate each copy is confirmed, and `done` waits for all
  // (the first failure is reported). `done` gets the first copy's id; the ids are returned
  // in the order of `copies`. `copies` must not be empty.
  std::vector<MessageId> commitCopies(spool::MessageWriterPtr writer, std::vector<Envelope> copies, Done done,
                                      std::string body = {});

 private:
  spool::Lane& lane_;
  const Clock& clock_;
  MessageIdGenerator ids_;
  AckGate* gate_;
};

}  // namespace mx::server
