// app/backends.cc — see backends.h. The rows are compiled in by the MXGATE_WITH_<BACKEND>
// definitions that src/app/CMakeLists.txt sets for each backend library this build has.
#include "app/backends.h"

#include <cstdio>
#include <cstdlib>

#ifdef MXGATE_WITH_STORE_LOCAL
#include "store/local/local_blob_store.h"
#endif
#ifdef MXGATE_WITH_STORE_S3
#include "core/prometheus.h"
#include "store/s3/s3_blob_store.h"
#endif
#ifdef MXGATE_WITH_EVENTS_FILE
#include "events/file/file_event_sink.h"
#endif
#ifdef MXGATE_WITH_EVENTS_WEBHOOK
#include "events/webhook/webhook_sink.h"
#endif
#ifdef MXGATE_WITH_EVENTS_SQS
#include "events/sqs/sqs_sink.h"
#endif
#ifdef MXGATE_WITH_EVENTS_KAFKA
#include "events/kafka/kafka_sink.h"
#endif

#include "policy/rate_limits/local/local_rate_limiter.h"
#ifdef MXGATE_WITH_POLICY_RATELIMIT_REDIS
#include "policy/rate_limits/redis/redis_rate_limiter.h"
#endif

namespace mx::app {
namespace {

Result<policy::RateLimiterPtr> makeLocalRateLimiter(const Config& c, const LogLineFn& /*log*/) {
  return policy::RateLimiterPtr(std::make_shared<policy::LocalRateLimiter>(c.rate_limits.local_max_keys));
}

#ifdef MXGATE_WITH_POLICY_RATELIMIT_REDIS
Result<policy::RateLimiterPtr> makeRedisRateLimiter(const Config& c, const LogLineFn& log) {
  policy::RedisRateLimiterOptions o;
  if (std::string e = policy::parseRedisUrl(c.rate_limits.redis_url, &o.endpoint); !e.empty())
    return Error(ErrorClass::kConfig, "rate_limits.redis_url: " + e);
  o.password = c.rate_limits.redis_password;
  o.prefix = c.rate_limits.redis_prefix;
  o.timeout = c.rate_limits.redis_timeout;
  o.log = log;
  // fail_open: this node's own counters decide while Redis cannot.
  policy::RateLimiterPtr fallback;
  if (c.rate_limits.on_backend_error == "fail_open")
    fallback = std::make_shared<policy::LocalRateLimiter>(c.rate_limits.local_max_keys);
  return policy::RateLimiterPtr(std::make_shared<policy::RedisRateLimiter>(std::move(o), std::move(fallback)));
}
#endif

constexpr RateLimiterBackend kRateLimiterBackends[] = {
    {"local", "in-process sliding-window counters (each node counts alone)", makeLocalRateLimiter},
#ifdef MXGATE_WITH_POLICY_RATELIMIT_REDIS
    {"redis", "counters shared by every node through Redis (one EVALSHA per decision)", makeRedisRateLimiter},
#endif
    {{}, {}, nullptr},
};

#ifdef MXGATE_WITH_STORE_LOCAL
Result<store::BlobStorePtr> makeLocalStore(const Config& c) {
  store::LocalBlobStoreOptions o;
  o.root = c.store.dir;
  o.sync_method = c.store.sync == "file" ? store::SyncMethod::kPerFile : store::SyncMethod::kFilesystem;
  auto s = store::LocalBlobStore::open(o);
  if (!s.ok()) return Error(s.error().errorClass(), "store.dir " + c.store.dir + ": " + s.error().message());
  return store::BlobStorePtr(std::move(*s));
}
#endif

#ifdef MXGATE_WITH_STORE_S3
Result<store::BlobStorePtr> makeS3Store(const Config& c) {
  auto s = store::makeS3BlobStore(c.store.s3, [](std::string_view line) {
    std::fprintf(stderr, "mxgate: store.s3: %.*s\n", static_cast<int>(line.size()), line.data());
  });
  if (!s.ok()) return Error(s.error().errorClass(), "store.s3: " + s.error().message());
  return store::BlobStorePtr(std::move(*s));
}

std::string renderS3Metrics(const store::BlobStore& b) {
  const auto* s3 = dynamic_cast<const store::S3BlobStore*>(&b);
  if (s3 == nullptr) return {};
  const store::S3StoreMetrics& m = s3->metrics();
  std::string out;
#define MX_RENDER_COUNTER(member, name, help) prometheus::counter(out, name, help, m.member.load());
#define MX_RENDER_GAUGE(member, name, help) prometheus::gauge(out, name, help, m.member.load());
#define MX_RENDER_HISTOGRAM(member, name, help) prometheus::histogram(out, name, help, m.member);
  MX_S3_STORE_METRICS(MX_RENDER_COUNTER, MX_RENDER_GAUGE, MX_RENDER_HISTOGRAM)
#undef MX_RENDER_COUNTER
#undef MX_RENDER_GAUGE
#undef MX_RENDER_HISTOGRAM
  return out;
}

std::string s3KeyPrefix(const Config& c) { return c.store.s3.prefix; }
#endif

#ifdef MXGATE_WITH_EVENTS_FILE
Result<events::EventSinkPtr> makeFileSink(const Config&, const events::SinkSettings& sink, SinkContext&) {
  auto s = events::FileEventSink::open({sink.path, true});
  if (!s.ok())
    return Error(s.error().errorClass(), "sink " + sink.name + " path " + sink.path + ": " + s.error().message());
  return events::EventSinkPtr(std::move(*s));
}
#endif

#ifdef MXGATE_WITH_EVENTS_WEBHOOK
Result<events::EventSinkPtr> makeWebhookSink(const Config&, const events::SinkSettings& sink, SinkContext& ctx) {
  auto http = ctx.http(sink.ca_file);
  if (!http.ok()) return Error(http.error().errorClass(), "sink " + sink.name + " " + http.error().message());
  events::WebhookSinkOptions o;
  o.url = sink.url;
  o.secret = sink.secret;
  o.concurrency = sink.concurrency;
  o.timeout = sink.timeout;
  o.allow_plain_http = sink.allow_plain_http;
  auto s = events::WebhookSink::open(**http, std::move(o));
  if (!s.ok()) return Error(s.error().errorClass(), "sink " + sink.name + ": " + s.error().message());
  return events::EventSinkPtr(std::move(*s));
}
#endif

#ifdef MXGATE_WITH_EVENTS_SQS
Result<events::EventSinkPtr> makeSqsSink(const Config&, const events::SinkSettings& sink, SinkContext& ctx) {
  auto http = ctx.http("");
  if (!http.ok()) return Error(http.error().errorClass(), "sink " + sink.name + " " + http.error().message());
  auto creds = ctx.credentials(sink.region);
  if (!creds.ok()) return Error(creds.error().errorClass(), "sink " + sink.name + ": " + creds.error().message());
  events::SqsSinkOptions o;
  o.queue_url = sink.queue_url;
  o.region = sink.region;
  o.concurrency = sink.concurrency;
  o.timeout = sink.timeout;
  auto s = events::SqsSink::open(**http, **creds, std::move(o));
  if (!s.ok()) return Error(s.error().errorClass(), "sink " + sink.name + ": " + s.error().message());
  return events::EventSinkPtr(std::move(*s));
}
#endif

#ifdef MXGATE_WITH_EVENTS_KAFKA
Result<events::EventSinkPtr> makeKafkaSink(const Config&, const events::SinkSettings& sink, SinkContext& ctx) {
  events::KafkaSinkOptions o;
  o.brokers = sink.brokers;
  o.topic = sink.topic;
  o.key = sink.key;
  o.mode = sink.mode;
  o.auth = sink.auth;
  o.sasl_mechanism = sink.sasl_mechanism;
  o.username = sink.username;
  o.password = sink.password;
  o.ca_file = sink.ca_file;
  o.cert_file = sink.cert_file;
  o.key_file = sink.key_file;
  o.region = sink.region;
  o.properties = sink.properties;
  o.delivery_timeout = sink.timeout;
  if (sink.auth == "msk_iam") {
    if (o.region.empty()) {
      if (const char* r = std::getenv("AWS_REGION")) o.region = r;
    }
    if (o.region.empty())
      return Error(ErrorClass::kConfig, "sink " + sink.name + ": msk_iam needs region (or AWS_REGION)");
    auto creds = ctx.credentials(o.region);
    if (!creds.ok()) return Error(creds.error().errorClass(), "sink " + sink.name + ": " + creds.error().message());
    o.credentials = *creds;
  }
  auto s = events::KafkaSink::open(std::move(o));
  if (!s.ok()) return Error(s.error().errorClass(), "sink " + sink.name + ": " + s.error().message());
  return events::EventSinkPtr(std::move(*s));
}
#endif

constexpr StoreBackend kStoreBackends[] = {
#ifdef MXGATE_WITH_STORE_LOCAL
    {"local", "a directory tree under store.dir (durable puts, batch sync per store.sync)", makeLocalStore},
#endif
#ifdef MXGATE_WITH_STORE_S3
    {"s3", "an S3 or S3-compatible bucket ([store.s3]; keys prefixed by store.s3.prefix)", makeS3Store, renderS3Metrics,
     s3KeyPrefix},
#endif
    {{}, {}, nullptr},  // end marker, so the table is never empty
};

constexpr SinkBackend kSinkBackends[] = {
#ifdef MXGATE_WITH_EVENTS_FILE
    {"file", "one CloudEvents JSON line per message appended to the sink's path", makeFileSink},
#endif
#ifdef MXGATE_WITH_EVENTS_WEBHOOK
    {"webhook", "a signed HTTPS POST per event (Standard Webhooks, CloudEvents structured mode)", makeWebhookSink},
#endif
#ifdef MXGATE_WITH_EVENTS_KAFKA
    {"kafka", "Kafka / Amazon MSK (librdkafka: idempotent, acks=all; CloudEvents Kafka binding; SCRAM, mTLS, MSK IAM)",
     makeKafkaSink},
#endif
#ifdef MXGATE_WITH_EVENTS_SQS
    {"sqs", "Amazon SQS SendMessageBatch (standard or FIFO queue), SigV4, the AWS credential chain", makeSqsSink},
#endif
    {{}, {}, nullptr},
};

template <typename T, size_t N>
std::span<const T> rows(const T (&table)[N]) {
  return std::span<const T>(table, N - 1);  // without the end marker
}

template <typename T>
const T* find(std::span<const T> table, std::string_view name) {
  for (const auto& b : table) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

template <typename T>
std::string known(std::span<const T> table, std::string_view option_family) {
  if (table.empty()) return "this build has none (enable one with -DMXGATE_WITH_" + std::string(option_family) + "_<NAME>=ON)";
  std::string s = "this build has ";
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0) s += ", ";
    s += "\"" + std::string(table[i].name) + "\"";
  }
  return s;
}

int lineOf(const Config& c, const char* key) {
  auto it = c.key_lines.find(key);
  return it == c.key_lines.end() ? 0 : it->second;
}

}  // namespace

std::span<const StoreBackend> storeBackends() { return rows(kStoreBackends); }
std::span<const SinkBackend> sinkBackends() { return rows(kSinkBackends); }
std::span<const RateLimiterBackend> rateLimiterBackends() { return rows(kRateLimiterBackends); }

Result<policy::RateLimiterPtr> makeRateLimiter(const Config& c, const LogLineFn& log) {
  const RateLimiterBackend* b = find(rateLimiterBackends(), c.rate_limits.backend);
  if (!b) return Error(ErrorClass::kConfig, "rate_limits.backend: unknown backend \"" + c.rate_limits.backend + "\"");
  return b->make(c, log);
}

void validateBackends(const Config& c, std::vector<ConfigError>* errors) {
  if (!find(storeBackends(), c.store.backend)) {
    errors->push_back({"store.backend", lineOf(c, "store.backend"),
                       "unknown backend \"" + c.store.backend + "\"; " + known(storeBackends(), "STORE")});
  }
  if (!find(rateLimiterBackends(), c.rate_limits.backend)) {
    errors->push_back({"rate_limits.backend", lineOf(c, "rate_limits.backend"),
                       "this build has no \"" + c.rate_limits.backend + "\" rate limiter; " +
                           known(rateLimiterBackends(), "RATELIMIT")});
  }
  if (c.sinks.empty()) {
    if (!find(sinkBackends(), c.events.sink)) {
      errors->push_back({"events.sink", lineOf(c, "events.sink"),
                         "unknown sink \"" + c.events.sink + "\"; " + known(sinkBackends(), "EVENTS")});
    }
  }
  for (const auto& s : c.sinks) {
    if (!find(sinkBackends(), s.kind)) {
      const std::string key = "sink." + s.name + ".kind";
      errors->push_back({key, lineOf(c, key.c_str()),
                         "this build has no \"" + s.kind + "\" sink; " + known(sinkBackends(), "EVENTS")});
    }
  }
}

Result<store::BlobStorePtr> makeStore(const Config& c) {
  const StoreBackend* b = find(storeBackends(), c.store.backend);
  if (!b) return Error(ErrorClass::kConfig, "store.backend: unknown backend \"" + c.store.backend + "\"");
  return b->make(c);
}

std::string renderStoreMetrics(const Config& c, const store::BlobStore& s) {
  const StoreBackend* b = find(storeBackends(), c.store.backend);
  return b && b->render_metrics ? b->render_metrics(s) : std::string();
}

std::string storeKeyPrefix(const Config& c) {
  const StoreBackend* b = find(storeBackends(), c.store.backend);
  return b && b->key_prefix ? b->key_prefix(c) : std::string();
}

Result<events::EventSinkPtr> makeSink(const Config& c, const events::SinkSettings& sink, SinkContext& ctx) {
  const SinkBackend* b = find(sinkBackends(), sink.kind);
  if (!b) return Error(ErrorClass::kConfig, "sink " + sink.name + ": this build has no \"" + sink.kind + "\" sink");
  return b->make(c, sink, ctx);
}

}  // namespace mx::app
