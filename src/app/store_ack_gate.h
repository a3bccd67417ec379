// app/store_ack_gate.h — StoreAckGate: the server's AckGate (server/ack_gate.h) over the
// configured BlobStore, for `store.s3.ack_after = "store"`: after the spool commit, the raw
// message is put at the very key the pipeline will use for it (pipeline::MessageKeys, so
// the pipeline's own put later is an idempotent re-put of the same bytes), and the 250
// waits for the store's acknowledgement. It lives in src/app because the server never uses
// the store or the pipeline (architecture: reception writes only the spool).
// Threads: confirm() from any thread; `done` runs on the store's thread (S3: an HTTP client
// thread). The store must outlive the gate and every upload it started.
// Trust: the envelope's tenant reaches the key only through store::KeyLayout's sanitising.
#pragma once

#include "server/ack_gate.h"
#include "store/blob_store.h"
#include "store/keys.h"

namespace mx::app {

class StoreAckGate final : public server::AckGate {
 public:
  StoreAckGate(store::BlobStore& store, std::string_view key_prefix, Millis timeout)
      : store_(store), layout_(key_prefix), timeout_(timeout) {}

  // server::AckGate
  void confirm(const Envelope& envelope, std::string raw, std::function<void(Status)> done) override;
  Millis timeout() const override { return timeout_; }

 private:
  store::BlobStore& store_;
  store::KeyLayout layout_;
  Millis timeout_;
};

}  // namespace mx::app
