// app/store_ack_gate.cc — see store_ack_gate.h.
#include "app/store_ack_gate.h"

#include "pipeline/message_keys.h"

namespace mx::app {

void StoreAckGate::confirm(const Envelope& envelope, std::string raw, std::function<void(Status)> done) {
  const pipeline::MessageKeys keys = pipeline::MessageKeys::of(layout_, envelope);
  store_.putAsync(keys.raw, std::move(raw), std::move(done));
}

}  // namespace mx::app
