// server/reception.cc — see reception.h.
#include "server/reception.h"

namespace mx::server {

MessageId Reception::commit(spool::MessageWriterPtr writer, Envelope envelope, Done done, std::string body) {
  const WallTime now = clock_.wall();
  const MessageId id = ids_.next(now);
  if (!writer) {
    done(id, Error(ErrorClass::kTransientBackend, "spool write failed"), false);
    return id;
  }
  envelope.id = id;
  envelope.received_at = now;
  if (!gate_) {
    lane_.commit(std::move(writer), std::move(envelope),
                 [id, done = std::move(done)](Status st) { done(id, std::move(st), false); });
    return id;
  }
  // The gate needs the envelope after the spool has taken its own copy.
  Envelope for_gate = envelope;
  lane_.commit(
      std::move(writer), std::move(envelope),
      [id, gate = gate_, env = std::move(for_gate), body = std::move(body), done = std::move(done)](Status st) mutable {
        if (!st.ok()) return done(id, std::move(st), false);
        gate->confirm(env, std::move(body), [id, done = std::move(done)](Status g) { done(id, std::move(g), true); });
      });
  return id;
}

}  // namespace mx::server
