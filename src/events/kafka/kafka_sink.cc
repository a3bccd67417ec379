// events/kafka/kafka_sink.cc — see kafka_sink.h.
//
// How a batch travels: publishEach() makes a Batch (one result and one Slot per event), and
// produces each event with its Slot as the message opaque. The poll thread serves librdkafka's
// main queue (rd_kafka_poll): onDelivery() finds the Slot, records the result and counts the
// batch down; publishEach() waits on the batch's condition variable. A batch that gives up
// waiting is parked in unfinished_ so that late reports still find live memory; it is dropped
// once its count reaches zero or the producer is destroyed (after which no report can come).
#include "events/kafka/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>

#include "events/cloud_event_split.h"
#include "events/kafka/msk_iam_token.h"

#ifndef MXGATE_VERSION
#define MXGATE_VERSION "0.0.0"
#endif

namespace mx::events {

struct KafkaSink::Batch {
  struct Slot {
    Batch* batch;
    size_t index;
  };
  explicit Batch(size_t n) : results(n), reported(n, 0), slots(n) {}

  std::mutex mu;
  std::condition_variable cv;
  std::vector<Delivery> results;
  std::vector<char> reported;  // 1 once results[i] is final
  size_t pending = 0;          // produced, report not yet in
  std::vector<Slot> slots;     // slots[i] is event i's message opaque
};

namespace {

constexpr std::string_view kStructuredContentType = "application/cloudevents+json; charset=UTF-8";
constexpr Millis kReportGrace{2000};  // librdkafka scans for timed-out messages once a second
constexpr Millis kCloseFlushMax{10000};
constexpr int kPollMs = 100;

Delivery failed(ErrorClass c, std::string message) { return Delivery{Error(c, std::move(message)), Millis(0)}; }

// Kafka's topic name rule (kafka.common.internals.Topic.validate): 1..249 characters of
// [a-zA-Z0-9._-], and not "." or "..".
bool validTopic(std::string_view t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

// options.topic with every "{tenant}" replaced.
std::string expandTopic(std::string_view pattern, std::string_view tenant) {
  constexpr std::string_view kTenant = "{tenant}";
  std::string out;
  size_t from = 0;
  for (size_t at = pattern.find(kTenant); at != std::string_view::npos; at = pattern.find(kTenant, from)) {
    out.append(pattern.substr(from, at - from));
    out.append(tenant);
    from = at + kTenant.size();
  }
  out.append(pattern.substr(from));
  return out;
}

Error configError(std::string message) { return Error(ErrorClass::kConfig, "kafka: " + std::move(message)); }

}  // namespace

// librdkafka's C callbacks; their opaque is the KafkaSink (rd_kafka_conf_set_opaque).
struct KafkaSink::Callbacks {
  static void onDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* /*opaque*/) {
    auto* slot = static_cast<Batch::Slot*>(msg->_private);
    if (slot == nullptr) return;
    Batch& b = *slot->batch;
    std::lock_guard<std::mutex> lock(b.mu);
    if (b.reported[slot->index] == 0) {
      b.reported[slot->index] = 1;
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* status =
            rd_kafka_message_status(msg) == RD_KAFKA_MSG_STATUS_NOT_PERSISTED ? "" : " (possibly persisted)";
        b.results[slot->index] =
            failed(kafkaErrorClass(msg->err),
                   std::string("kafka: ") + rd_kafka_err2name(msg->err) + ": " + rd_kafka_err2str(msg->err) + status);
      }
    }
    --b.pending;
    // Notified under the lock: the waiter may destroy the batch as soon as it can lock.
    b.cv.notify_all();
  }

  static void onLog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    auto* self = static_cast<KafkaSink*>(rd_kafka_opaque(rk));
    self->log(std::string("kafka: ") + fac + " (" + std::to_string(level) + "): " + buf);
  }

  static void onError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char why[512];
      const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
      self->fatal_.store(true);
      self->log(std::string("kafka: fatal producer error, the producer will be recreated: ") + rd_kafka_err2name(orig) +
                ": " + why);
      return;
    }
    self->log(std::string("kafka: error: ") + rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)) + ": " + reason);
  }

  static void onTokenRefresh(rd_kafka_t* rk, const char* /*config*/, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    auto fail = [&](const std::string& why) {
      {
        std::lock_guard<std::mutex> lock(self->token_mu_);
        self->last_token_error_ = why;
      }
      self->log("kafka: msk_iam token refresh failed: " + why);
      rd_kafka_oauthbearer_set_token_failure(rk, why.c_str());
    };
    // current() never waits on the network; librdkafka asks again in 10 s after a failure.
    Result<aws::Credentials> creds = self->options_.credentials->current();
    if (!creds.ok()) return fail(creds.error().message());
    if (creds->access_key_id.empty() || creds->secret_access_key.empty()) return fail("empty AWS credentials");
    MskIamToken token =
        buildMskIamToken(*creds, self->options_.region, std::chrono::system_clock::now(), "mxgate/" MXGATE_VERSION);
    char errstr[512] = "";
    // The principal is only a label for librdkafka's logs; MSK derives the identity from the
    // signature.
    if (rd_kafka_oauthbearer_set_token(rk, token.token.c_str(), unixMillis(token.expires), "mxgate", nullptr, 0, errstr,
                                       sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return fail(errstr);
    }
    self->tokens_set_.fetch_add(1);
  }
};

ErrorClass kafkaErrorClass(int code) {
  // The one table (kafka_sink.h). Broker codes follow the Kafka protocol's "retriable" column
  // (org.apache.kafka.common.protocol.Errors); local codes (negative) follow librdkafka's docs.
  switch (static_cast<rd_kafka_resp_err_t>(code)) {
    // May heal by itself: retry with backoff.
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR__DESTROY:      // shutting down: the outbox keeps the event
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:  // purged at shutdown or producer recreation
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__FATAL:  // the producer is recreated on the next publish
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:  // CORRUPT_MESSAGE: a CRC mismatch in transit
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:  // idempotence: fatal, producer recreated
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
      return ErrorClass::kTransientBackend;
    // The topic does not exist (yet): an operator may create it.
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return ErrorClass::kNotFound;
    // Our credentials or TLS set-up are refused: fixable by an operator, retried.
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
      return ErrorClass::kConfig;
    // Never accepted as it is: refused for good (a dead letter).
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:  // invalid topic
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return ErrorClass::kPermanentBackend;
    default:
      // A code this table does not know: not known to heal.
      return ErrorClass::kPermanentBackend;
  }
}

KafkaSink::KafkaSink(KafkaSinkOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<KafkaSink>> KafkaSink::open(KafkaSinkOptions options) {
  const KafkaSinkOptions& o = options;
  if (o.brokers.empty()) return configError("brokers is empty");
  if (o.topic.empty()) return configError("topic is empty");
  if (o.key != "id" && o.key != "tenant") return configError("key = \"" + o.key + "\": expected \"id\" or \"tenant\"");
  if (o.mode != "binary" && o.mode != "structured") {
    return configError("mode = \"" + o.mode + "\": expected \"binary\" or \"structured\"");
  }
  if (o.delivery_timeout <= Millis(0)) return configError("delivery_timeout must be positive");
  if (o.auth == "sasl_scram") {
    if (o.sasl_mechanism != "SCRAM-SHA-256" && o.sasl_mechanism != "SCRAM-SHA-512") {
      return configError("sasl_mechanism = \"" + o.sasl_mechanism + "\": expected SCRAM-SHA-256 or SCRAM-SHA-512");
    }
    if (o.username.empty() || o.password.empty())
      return configError("auth = \"sasl_scram\" needs username and password");
  } else if (o.auth == "msk_iam") {
    if (o.region.empty()) return configError("auth = \"msk_iam\" needs region");
    if (o.credentials == nullptr) return configError("auth = \"msk_iam\" needs AWS credentials");
  } else if (o.auth == "mtls") {
    if (o.cert_file.empty() || o.key_file.empty()) return configError("auth = \"mtls\" needs cert_file and key_file");
  } else if (o.auth != "none") {
    return configError("auth = \"" + o.auth + "\": expected none, sasl_scram, msk_iam or mtls");
  }
  // The template must give a valid topic for a valid tenant name.
  if (!validTopic(expandTopic(o.topic, "tenant"))) {
    return configError("topic = \"" + o.topic + "\" is not a valid Kafka topic name ([a-zA-Z0-9._-], 1 to 249)");
  }
  std::unique_ptr<KafkaSink> sink(new KafkaSink(std::move(options)));
  if (Status s = sink->createProducer(); !s.ok()) return s.error();
  return sink;
}

KafkaSink::~KafkaSink() {
  std::lock_guard<std::mutex> lock(publish_mu_);
  destroyProducer();
}

void KafkaSink::log(std::string_view line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }
}

Status KafkaSink::createProducer() {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  auto set = [&](const std::string& name, const std::string& value) -> Status {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      return configError("property \"" + name + "\": " + errstr);
    }
    return okStatus();
  };
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", options_.brokers},
      {"client.id", "mxgate"},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", std::to_string(options_.delivery_timeout.count())},
  };
  const bool tls_ca = !options_.ca_file.empty();
  if (options_.auth == "none") {
    props.emplace_back("security.protocol", "plaintext");
  } else if (options_.auth == "sasl_scram") {
    props.emplace_back("security.protocol", "sasl_ssl");
    props.emplace_back("sasl.mechanism", options_.sasl_mechanism);
    props.emplace_back("sasl.username", options_.username);
    props.emplace_back("sasl.password", options_.password);
  } else if (options_.auth == "msk_iam") {
    props.emplace_back("security.protocol", "sasl_ssl");
    props.emplace_back("sasl.mechanism", "OAUTHBEARER");
  } else if (options_.auth == "mtls") {
    props.emplace_back("security.protocol", "ssl");
    props.emplace_back("ssl.certificate.location", options_.cert_file);
    props.emplace_back("ssl.key.location", options_.key_file);
  }
  if (tls_ca && options_.auth != "none") props.emplace_back("ssl.ca.location", options_.ca_file);
  for (const auto& [k, v] : options_.properties) props.emplace_back(k, v);
  for (const auto& [k, v] : props) {
    if (Status s = set(k, v); !s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_dr_msg_cb(conf, &Callbacks::onDelivery);
  rd_kafka_conf_set_log_cb(conf, &Callbacks::onLog);
  rd_kafka_conf_set_error_cb(conf, &Callbacks::onError);
  if (options_.auth == "msk_iam") rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, &Callbacks::onTokenRefresh);

  // rd_kafka_new owns conf on success only.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return configError(std::string("cannot create the producer: ") + errstr);
  }
  rk_ = rk;
  fatal_.store(false);
  stop_polling_.store(false);
  producers_created_.fetch_add(1);
  poller_ = std::thread([this, rk] {
    while (!stop_polling_.load()) rd_kafka_poll(rk, kPollMs);
  });
  return okStatus();
}

void KafkaSink::destroyProducer() {
  if (rk_ == nullptr) return;
  stop_polling_.store(true);
  if (poller_.joinable()) poller_.join();
  // rd_kafka_flush serves the delivery reports itself.
  const Millis bound = std::min(options_.delivery_timeout, kCloseFlushMax);
  if (rd_kafka_flush(rk_, static_cast<int>(bound.count())) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log("kafka: " + std::to_string(rd_kafka_outq_len(rk_)) + " records not delivered at close; purged");
  }
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_flush(rk_, 1000);  // serves the purged messages' reports
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
  // No report can arrive any more: whatever was still waiting is over.
  unfinished_.clear();
}

void KafkaSink::collectFinishedBatches() {
  std::erase_if(unfinished_, [](const std::shared_ptr<Batch>& b) {
    std::lock_guard<std::mutex> lock(b->mu);
    return b->pending == 0;
  });
}

Result<std::string> KafkaSink::topicFor(const Event& event) const {
  std::string t = expandTopic(options_.topic, event.tenant);
  if (!validTopic(t)) {
    return Error(ErrorClass::kPermanentBackend, "kafka: invalid topic name \"" + t + "\" for tenant \"" + event.tenant +
                                                    "\" ([a-zA-Z0-9._-], 1 to 249)");
  }
  return t;
}

Delivery KafkaSink::produceOne(const Event& event, Batch& batch, size_t index) {
  Result<std::string> topic = topicFor(event);
  if (!topic.ok()) return Delivery{topic.error(), Millis(0)};
  const std::string& key = options_.key == "tenant" ? event.tenant : event.id;

  rd_kafka_headers_t* headers = nullptr;
  std::string_view value;
  if (options_.mode == "structured") {
    headers = rd_kafka_headers_new(1);
    rd_kafka_header_add(headers, "content-type", -1, kStructuredContentType.data(),
                        static_cast<ssize_t>(kStructuredContentType.size()));
    value = event.json;
  } else {
    // Binary mode (kafka-protocol-binding §3.2): attributes to headers, data to the value.
    Result<CloudEventParts> parts = splitCloudEvent(event.json);
    if (!parts.ok()) return failed(ErrorClass::kProtocol, "kafka: event " + event.id + ": " + parts.error().message());
    if (parts->find("data_base64") != nullptr) {
      return failed(ErrorClass::kProtocol,
                    "kafka: event " + event.id + ": data_base64 is not supported in binary mode");
    }
    headers = rd_kafka_headers_new(parts->attributes.size());
    for (const auto& [name, v] : parts->attributes) {
      // §3.2.1 and §3.2.3: datacontenttype travels as the record's content-type header, the rest as ce_*.
      const std::string header = name == "datacontenttype" ? "content-type" : "ce_" + name;
      rd_kafka_header_add(headers, header.c_str(), static_cast<ssize_t>(header.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
    if (parts->data) value = *parts->data;
  }

  {
    std::lock_guard<std::mutex> lock(batch.mu);
    ++batch.pending;
  }
  batch.slots[index] = Batch::Slot{&batch, index};
  // RD_KAFKA_MSG_F_COPY: librdkafka copies key and value; headers pass to it on success.
  const rd_kafka_resp_err_t err =
      rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic->c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),  // NOLINT: copied (F_COPY)
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
                        RD_KAFKA_V_OPAQUE(&batch.slots[index]), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // A fatal producer refuses every produce at once, maybe before onError() has run.
    if (err == RD_KAFKA_RESP_ERR__FATAL) fatal_.store(true);
    rd_kafka_headers_destroy(headers);
    {
      std::lock_guard<std::mutex> lock(batch.mu);
      --batch.pending;
    }
    return failed(kafkaErrorClass(err),
                  std::string("kafka: produce: ") + rd_kafka_err2name(err) + ": " + rd_kafka_err2str(err));
  }
  return Delivery{};
}

std::vector<Delivery> KafkaSink::publishEach(std::span<const Event> batch) {
  std::lock_guard<std::mutex> publish_lock(publish_mu_);
  collectFinishedBatches();
  if (fatal_.load() || rk_ == nullptr) {
    destroyProducer();
    if (Status s = createProducer(); !s.ok()) {
      return std::vector<Delivery>(batch.size(), failed(ErrorClass::kTransientBackend, s.error().message()));
    }
  }
  if (batch.empty()) return {};

  auto state = std::make_shared<Batch>(batch.size());
  const auto deadline = std::chrono::steady_clock::now() + options_.delivery_timeout + kReportGrace;
  for (size_t i = 0; i < batch.size(); ++i) {
    Delivery d = produceOne(batch[i], *state, i);
    if (!d.status.ok()) {
      std::lock_guard<std::mutex> lock(state->mu);
      state->results[i] = std::move(d);
      state->reported[i] = 1;
    }
  }
  std::vector<Delivery> out;
  {
    std::unique_lock<std::mutex> lock(state->mu);
    state->cv.wait_until(lock, deadline, [&] { return state->pending == 0; });
    for (size_t i = 0; i < batch.size(); ++i) {
      if (state->reported[i] == 0) {
        state->results[i] =
            failed(ErrorClass::kTransientBackend,
                   "kafka: no delivery report within " + std::to_string(options_.delivery_timeout.count()) + " ms");
      }
    }
    out = state->results;
    if (state->pending > 0) unfinished_.push_back(state);
  }
  return out;
}

Status KafkaSink::publish(std::span<const Event> batch) {
  std::vector<Delivery> each = publishEach(batch);
  size_t failures = 0;
  const Delivery* first = nullptr;
  for (const Delivery& d : each) {
    if (d.status.ok()) continue;
    ++failures;
    if (first == nullptr) first = &d;
  }
  if (first == nullptr) return okStatus();
  // All or nothing: the caller retries (or refuses) the whole batch by the first failure's
  // class; events already delivered are delivered again (consumers deduplicate by id).
  return Error(first->status.error().errorClass(), std::to_string(failures) + " of " + std::to_string(each.size()) +
                                                       " events failed; first: " + first->status.error().message());
}

void KafkaSink::raiseFatalErrorForTest() {
  std::lock_guard<std::mutex> lock(publish_mu_);
  if (rk_ != nullptr) rd_kafka_test_fatal_error(rk_, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "test");
}

std::string KafkaSink::lastTokenErrorForTest() const {
  std::lock_guard<std::mutex> lock(token_mu_);
  return last_token_error_;
}

}  // namespace mx::events
