// Tests for the pipeline: raw bytes stored exactly at the raw key, one event per record,
// batching (one publish + one checkpoint per batch), the MessageProcessor hook (parsed
// JSON, attachments with hostile names, summary), retries on store and sink failures
// without loss, drain on stop, resume after a restart without skipping, and the thread's
// scheduling (SCHED_IDLE or niced).
#include "pipeline/pipeline.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <nlohmann/json.hpp>
#include <set>

#include "../spool/spool_test_util.h"
#include "core/sha256.h"
#include "store/memory/memory_blob_store.h"

namespace mx::pipeline {
namespace {

using nlohmann::json;
using spool::testing::commitSync;
using spool::testing::makeBody;
using spool::testing::makeEnvelope;
using spool::testing::TempDir;

// An EventSink that keeps what it is given, and can fail on demand.
class CapturingSink final : public events::EventSink {
 public:
  Status publish(std::span<const events::Event> batch) override {
    std::lock_guard l(mu_);
    ++calls_;
    if (fail_next_ > 0) {
      --fail_next_;
      return Error(ErrorClass::kTransientBackend, "sink down");
    }
    for (const auto& e : batch) events_.push_back(e);
    ++batches_;
    return okStatus();
  }
  std::vector<events::Event> events() const {
    std::lock_guard l(mu_);
    return events_;
  }
  int batches() const {
    std::lock_guard l(mu_);
    return batches_;
  }
  void failNext(int n) {
    std::lock_guard l(mu_);
    fail_next_ = n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<events::Event> events_;
  int calls_ = 0, batches_ = 0, fail_next_ = 0;
};

PipelineOptions fastOptions() {
  PipelineOptions o;
  o.hostname = "testhost";
  o.retry_initial = Millis(1);
  o.retry_max = Millis(5);
  o.idle_wait = Millis(10);
  o.log = [](std::string_view) {};
  return o;
}

std::unique_ptr<spool::Spool> openSpool(const std::string& dir, size_t lanes = 1) {
  auto s = spool::Spool::open(spool::testing::testOptions(dir, lanes));
  EXPECT_TRUE(s.ok());
  return std::move(*s);
}

std::string rawKeyOf(const Envelope& e) {
  return store::KeyLayout().raw(e.tenant, e.received_at, e.id);
}

TEST(Pipeline, StoresRawPublishesEventsAndCheckpoints) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  {
    auto spool = openSpool(t.path(), 2);
    for (uint64_t i = 0; i < 25; ++i) {
      ASSERT_TRUE(commitSync(spool->lane(i % 2), makeEnvelope(i), makeBody(i, 100 + i * 37)).ok());
    }
    auto o = fastOptions();
    o.batch_max = 10;
    Pipeline p(spool->reader(), blobs, sink, nullptr, o);
    ASSERT_TRUE(p.runUntilIdle().ok());
    auto c = p.counters();
    EXPECT_EQ(c.processed, 25u);
    EXPECT_EQ(c.batches, 3u);  // 10 + 10 + 5
    EXPECT_EQ(c.failures, 0u);
  }
  EXPECT_EQ(sink.batches(), 3);
  auto evs = sink.events();
  ASSERT_EQ(evs.size(), 25u);
  std::set<std::string> ids;
  for (const auto& ev : evs) {
    json j = json::parse(ev.json);
    EXPECT_EQ(j["id"], ev.id);
    EXPECT_EQ(j["source"], "mxgate://testhost/smtp");
    EXPECT_TRUE(j["data"]["summary"].is_null());
    EXPECT_TRUE(j["data"]["storage"]["parsed"].is_null());
    ids.insert(ev.id);
  }
  EXPECT_EQ(ids.size(), 25u);
  for (uint64_t i = 0; i < 25; ++i) {
    Envelope e = makeEnvelope(i);
    auto got = blobs.get(rawKeyOf(e));
    ASSERT_TRUE(got.ok()) << rawKeyOf(e);
    EXPECT_EQ(*got, makeBody(i, 100 + i * 37));
    // The event for this id carries the right size, hash and key.
    for (const auto& ev : evs) {
      if (ev.id != e.id.toString()) continue;
      json d = json::parse(ev.json)["data"];
      EXPECT_EQ(d["size"], 100 + i * 37);
      EXPECT_EQ(d["sha256"], sha256Hex(*got));
      EXPECT_EQ(d["storage"]["raw"], rawKeyOf(e));
      EXPECT_EQ(d["tenant"], e.tenant);
      EXPECT_EQ(d["envelope"]["client_port"], e.client_port);
    }
  }
  // Everything was checkpointed: a restart has nothing to do.
  auto spool = openSpool(t.path(), 2);
  auto r = spool->reader();
  EXPECT_TRUE(spool::testing::drain(*r).empty());
}

class FakeProcessor final : public MessageProcessor {
 public:
  Result<ProcessedMessage> process(std::string_view raw, const Envelope& envelope,
                                   std::string_view /*raw_sha256_hex*/) override {
    ++calls;
    if (fail) return Error(ErrorClass::kPermanentBackend, "boom");
    ProcessedMessage p;
    p.parsed_json = R"({"id":")" + envelope.id.toString() + R"(","size":)" + std::to_string(raw.size()) + "}";
    Attachment a;
    a.filename = "../../etc/passwd";
    a.content_type = "text/plain";
    a.content = std::string("owned bytes");
    p.attachments.push_back(std::move(a));
    Attachment b;
    b.filename = "invoice\xE2\x80\xAE" "fdp.exe";
    b.content_type = "application/octet-stream";
    b.content = raw.substr(0, 5);  // a view into the raw message
    p.attachments.push_back(std::move(b));
    p.summary_json = R"({"subject":"hello","attachment_count":2})";
    return p;
  }
  int calls = 0;
  bool fail = false;
};

TEST(Pipeline, ProcessorOutputIsStoredAndSummarised) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  FakeProcessor proc;
  auto spool = openSpool(t.path());
  Envelope e = makeEnvelope(1);
  ASSERT_TRUE(commitSync(spool->lane(0), e, "Subject: hello\r\n\r\nbody\r\n").ok());
  Pipeline p(spool->reader(), blobs, sink, &proc, fastOptions());
  ASSERT_TRUE(p.runUntilIdle().ok());
  EXPECT_EQ(proc.calls, 1);
  EXPECT_EQ(p.counters().attachments, 2u);
  std::string id = e.id.toString();
  std::string tenant = e.tenant;
  store::KeyLayout k;
  EXPECT_EQ(*blobs.get(k.parsed(tenant, e.received_at, e.id)), R"({"id":")" + id + R"(","size":24})");
  EXPECT_EQ(*blobs.get(tenant + "/attachments/" + id + "/1-passwd"), "owned bytes");
  EXPECT_EQ(*blobs.get(tenant + "/attachments/" + id + "/2-invoicefdp.exe"), "Subje");
  auto evs = sink.events();
  ASSERT_EQ(evs.size(), 1u);
  json d = json::parse(evs[0].json)["data"];
  EXPECT_EQ(d["storage"]["parsed"], k.parsed(tenant, e.received_at, e.id));
  EXPECT_EQ(d["storage"]["attachments"].size(), 2u);
  EXPECT_EQ(d["summary"]["subject"], "hello");
}

TEST(Pipeline, ProcessorErrorStillStoresRaw) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  FakeProcessor proc;
  proc.fail = true;
  auto spool = openSpool(t.path());
  ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(1), "x").ok());
  Pipeline p(spool->reader(), blobs, sink, &proc, fastOptions());
  ASSERT_TRUE(p.runUntilIdle().ok());
  EXPECT_EQ(p.counters().processor_errors, 1u);
  EXPECT_EQ(p.counters().processed, 1u);
  EXPECT_EQ(blobs.keys().size(), 1u);
  EXPECT_TRUE(json::parse(sink.events().at(0).json)["data"]["summary"].is_null());
}

TEST(Pipeline, StoreAndSinkFailuresAreRetriedWithoutLoss) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  auto spool = openSpool(t.path());
  for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(i), makeBody(i, 50)).ok());
  blobs.failNextPuts(5);
  sink.failNext(3);
  auto o = fastOptions();
  o.batch_max = 4;
  Pipeline p(spool->reader(), blobs, sink, nullptr, o);
  p.start();
  for (int i = 0; i < 5000 && p.counters().processed < 20; ++i) std::this_thread::sleep_for(Millis(2));
  p.stop();
  auto c = p.counters();
  EXPECT_EQ(c.processed, 20u);
  EXPECT_EQ(c.failures, 8u);
  std::set<std::string> ids;
  for (const auto& ev : sink.events()) ids.insert(ev.id);
  EXPECT_EQ(ids.size(), 20u);
  for (uint64_t i = 0; i < 20; ++i) EXPECT_EQ(*blobs.get(rawKeyOf(makeEnvelope(i))), makeBody(i, 50));
}

TEST(Pipeline, FailedStoreSyncReprocessesTheBatch) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  auto spool = openSpool(t.path(), 2);
  for (uint64_t i = 0; i < 30; ++i) {
    ASSERT_TRUE(commitSync(spool->lane(i % 2), makeEnvelope(i), makeBody(i, i % 5 ? 50 : 3000)).ok());
  }
  blobs.failNextSyncs(3);
  auto o = fastOptions();
  o.batch_max = 8;
  Pipeline p(spool->reader(), blobs, sink, nullptr, o);
  p.start();
  for (int i = 0; i < 5000 && p.counters().processed < 30; ++i) std::this_thread::sleep_for(Millis(2));
  p.stop();
  EXPECT_EQ(p.counters().processed, 30u);
  EXPECT_EQ(p.counters().failures, 3u);
  for (uint64_t i = 0; i < 30; ++i) {
    auto got = blobs.get(rawKeyOf(makeEnvelope(i)));
    ASSERT_TRUE(got.ok()) << i;
    EXPECT_EQ(*got, makeBody(i, i % 5 ? 50 : 3000));
  }
  // No event was published for a batch whose objects were lost.
  EXPECT_EQ(sink.events().size(), 30u);
}

TEST(Pipeline, StopDrainsEverythingDurable) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  auto spool = openSpool(t.path(), 2);
  Pipeline p(spool->reader(), blobs, sink, nullptr, fastOptions());
  p.start();
  for (uint64_t i = 0; i < 200; ++i) ASSERT_TRUE(commitSync(spool->lane(i % 2), makeEnvelope(i), makeBody(i, 10)).ok());
  p.stop();
  EXPECT_EQ(p.counters().processed, 200u);
  EXPECT_EQ(blobs.keys().size(), 200u);
}

// Records the scheduling policy and nice value of the thread that processes messages.
class PolicyProbe final : public MessageProcessor {
 public:
  Result<ProcessedMessage> process(std::string_view, const Envelope&, std::string_view) override {
    policy.store(sched_getscheduler(0));  // Linux: 0 is the calling thread
    errno = 0;
    nice.store(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())));
    return ProcessedMessage{};
  }
  std::atomic<int> policy{-1}, nice{-100};
};

TEST(Pipeline, RunsUnderSchedIdleOrNicedAsConfigured) {
  for (bool idle : {true, false}) {
    TempDir t;
    store::MemoryBlobStore blobs;
    CapturingSink sink;
    auto spool = openSpool(t.path());
    PolicyProbe probe;
    PipelineOptions o = fastOptions();
    o.sched_idle = idle;
    o.nice = 5;
    int base_nice = getpriority(PRIO_PROCESS, 0);
    Pipeline p(spool->reader(), blobs, sink, &probe, o);
    p.start();
    ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(1), makeBody(1, 10)).ok());
    p.stop();
    ASSERT_EQ(p.counters().processed, 1u);
    if (idle) {
      EXPECT_EQ(probe.policy.load(), SCHED_IDLE);
    } else {
      EXPECT_EQ(probe.policy.load(), SCHED_OTHER);
      EXPECT_EQ(probe.nice.load(), std::min(base_nice + 5, 19));
    }
    // The caller's thread is untouched.
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
    EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), base_nice);
  }
}

TEST(Pipeline, FailureWhileDrainingLeavesRecordForNextStart) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  {
    auto spool = openSpool(t.path());
    for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(i), "m").ok());
    blobs.failNextPuts(1000);
    Pipeline p(spool->reader(), blobs, sink, nullptr, fastOptions());
    EXPECT_FALSE(p.runUntilIdle().ok());
    EXPECT_EQ(p.counters().processed, 0u);
  }
  blobs.failNextPuts(0);
  auto spool = openSpool(t.path());
  Pipeline p(spool->reader(), blobs, sink, nullptr, fastOptions());
  ASSERT_TRUE(p.runUntilIdle().ok());
  EXPECT_EQ(p.counters().processed, 3u);
  EXPECT_EQ(blobs.keys().size(), 3u);
}

TEST(Pipeline, ResumesAfterRestartWithoutSkipping) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  {
    auto spool = openSpool(t.path());
    for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(i), "a").ok());
    Pipeline p(spool->reader(), blobs, sink, nullptr, fastOptions());
    ASSERT_TRUE(p.runUntilIdle().ok());
    for (uint64_t i = 10; i < 15; ++i) ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(i), "b").ok());
  }
  auto spool = openSpool(t.path());
  Pipeline p(spool->reader(), blobs, sink, nullptr, fastOptions());
  ASSERT_TRUE(p.runUntilIdle().ok());
  EXPECT_EQ(p.counters().processed, 5u);
  EXPECT_EQ(blobs.keys().size(), 15u);
  EXPECT_EQ(sink.events().size(), 15u);
}

}  // namespace
}  // namespace mx::pipeline
