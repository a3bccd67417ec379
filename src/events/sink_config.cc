// events/sink_config.cc — see sink_config.h.
#include "events/sink_config.h"

#include <functional>

namespace mx::events {
namespace {

// Which kinds a kind-specific key belongs to, and whether it still holds its default.
struct KindKey {
  const char* key;
  std::vector<std::string> kinds;
  std::function<bool(const SinkSettings&, const SinkSettings&)> is_default;
};

template <typename M>
std::function<bool(const SinkSettings&, const SinkSettings&)> same(M SinkSettings::*m) {
  return [m](const SinkSettings& a, const SinkSettings& b) { return a.*m == b.*m; };
}

const std::vector<KindKey>& kindKeys() {
  static const std::vector<KindKey> k = {
      {"path", {"file"}, same(&SinkSettings::path)},
      {"url", {"webhook"}, same(&SinkSettings::url)},
      {"secret", {"webhook"}, same(&SinkSettings::secret)},
      {"ca_file", {"webhook", "kafka"}, same(&SinkSettings::ca_file)},
      {"allow_plain_http", {"webhook"}, same(&SinkSettings::allow_plain_http)},
      {"concurrency", {"webhook", "sqs"}, same(&SinkSettings::concurrency)},
      {"brokers", {"kafka"}, same(&SinkSettings::brokers)},
      {"topic", {"kafka"}, same(&SinkSettings::topic)},
      {"key", {"kafka"}, same(&SinkSettings::key)},
      {"mode", {"kafka"}, same(&SinkSettings::mode)},
      {"auth", {"kafka"}, same(&SinkSettings::auth)},
      {"sasl_mechanism", {"kafka"}, same(&SinkSettings::sasl_mechanism)},
      {"username", {"kafka"}, same(&SinkSettings::username)},
      {"password", {"kafka"}, same(&SinkSettings::password)},
      {"cert_file", {"kafka"}, same(&SinkSettings::cert_file)},
      {"key_file", {"kafka"}, same(&SinkSettings::key_file)},
      {"properties", {"kafka"}, same(&SinkSettings::properties)},
      {"queue_url", {"sqs"}, same(&SinkSettings::queue_url)},
      {"region", {"sqs", "kafka"}, same(&SinkSettings::region)},
  };
  return k;
}

}  // namespace

const config::Table<SinkSettings>& sinkTable() {
  static const config::Table<SinkSettings> t = [] {
    config::Table<SinkSettings> t("sink",
                                  "where events go, one entry per sink, addressed by `name`; each has its own "
                                  "durable outbox under events.outbox_dir (docs/events.md)",
                                  /*array=*/true);
    t.add("kind", &SinkSettings::kind, "file | webhook | kafka | sqs (`mxgate check-config` lists this build's)",
          config::Check::oneOf({"file", "webhook", "kafka", "sqs"}));
    t.add("retry_initial", &SinkSettings::retry_initial,
          "the first retry's delay bound; each retry doubles it (full jitter: a random delay up to the bound)",
          config::Check::atLeast(1));
    t.add("retry_max", &SinkSettings::retry_max, "the largest retry delay bound", config::Check::atLeast(1));
    t.add("max_age", &SinkSettings::max_age,
          "an event failing for this long (from its first failure) goes to the dead letters",
          config::Check::atLeast(1));
    t.add("max_attempts", &SinkSettings::max_attempts,
          "failed attempts before the dead letters; 0: no bound (max_age decides)");
    t.add("outbox_max_bytes", &SinkSettings::outbox_max_bytes,
          "the outbox's size on disk at which the pipeline pauses (the spool absorbs the backlog)",
          config::Check::atLeast(64ull << 20));
    t.add("dead_letter_sink", &SinkSettings::dead_letter_sink,
          "another sink's name: dead letters are also published there (they are always kept in the dead-letter "
          "log)");
    t.add("concurrency", &SinkSettings::concurrency, "webhook: requests at once; sqs: SendMessageBatch calls at once",
          config::Check::between(1, 1024));
    t.add("timeout", &SinkSettings::timeout, "webhook, sqs: per request; kafka: how long a delivery report may take",
          config::Check::atLeast(1));
    t.add("path", &SinkSettings::path, "file: the JSON-lines file (one CloudEvents event per line)");
    t.add("url", &SinkSettings::url, "webhook: the https (or http) URL events are POSTed to");
    t.secret(
        "secret", [](SinkSettings& s) -> std::string& { return s.secret; },
        "webhook: the signing key, `whsec_<base64>` (Standard Webhooks) or raw bytes");
    t.add("ca_file", &SinkSettings::ca_file, "webhook, kafka: a PEM CA bundle instead of the system's");
    t.add("allow_plain_http", &SinkSettings::allow_plain_http,
          "webhook: accept an http:// URL (a receiver on loopback or a trusted network); events are signed either way");
    t.add("brokers", &SinkSettings::brokers, "kafka: bootstrap brokers, \"host:port,host:port\"");
    t.add("topic", &SinkSettings::topic, "kafka: the topic; {tenant} is replaced by the event's tenant");
    t.add("key", &SinkSettings::key, "kafka: the message key, the message id or the tenant",
          config::Check::oneOf({"id", "tenant"}));
    t.add("mode", &SinkSettings::mode,
          "kafka: CloudEvents binding, binary (ce_ headers, data as value) or structured (the whole event)",
          config::Check::oneOf({"binary", "structured"}));
    t.add("auth", &SinkSettings::auth, "kafka: none | sasl_scram | msk_iam | mtls",
          config::Check::oneOf({"none", "sasl_scram", "msk_iam", "mtls"}));
    t.add("sasl_mechanism", &SinkSettings::sasl_mechanism, "kafka sasl_scram: SCRAM-SHA-512 or SCRAM-SHA-256",
          config::Check::oneOf({"SCRAM-SHA-512", "SCRAM-SHA-256"}));
    t.add("username", &SinkSettings::username, "kafka sasl_scram: the user");
    t.secret(
        "password", [](SinkSettings& s) -> std::string& { return s.password; }, "kafka sasl_scram: the password");
    t.add("cert_file", &SinkSettings::cert_file, "kafka mtls: the client certificate (PEM)");
    t.add("key_file", &SinkSettings::key_file, "kafka mtls: the client key (PEM)");
    t.add("properties", &SinkSettings::properties,
          "kafka: librdkafka properties passed as they are, applied last ([sink.properties])");
    t.add("queue_url", &SinkSettings::queue_url, "sqs: the queue URL (a .fifo queue gets group and dedup ids)");
    t.add("region", &SinkSettings::region,
          "sqs, kafka msk_iam: the AWS region (empty: from the queue URL, else AWS_REGION)");
    return t;
  }();
  return t;
}

std::vector<SinkSettingsError> checkSinkSettings(const SinkSettings& s) {
  std::vector<SinkSettingsError> out;
  const SinkSettings defaults;
  for (const auto& k : kindKeys()) {
    bool mine = false;
    for (const auto& kind : k.kinds) mine = mine || kind == s.kind;
    if (!mine && !k.is_default(s, defaults)) {
      out.push_back({k.key, "is not a key of a " + s.kind + " sink"});
    }
  }
  auto need = [&](const char* key, const std::string& v) {
    if (v.empty()) out.push_back({key, "is required for a " + s.kind + " sink"});
  };
  if (s.kind == "file") need("path", s.path);
  if (s.kind == "webhook") need("url", s.url);
  if (s.kind == "kafka") {
    need("brokers", s.brokers);
    need("topic", s.topic);
    if (s.auth == "sasl_scram") {
      need("username", s.username);
      need("password", s.password);
    }
    if (s.auth == "mtls") {
      need("cert_file", s.cert_file);
      need("key_file", s.key_file);
    }
  }
  if (s.kind == "sqs") need("queue_url", s.queue_url);
  if (s.retry_max < s.retry_initial) out.push_back({"retry_max", "must not be below retry_initial"});
  if (s.dead_letter_sink == s.name && !s.name.empty()) {
    out.push_back({"dead_letter_sink", "cannot be the sink itself"});
  }
  return out;
}

}  // namespace mx::events
