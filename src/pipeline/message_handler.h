// pipeline/message_handler.h — MessageHandler: one message in (its raw bytes, exactly as
// received, and its mx::Envelope), its objects stored and its one event out:
//   1. the storage keys, computed once (message_keys.h);
//   2. the raw message at keys.raw (BlobStore::putUnsynced), and its SHA-256;
//   3. the optional MessageProcessor (MIME parse) → parsed JSON at keys.parsed, attachments
//      at their keys;
//   4. the CloudEvents "mxgate.message.received" event naming them (events/cloud_event.h).
// The objects become durable at syncObjects() (one BlobStore::sync() for any number of
// handled messages); the caller publishes the event only after that.
//
// It knows nothing of the spool: the SpoolConsumer feeds it spooled records and quarantine
// retries, and the later Lambda (S3/SQS event → "read raw message") and HTTP ingest entry
// points feed it the same way.
//
// Errors: handle() returns the first store failure with the store's class (kTransientBackend:
// may heal; kPermanentBackend: the store refuses this object) and the key in the message;
// objects put before it may exist (a retry overwrites them: same keys, same bytes). What a
// class means for the message is the caller's decision (pipeline/failure_policy.h). A
// processor failure is not a handle() failure: "parsing never aborts" (DESIGN.md), so the
// raw message is still stored and the event has summary null (counted in processor_errors).
// Re-entrancy: handling the same message again gives the same keys, objects and event id.
// Threads: one thread at a time (the processor is not required to be thread-safe).
// Trust: `raw` and the envelope are untrusted client bytes; they reach keys only through
// store::KeyLayout's sanitising, and the event through JsonWriter's escaping.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/envelope.h"
#include "core/result.h"
#include "events/cloud_event.h"
#include "events/event_sink.h"
#include "pipeline/message_keys.h"
#include "pipeline/metrics.h"
#include "pipeline/processor.h"
#include "store/blob_store.h"
#include "store/keys.h"

namespace mx::pipeline {

struct MessageHandlerOptions {
  std::string hostname;    // this node, for the event's source; empty: gethostname()
  std::string key_prefix;  // storage key prefix (store::KeyLayout)
  // One line per processor failure (no newline). Empty: stderr.
  std::function<void(std::string_view)> log;
};

// Per message: what the entry point knows beyond the envelope.
struct HandleOptions {
  // The raw message already is at its key in this store (the Lambda entry point reading a
  // raw object a node stored with parsing off): it is not put again (that would write the
  // object the S3 event came from, and fire the event again).
  bool raw_already_stored = false;
  // The trace the event joins (events::MessageReceived::traceparent); empty: the message's own.
  std::string traceparent;
  // The verdicts of the service that received the message first (an SES receipt rule), for
  // the event's data.receipt.
  events::ReceiptVerdicts receipt;
};

class MessageHandler {
 public:
  // `processor` may be null. The store, processor and metrics must outlive the handler.
  MessageHandler(store::BlobStore& store, MessageProcessor* processor, MessageHandlerOptions options,
                 PipelineMetrics& metrics);

  // Stores the message's objects (not yet durable: see syncObjects()) and returns its event.
  Result<events::Event> handle(std::string_view raw, const Envelope& envelope, const HandleOptions& options = {});

  // Makes every object stored by handle() since the last call durable (BlobStore::sync()).
  // On error none of them is guaranteed to exist: handle those messages again.
  Status syncObjects();

  const store::KeyLayout& layout() const { return layout_; }
  const std::string& hostname() const { return options_.hostname; }

 private:
  Status put(const std::string& key, std::string_view bytes, std::string_view what);

  store::BlobStore& store_;
  MessageProcessor* processor_;
  MessageHandlerOptions options_;
  PipelineMetrics& metrics_;
  store::KeyLayout layout_;
};

}  // namespace mx::pipeline
