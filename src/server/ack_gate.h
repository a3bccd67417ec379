// server/ack_gate.h — AckGate: an optional second step that the 250 to end of data waits for
// after the spool commit (DESIGN.md "Contracts: durability", `store.s3.ack_after = "store"`:
// the object store has the raw message). The server knows only this interface: src/app
// implements it over the configured BlobStore (app/store_ack_gate.h), so reception still
// writes only the spool (architecture: server never uses store or pipeline).
//
// Order and outcomes, as the SMTP client and the store see them:
//   1. the spool commit (fdatasync) — if it fails: 451 4.3.0, nothing else happens;
//   2. confirm() — ok within timeout(): 250; an error, or no answer within timeout(): 451
//      4.3.0 (StoreAckTempFail). In that case the record is already durable in the spool,
//      so the pipeline still stores and announces it under the same id; the client, having
//      seen 451, sends the message again and it is stored a second time under a new id
//      (at-least-once, as with any SMTP 4xx after the data was received).
// Threads: confirm() is called on the spool's sync thread; `done` may run on any thread,
// at most once; the caller hands the result to its own loop and drops it when late.
// Trust: envelope and bytes are client data; the implementation stores them opaquely.
#pragma once

#include <functional>
#include <string>

#include "core/clock.h"
#include "core/envelope.h"
#include "core/result.h"

namespace mx::server {

class AckGate {
 public:
  virtual ~AckGate() = default;

  // Makes `raw` (the message exactly as spooled) durable in the second place; `done` gets
  // ok only once it is. The envelope has its id and received_at set.
  virtual void confirm(const Envelope& envelope, std::string raw, std::function<void(Status)> done) = 0;

  // How long the client waits for confirm() before it gets 451 (timeouts.store_ack).
  virtual Millis timeout() const = 0;
};

}  // namespace mx::server
