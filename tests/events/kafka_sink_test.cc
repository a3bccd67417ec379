// Tests for events::KafkaSink against librdkafka's in-process mock cluster (3 brokers on
// 127.0.0.1, random ports; PLATFORM.md "Kafka: librdkafka's mock cluster"). Records are read
// back with a plain consumer using assign() (no group join) until every partition reports EOF.
//  - binary and structured CloudEvents modes: headers, key, value and topic per tenant;
//  - all brokers down during a publishEach, up again within the timeout: every event ok and
//    read back; down past the timeout: every event transient, then delivered on retry;
//  - injected retriable Produce errors: every id read back, duplicates only of the same event;
//  - a record over message.max.bytes, an invalid topic, a corrupt stored event: refused for
//    good, the rest of the batch delivered;
//  - a fatal idempotent-producer error: the producer is recreated;
//  - config errors name the option or librdkafka property;
//  - msk_iam: the refresh callback hands librdkafka a token (or reports the provider's error);
//  - the kafka_mock_cluster helper binary: bootstrap line, down/up/errors/topic, exit on EOF.
// Every error-class assertion also checks retry.h's disposition, the outbox's reading of it.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "events/cloud_event.h"
#include "events/kafka/kafka_sink.h"
#include "events/retry.h"

extern char** environ;

namespace mx::events {
namespace {

using nlohmann::json;
using std::chrono::steady_clock;

void quietLog(const rd_kafka_t* /*rk*/, int /*level*/, const char* /*fac*/, const char* /*buf*/) {}

// An in-process mock cluster; topics are created explicitly so partition counts are known.
// Destroying one takes a second (its thread's poll interval), so the suite shares one and each
// test uses its own topics (prefixed with the test's name).
class MockCluster {
 public:
  MockCluster() {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quietLog);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    EXPECT_NE(rk_, nullptr) << errstr;
    mc_ = rd_kafka_mock_cluster_new(rk_, 3);
    EXPECT_NE(mc_, nullptr);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc_); }
  void createTopic(const std::string& name, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(mc_, name.c_str(), partitions, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
    topics_.emplace_back(name, partitions);
  }
  void setAllBrokers(bool up) {
    down_ = !up;
    for (int32_t id = 1; id <= 3; ++id) {
      EXPECT_EQ(up ? rd_kafka_mock_broker_set_up(mc_, id) : rd_kafka_mock_broker_set_down(mc_, id),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  }
  void pushProduceErrors(size_t n) {
    std::vector<rd_kafka_resp_err_t> errs(n, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    rd_kafka_mock_push_request_errors_array(mc_, /*Produce*/ 0, errs.size(), errs.data());
  }
  // The topics created since the last call (one test's topics; the cluster is shared).
  const std::vector<std::pair<std::string, int>>& topics() const { return topics_; }
  void forgetTopics() { topics_.clear(); }
  bool down() const { return down_; }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
  std::vector<std::pair<std::string, int>> topics_;
  bool down_ = false;
};

struct Record {
  std::string topic, key, value;
  std::map<std::string, std::string> headers;
  size_t header_count = 0;
};

// Reads every partition of `topics` from the beginning until each is at EOF and at least
// `min_count` records came (or 20 s passed: then the caller's count assertion fails).
std::vector<Record> consumeAll(const std::string& bootstraps, const std::vector<std::pair<std::string, int>>& topics,
                               size_t min_count) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : std::map<std::string, std::string>{{"bootstrap.servers", bootstraps},
                                                               {"group.id", "mxgate-test"},
                                                               {"enable.partition.eof", "true"},
                                                               {"enable.auto.commit", "false"},
                                                               {"fetch.wait.max.ms", "20"},
                                                               {"fetch.error.backoff.ms", "20"},
                                                               {"reconnect.backoff.max.ms", "500"}}) {
    EXPECT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr), RD_KAFKA_CONF_OK) << errstr;
  }
  rd_kafka_conf_set_log_cb(conf, quietLog);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  EXPECT_NE(rk, nullptr) << errstr;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(8);
  size_t partitions = 0;
  for (const auto& [topic, n] : topics) {
    for (int p = 0; p < n; ++p, ++partitions) {
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  EXPECT_EQ(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);

  std::vector<Record> out;
  std::set<std::pair<std::string, int32_t>> at_eof;
  const auto deadline = steady_clock::now() + std::chrono::seconds(20);
  while (steady_clock::now() < deadline && !(at_eof.size() == partitions && out.size() >= min_count)) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    const std::string topic = m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "";
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_eof.emplace(topic, m->partition);
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      at_eof.erase({topic, m->partition});
      Record r;
      r.topic = topic;
      if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* val = nullptr;
        size_t size = 0;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          r.headers[name] = std::string(static_cast<const char*>(val), size);
          ++r.header_count;
        }
      }
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Events built by the real CloudEvents builder; ids are valid ULIDs ("01HF" + 22 digits).
class EventFactory {
 public:
  Event make(int n, const std::string& tenant, size_t summary_bytes = 0) {
    auto env = std::make_unique<Envelope>();
    char id[32];
    std::snprintf(id, sizeof id, "01HF%022d", n);
    env->id = *MessageId::parse(id);
    env->listener = "smtp";
    env->tenant = tenant;
    env->received_at = WallTime(std::chrono::milliseconds(1700000000123ll + n));
    env->mail_from = "alice@example.org";
    env->rcpt_to = {"bob@" + tenant + ".test"};
    MessageReceived m;
    m.envelope = env.get();
    m.hostname = "mx1.example.net";
    m.tenant = tenant;
    m.size = 1000 + static_cast<uint64_t>(n);
    m.sha256 = std::string(64, 'a');
    m.raw_key = tenant + "/raw/x.eml";
    if (summary_bytes > 0) m.summary_json = "{\"subject\":\"" + std::string(summary_bytes, 'x') + "\"}";
    envelopes_.push_back(std::move(env));
    return makeMessageReceivedEvent(m);
  }
  std::vector<Event> batch(int from, int count, const std::vector<std::string>& tenants) {
    std::vector<Event> out;
    for (int i = 0; i < count; ++i) out.push_back(make(from + i, tenants[static_cast<size_t>(i) % tenants.size()]));
    return out;
  }

 private:
  std::vector<std::unique_ptr<Envelope>> envelopes_;
};

// The exact text of `data` in our builder's output (the last member, up to the final '}').
std::string dataTextOf(const std::string& event_json) {
  const size_t at = event_json.find("\"data\":");
  EXPECT_NE(at, std::string::npos);
  return event_json.substr(at + 7, event_json.size() - (at + 7) - 1);
}

std::unique_ptr<KafkaSink> openSink(KafkaSinkOptions o) {
  auto sink = KafkaSink::open(std::move(o));
  EXPECT_TRUE(sink.ok()) << sink.error().message();
  return sink.ok() ? std::move(*sink) : nullptr;
}

void expectAllOk(const std::vector<Delivery>& ds, size_t n) {
  ASSERT_EQ(ds.size(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_TRUE(ds[i].status.ok()) << i << ": " << ds[i].status.error().message();
}

void expectClass(const Delivery& d, ErrorClass c, Disposition disposition) {
  ASSERT_FALSE(d.status.ok());
  EXPECT_EQ(d.status.error().errorClass(), c) << d.status.error().message();
  EXPECT_EQ(dispositionOf(d.status.error().errorClass()), disposition);
}

class KafkaSinkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new MockCluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    cluster_->forgetTopics();
    prefix_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    if (cluster_->down()) cluster_->setAllBrokers(true);  // what a failed test left
  }

  MockCluster& cluster() { return *cluster_; }
  // This test's topic for `tenant`, as options().topic names it.
  std::string topic(const std::string& tenant) const { return prefix_ + "." + tenant; }
  KafkaSinkOptions options(std::atomic<int>* log_lines = nullptr) const {
    KafkaSinkOptions o;
    o.brokers = cluster_->bootstraps();
    o.topic = prefix_ + ".{tenant}";
    o.delivery_timeout = Millis(10000);
    o.properties = {{"reconnect.backoff.max.ms", "500"}, {"linger.ms", "5"}};
    o.log = [log_lines](std::string_view) {
      if (log_lines != nullptr) log_lines->fetch_add(1);
    };
    return o;
  }

  static MockCluster* cluster_;
  std::string prefix_;
};
MockCluster* KafkaSinkTest::cluster_ = nullptr;

TEST_F(KafkaSinkTest, BinaryModeHeadersKeyValueAndTopicPerTenant) {
  MockCluster& mc = cluster();
  mc.createTopic(topic("acme"), 2);
  mc.createTopic(topic("globex"), 2);
  auto sink = openSink(options());
  ASSERT_NE(sink, nullptr);
  EventFactory f;
  std::vector<Event> batch = f.batch(1, 6, {"acme", "globex"});
  expectAllOk(sink->publishEach(batch), batch.size());

  std::vector<Record> records = consumeAll(mc.bootstraps(), mc.topics(), batch.size());
  ASSERT_EQ(records.size(), batch.size());
  std::map<std::string, const Event*> by_id;
  for (const Event& e : batch) by_id[e.id] = &e;
  for (const Record& r : records) {
    ASSERT_EQ(by_id.count(r.key), 1u) << r.key;
    const Event& e = *by_id[r.key];
    const json j = json::parse(e.json);
    EXPECT_EQ(r.topic, topic(e.tenant));
    // kafka-protocol-binding §3.2: the value is the data, byte for byte.
    EXPECT_EQ(r.value, dataTextOf(e.json));
    EXPECT_EQ(json::parse(r.value), j["data"]);
    const std::map<std::string, std::string> expected = {
        {"ce_specversion", "1.0"},
        {"ce_id", e.id},
        {"ce_source", j["source"]},
        {"ce_type", "mxgate.message.received"},
        {"ce_time", j["time"]},
        {"ce_subject", e.id},
        {"ce_traceparent", j["traceparent"]},
        {"content-type", "application/json"},
    };
    EXPECT_EQ(r.headers, expected);
    EXPECT_EQ(r.header_count, expected.size());
  }
}

TEST_F(KafkaSinkTest, StructuredModeCarriesTheWholeEventKeyedByTenant) {
  MockCluster& mc = cluster();
  mc.createTopic(prefix_ + "-events-acme", 1);
  auto o = options();
  o.topic = prefix_ + "-events-{tenant}";
  o.mode = "structured";
  o.key = "tenant";
  auto sink = openSink(o);
  ASSERT_NE(sink, nullptr);
  EventFactory f;
  std::vector<Event> batch = f.batch(1, 3, {"acme"});
  ASSERT_TRUE(sink->publish(batch).ok());

  std::vector<Record> records = consumeAll(mc.bootstraps(), mc.topics(), batch.size());
  ASSERT_EQ(records.size(), batch.size());
  for (size_t i = 0; i < records.size(); ++i) {
    // One partition: the producer's order is the log's order.
    EXPECT_EQ(records[i].value, batch[i].json);
    EXPECT_EQ(records[i].key, "acme");
    EXPECT_EQ(records[i].topic, prefix_ + "-events-acme");
    EXPECT_EQ(records[i].headers,
              (std::map<std::string, std::string>{{"content-type", "application/cloudevents+json; charset=UTF-8"}}));
  }
}

TEST_F(KafkaSinkTest, AllBrokersDownDuringPublishThenUpLosesNothing) {
  MockCluster& mc = cluster();
  mc.createTopic(topic("acme"), 3);
  auto sink = openSink(options());
  ASSERT_NE(sink, nullptr);
  EventFactory f;
  // Connected and with metadata first, as a running gateway is.
  expectAllOk(sink->publishEach(f.batch(1, 1, {"acme"})), 1);

  mc.setAllBrokers(false);
  std::thread up([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    mc.setAllBrokers(true);
  });
  std::vector<Event> batch = f.batch(100, 30, {"acme"});
  const auto start = steady_clock::now();
  std::vector<Delivery> ds = sink->publishEach(batch);
  const auto took = steady_clock::now() - start;
  up.join();
  // The brokers were down for 2 s of a 10 s delivery timeout: every event is confirmed,
  // and confirming took the outage (the reports did wait for the brokers).
  expectAllOk(ds, batch.size());
  EXPECT_GE(took, std::chrono::milliseconds(1500));

  std::vector<Record> records = consumeAll(mc.bootstraps(), mc.topics(), batch.size() + 1);
  std::multiset<std::string> ids;
  for (const Record& r : records) ids.insert(r.key);
  for (const Event& e : batch) EXPECT_EQ(ids.count(e.id), 1u) << e.id;  // idempotent: once
  EXPECT_EQ(records.size(), batch.size() + 1);
}

TEST_F(KafkaSinkTest, DownPastTheTimeoutIsTransientThenDeliveredOnRetry) {
  MockCluster& mc = cluster();
  mc.createTopic(topic("acme"), 2);
  auto o = options();
  o.delivery_timeout = Millis(1000);
  auto sink = openSink(o);
  ASSERT_NE(sink, nullptr);
  EventFactory f;
  // A cold producer (connections, metadata, producer id) may need more than this test's short
  // timeout for its first record: retried as the outbox would.
  bool warm = false;
  for (int attempt = 0; attempt < 5 && !warm; ++attempt)
    warm = sink->publishEach(f.batch(1, 1, {"acme"}))[0].status.ok();
  ASSERT_TRUE(warm);

  mc.setAllBrokers(false);
  std::vector<Event> batch = f.batch(200, 10, {"acme"});
  std::vector<Delivery> ds = sink->publishEach(batch);
  ASSERT_EQ(ds.size(), batch.size());
  for (const Delivery& d : ds) expectClass(d, ErrorClass::kTransientBackend, Disposition::kRetry);

  // The outbox retries after its backoff; the brokers are back by then.
  mc.setAllBrokers(true);
  std::vector<Delivery> again;
  for (int attempt = 0; attempt < 5; ++attempt) {
    again = sink->publishEach(batch);
    bool all_ok = true;
    for (const Delivery& d : again) all_ok = all_ok && d.status.ok();
    if (all_ok) break;
  }
  expectAllOk(again, batch.size());

  std::vector<Record> records = consumeAll(mc.bootstraps(), mc.topics(), batch.size() + 1);
  std::map<std::string, std::set<std::string>> values_by_id;
  for (const Record& r : records) values_by_id[r.key].insert(r.value);
  for (const Event& e : batch) {
    ASSERT_EQ(values_by_id.count(e.id), 1u) << e.id << " was lost";
    // A record delivered twice (timed out but possibly persisted) is the same event.
    EXPECT_EQ(values_by_id[e.id], std::set<std::string>{dataTextOf(e.json)});
  }
}

TEST_F(KafkaSinkTest, InjectedProduceErrorsAreRetriedAndNothingIsLost) {
  MockCluster& mc = cluster();
  mc.createTopic(topic("acme"), 2);
  mc.createTopic(topic("globex"), 2);
  auto sink = openSink(options());
  ASSERT_NE(sink, nullptr);
  EventFactory f;
  expectAllOk(sink->publishEach(f.batch(1, 1, {"acme"})), 1);

  mc.pushProduceErrors(6);
  std::vector<Event> batch = f.batch(300, 40, {"acme", "globex"});
  expectAllOk(sink->publishEach(batch), batch.size());

  std::vector<Record> records = consumeAll(mc.bootstraps(), mc.topics(), batch.size() + 1);
  std::map<std::string, const Event*> by_id;
  for (const Event& e : batch) by_id[e.id] = &e;
  std::set<std::string> seen;
  for (const Record& r : records) {
    seen.insert(r.key);
    if (by_id.count(r.key) == 0) continue;  // the warm-up event
    // Any duplicate is the same event again: same id header, same data.
    EXPECT_EQ(r.headers.at("ce_id"), r.key);
    EXPECT_EQ(r.value, dataTextOf(by_id[r.key]->json));
    EXPECT_EQ(r.topic, topic(by_id[r.key]->tenant));
  }
  for (const Event& e : batch) EXPECT_EQ(seen.count(e.id), 1u) << e.id << " was lost";
}

TEST_F(KafkaSinkTest, OversizedInvalidTopicAndCorruptEventsAreRefusedTheRestDelivered) {
  MockCluster& mc = cluster();
  mc.createTopic(topic("acme"), 1);
  auto o = options();
  o.properties["message.max.bytes"] = "20000";
  auto sink = openSink(o);
  ASSERT_NE(sink, nullptr);
  EventFactory f;
  std::vector<Event> batch = {f.make(1, "acme"), f.make(2, "acme", 30000), f.make(3, "bad/tenant"), f.make(4, "acme")};
  batch.push_back(batch[0]);
  batch.back().id = "01HF0000000000000000000005";
  batch.back().json = R"({"specversion":"1.0","id":"01HF0000000000000000000005","data":{"torn")";
  batch.push_back(f.make(6, "acme"));
  // Just under the limit still goes: the record's overhead is well below 2000 bytes.
  batch.push_back(f.make(7, "acme", 18000 - f.make(7, "acme").json.size()));

  std::vector<Delivery> ds = sink->publishEach(batch);
  ASSERT_EQ(ds.size(), batch.size());
  EXPECT_TRUE(ds[0].status.ok());
  expectClass(ds[1], ErrorClass::kPermanentBackend, Disposition::kRefused);  // over message.max.bytes
  EXPECT_NE(ds[1].status.error().message().find("MSG_SIZE_TOO_LARGE"), std::string::npos);
  expectClass(ds[2], ErrorClass::kPermanentBackend, Disposition::kRefused);  // "<test>.bad/tenant"
  EXPECT_NE(ds[2].status.error().message().find("invalid topic name \"" + topic("bad/tenant") + "\""),
            std::string::npos);
  EXPECT_TRUE(ds[3].status.ok());
  expectClass(ds[4], ErrorClass::kProtocol, Disposition::kRefused);  // torn JSON in binary mode
  EXPECT_NE(ds[4].status.error().message().find("cloudevent: "), std::string::npos);
  EXPECT_TRUE(ds[5].status.ok());
  EXPECT_TRUE(ds[6].status.ok()) << ds[6].status.error().message();

  std::vector<Record> records = consumeAll(mc.bootstraps(), mc.topics(), 4);
  std::vector<std::string> keys;
  for (const Record& r : records) keys.push_back(r.key);
  EXPECT_EQ(keys, (std::vector<std::string>{batch[0].id, batch[3].id, batch[5].id, batch[6].id}));

  // publish(): all or nothing, by the first failure's class.
  Status s = sink->publish(std::span<const Event>(batch).subspan(0, 3));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_NE(s.error().message().find("2 of 3 events failed"), std::string::npos);
}

TEST_F(KafkaSinkTest, FatalProducerErrorRecreatesTheProducer) {
  MockCluster& mc = cluster();
  mc.createTopic(topic("acme"), 1);
  std::atomic<int> lines{0};
  auto sink = openSink(options(&lines));
  ASSERT_NE(sink, nullptr);
  EventFactory f;
  expectAllOk(sink->publishEach(f.batch(1, 1, {"acme"})), 1);
  EXPECT_EQ(sink->producersCreatedForTest(), 1u);

  sink->raiseFatalErrorForTest();
  std::vector<Delivery> first = sink->publishEach(f.batch(2, 1, {"acme"}));
  ASSERT_EQ(first.size(), 1u);
  if (!first[0].status.ok()) {  // refused by the fatal producer (else: already recreated)
    expectClass(first[0], ErrorClass::kTransientBackend, Disposition::kRetry);
    expectAllOk(sink->publishEach(f.batch(2, 1, {"acme"})), 1);
  }
  EXPECT_EQ(sink->producersCreatedForTest(), 2u);
  std::vector<Record> records = consumeAll(mc.bootstraps(), mc.topics(), 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].key, f.make(2, "acme").id);
  EXPECT_GT(lines.load(), 0);  // the fatal error was logged
}

TEST_F(KafkaSinkTest, ConfigErrorsNameTheOptionOrProperty) {
  auto expectConfig = [](KafkaSinkOptions o, const std::string& needle) {
    auto r = KafkaSink::open(std::move(o));
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_EQ(r.error().errorClass(), ErrorClass::kConfig);
    EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
  };
  auto o = options();
  o.properties["no.such.property"] = "1";
  expectConfig(o, "property \"no.such.property\"");
  o = options();
  o.properties["acks"] = "maybe";
  expectConfig(o, "property \"acks\"");
  o = options();
  o.key = "subject";
  expectConfig(o, "key = \"subject\"");
  o = options();
  o.mode = "batched";
  expectConfig(o, "mode = \"batched\"");
  o = options();
  o.topic = "mail/{tenant}";
  expectConfig(o, "topic = \"mail/{tenant}\"");
  o = options();
  o.auth = "kerberos";
  expectConfig(o, "auth = \"kerberos\"");
  o = options();
  o.auth = "msk_iam";
  expectConfig(o, "needs region");
  o = options();
  o.auth = "sasl_scram";
  o.username = "u";
  expectConfig(o, "needs username and password");
  o = options();
  o.auth = "mtls";
  o.cert_file = "/nonexistent/cert.pem";
  o.key_file = "/nonexistent/key.pem";
  expectConfig(o, "cannot create the producer");  // librdkafka reads the files at creation

  // A complete SASL/SCRAM config is accepted by this librdkafka build (SASL_SSL, SCRAM).
  o = options();
  o.auth = "sasl_scram";
  o.sasl_mechanism = "SCRAM-SHA-256";
  o.username = "mxgate";
  o.password = "secret";
  auto scram = KafkaSink::open(o);
  EXPECT_TRUE(scram.ok()) << scram.error().message();
}

class FakeCredentials final : public aws::CredentialsProvider {
 public:
  explicit FakeCredentials(Result<aws::Credentials> c) : creds_(std::move(c)) {}
  Result<aws::Credentials> current() override {
    asked_.fetch_add(1);
    return creds_;
  }
  void get(std::function<void(Result<aws::Credentials>)> done) override { done(creds_); }
  std::string_view source() const override { return "config"; }
  int asked() const { return asked_.load(); }

 private:
  Result<aws::Credentials> creds_;
  std::atomic<int> asked_{0};
};

template <typename Pred>
bool waitFor(Pred pred) {
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (!pred() && steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return pred();
}

TEST(KafkaSink, MskIamRefreshCallbackSetsTheTokenOrReportsTheProviderError) {
  KafkaSinkOptions o;
  o.brokers = "127.0.0.1:9";  // never reached: the token is set before any connection matters
  o.topic = "mail.{tenant}";
  o.auth = "msk_iam";
  o.region = "eu-west-1";
  o.delivery_timeout = Millis(1000);
  o.log = [](std::string_view) {};
  {
    FakeCredentials good(aws::Credentials{"AKIDEXAMPLE", "secret", "token", std::nullopt});
    o.credentials = &good;
    auto sink = openSink(o);
    ASSERT_NE(sink, nullptr);
    EXPECT_TRUE(waitFor([&] { return sink->tokensSetForTest() >= 1; }));
    EXPECT_GE(good.asked(), 1);
    EXPECT_EQ(sink->lastTokenErrorForTest(), "");
  }
  {
    FakeCredentials bad(Error(ErrorClass::kTransientBackend, "aws: no credentials yet"));
    o.credentials = &bad;
    auto sink = openSink(o);
    ASSERT_NE(sink, nullptr);
    EXPECT_TRUE(waitFor([&] { return !sink->lastTokenErrorForTest().empty(); }));
    EXPECT_EQ(sink->lastTokenErrorForTest(), "aws: no credentials yet");
    EXPECT_EQ(sink->tokensSetForTest(), 0u);
  }
}

TEST(KafkaErrorClass, TableCoversTheBriefsCases) {
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), ErrorClass::kTransientBackend);
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR__TRANSPORT), ErrorClass::kTransientBackend);
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN), ErrorClass::kTransientBackend);
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR__QUEUE_FULL), ErrorClass::kTransientBackend);
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS), ErrorClass::kTransientBackend);
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), ErrorClass::kPermanentBackend);
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION), ErrorClass::kPermanentBackend);
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED), ErrorClass::kPermanentBackend);
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART), ErrorClass::kNotFound);
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED), ErrorClass::kConfig);
  EXPECT_EQ(kafkaErrorClass(RD_KAFKA_RESP_ERR_INVALID_TRANSACTION_TIMEOUT), ErrorClass::kPermanentBackend);  // unlisted
}

#ifdef MXGATE_KAFKA_MOCK_CLUSTER
// The helper binary the Python integration tests start: spoken to over pipes, used by a sink.
TEST(KafkaMockClusterBinary, BootstrapLineCommandsAndExitOnEof) {
  int to_child[2], from_child[2];
  ASSERT_EQ(pipe(to_child), 0);
  ASSERT_EQ(pipe(from_child), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
  posix_spawn_file_actions_addclose(&fa, to_child[1]);
  posix_spawn_file_actions_addclose(&fa, from_child[0]);
  char* argv[] = {const_cast<char*>(MXGATE_KAFKA_MOCK_CLUSTER), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, MXGATE_KAFKA_MOCK_CLUSTER, &fa, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(to_child[0]);
  close(from_child[1]);
  FILE* out = fdopen(from_child[0], "r");
  FILE* in = fdopen(to_child[1], "w");
  auto readLine = [&] {
    char buf[1024] = "";
    if (std::fgets(buf, sizeof buf, out) == nullptr) return std::string("(eof)");
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  };
  auto command = [&](const std::string& c) {
    std::fprintf(in, "%s\n", c.c_str());
    std::fflush(in);
    return readLine();
  };

  const std::string bootstraps = readLine();
  EXPECT_EQ(std::count(bootstraps.begin(), bootstraps.end(), ','), 2) << bootstraps;
  EXPECT_EQ(bootstraps.rfind("127.0.0.1:", 0), 0u) << bootstraps;
  EXPECT_EQ(command("topic mail.acme 2"), "ok");
  EXPECT_EQ(command("bogus"), "error: unknown command \"bogus\"");
  EXPECT_EQ(command("errors x"), "error: errors N (0..100000)");

  KafkaSinkOptions o;
  o.brokers = bootstraps;
  o.topic = "mail.{tenant}";
  o.delivery_timeout = Millis(10000);
  o.properties = {{"reconnect.backoff.max.ms", "500"}};
  o.log = [](std::string_view) {};
  auto sink = openSink(o);
  ASSERT_NE(sink, nullptr);
  EventFactory f;
  expectAllOk(sink->publishEach(f.batch(1, 2, {"acme"})), 2);
  EXPECT_EQ(command("errors 3"), "ok");
  expectAllOk(sink->publishEach(f.batch(3, 2, {"acme"})), 2);
  EXPECT_EQ(command("down"), "ok");
  std::thread up([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_EQ(command("up"), "ok");
  });
  expectAllOk(sink->publishEach(f.batch(5, 2, {"acme"})), 2);
  up.join();
  EXPECT_EQ(consumeAll(bootstraps, {{"mail.acme", 2}}, 6).size(), 6u);
  sink.reset();

  std::fclose(in);  // EOF: the helper exits 0
  int status = -1;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::fclose(out);
}
#endif

}  // namespace
}  // namespace mx::events
