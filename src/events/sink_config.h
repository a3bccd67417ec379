// events/sink_config.h — [[sink]]: the event sinks, one entry each, addressed by `name`
// (docs/events.md, docs/config.md), owned by the events module (config_table.h). Every
// sink has the delivery keys (retries, max_age, the outbox's size bound, a dead-letter
// sink); the other keys belong to one kind each and are refused on another kind
// (checkSinkSettings). Which kinds exist depends on the build (src/app's registry).
//
// With no [[sink]] in the file, one sink named after events.sink (kind events.sink,
// path events.file) is used: the embedded default and earlier files keep working.
// Trust: operator input; every value is checked (type, range, choices, cross-key rules).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config_table.h"

namespace mx::events {

struct SinkSettings {
  std::string name;
  std::string kind = "file";  // file | webhook | kafka | sqs
  int line = 0;               // where it was defined (0: defaults or environment)

  // Delivery, every kind (events/outbox/dispatcher.h).
  Millis retry_initial{1'000};
  Millis retry_max{3'600'000};
  Millis max_age{24ll * 3'600'000};
  uint32_t max_attempts = 0;
  uint64_t outbox_max_bytes = 1ull << 30;
  std::string dead_letter_sink;
  uint32_t concurrency = 8;  // webhook: requests at once; sqs: batches at once
  Millis timeout{10'000};    // webhook, sqs: per request; kafka: delivery timeout

  std::string path;  // file: the JSON-lines file

  std::string url;                // webhook
  std::string secret;             // webhook: Standard Webhooks key ("whsec_<base64>" or raw)
  std::string ca_file;            // webhook, kafka: PEM CA bundle (empty: the system's)
  bool allow_plain_http = false;  // webhook: accept an http:// URL (loopback, a trusted network)

  std::string brokers;  // kafka: "host:port,host:port"
  std::string topic = "mail.{tenant}.received";
  std::string key = "id";       // kafka message key: id | tenant
  std::string mode = "binary";  // CloudEvents Kafka binding: binary | structured
  std::string auth = "none";    // none | sasl_scram | msk_iam | mtls
  std::string sasl_mechanism = "SCRAM-SHA-512";
  std::string username;
  std::string password;
  std::string cert_file;  // kafka mtls
  std::string key_file;
  std::map<std::string, std::string> properties;  // kafka: librdkafka properties, as they are

  std::string queue_url;  // sqs
  std::string region;     // sqs, kafka msk_iam: empty = from the URL / AWS_REGION
};

const config::Table<SinkSettings>& sinkTable();

// Cross-key rules of one sink: the kind's required keys, no key of another kind. Each
// problem as (key, message).
struct SinkSettingsError {
  std::string key, message;
};
std::vector<SinkSettingsError> checkSinkSettings(const SinkSettings& s);

}  // namespace mx::events
