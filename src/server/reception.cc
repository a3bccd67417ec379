// server/reception.cc — see reception.h.
#include "server/reception.h"

namespace mx::server {

MessageId Reception::commit(spool::MessageWriterPtr writer, Envelope envelope, Done done) {
  const WallTime now = clock_.wall();
  const MessageId id = ids_.next(now);
  if (!writer) {
    done(id, Error(ErrorClass::kTransientBackend, "spool write failed"));
    return id;
  }
  envelope.id = id;
  envelope.received_at = now;
  lane_.commit(std::move(writer), std::move(envelope),
               [id, done = std::move(done)](Status st) { done(id, std::move(st)); });
  return id;
}

}  // namespace mx::server
