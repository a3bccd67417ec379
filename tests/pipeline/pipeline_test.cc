// Tests for the pipeline: MessageHandler (raw bytes stored exactly at the raw key, the
// processor given the keys once and its refs naming the stored objects, processor errors
// not failing the message) and SpoolConsumer (one event per record, batching, retries by
// error class with backoff and jitter, quarantine of permanent failures and of transient
// ones past the bound, the retry inbox while running, a dead sink not blocking the
// checkpoint, store-sync failure, drain on stop, resume after a restart, scheduling) over a
// real spool, a real quarantine directory and a real dead-letter file.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/sha256.h"
#include "events/cloud_event.h"
#include "events/outbox/outbox.h"
#include "pipeline/mime_processor.h"
#include "pipeline_test_util.h"
#include "store/memory/memory_blob_store.h"

namespace mx::pipeline {
namespace {

using nlohmann::json;
using spool::testing::commitSync;
using spool::testing::makeBody;
using spool::testing::makeEnvelope;
using spool::testing::TempDir;
using namespace mx::pipeline::testing;

std::string rawKeyOf(const Envelope& e) { return store::KeyLayout().raw(e.tenant, e.received_at, e.id); }

template <typename F>
bool waitUntil(F pred, Millis timeout = Millis(20000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(Millis(2));
  }
  return pred();
}

TEST(Pipeline, StoresRawPublishesEventsAndCheckpoints) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  {
    auto o = fastOptions();
    o.batch_max = 10;
    Rig rig(t.path(), blobs, sink, nullptr, o, 2);
    for (uint64_t i = 0; i < 25; ++i) {
      ASSERT_TRUE(commitSync(rig.spool->lane(i % 2), makeEnvelope(i), makeBody(i, 100 + i * 37)).ok());
    }
    ASSERT_TRUE(rig.consumer->runUntilIdle().ok());
    EXPECT_EQ(get(rig.metrics.records_processed), 25u);
    EXPECT_EQ(get(rig.metrics.batches), 3u);  // 10 + 10 + 5
    EXPECT_EQ(get(rig.metrics.failures_transient) + get(rig.metrics.failures_permanent), 0u);
    EXPECT_EQ(sink.ids().size(), 25u);
    EXPECT_EQ(get(rig.metrics.objects_stored), 25u);
    EXPECT_EQ(rig.metrics.store_sync_seconds.count(), 3u);
    EXPECT_EQ(rig.metrics.publish_seconds.count(), 3u);
    EXPECT_EQ(rig.metrics.store_seconds.count(), 25u);
    EXPECT_EQ(rig.metrics.oldest_pending_unix_ms.load(), 0);  // nothing held once drained
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
  auto spool = openSpool(t.path() + "/spool", 2);
  auto r = spool->reader();
  EXPECT_TRUE(spool::testing::drain(*r).empty());
}

class FakeProcessor final : public MessageProcessor {
 public:
  Result<ProcessedMessage> process(std::string_view raw, const Envelope& envelope, const MessageKeys& keys,
                                   std::string_view /*raw_sha256_hex*/) override {
    ++calls;
    seen_raw_key = keys.raw;
    seen_parsed_key = keys.parsed;
    if (fail) return Error(ErrorClass::kPermanentBackend, "boom");
    ProcessedMessage p;
    p.parsed_json = R"({"id":")" + envelope.id.toString() + R"(","size":)" + std::to_string(raw.size()) + "}";
    Attachment a;
    a.filename = "../../etc/passwd";
    a.content_type = "text/plain";
    a.content = std::string("owned bytes");
    a.key = keys.attachment(1, a.filename);  // as the MIME processor does
    p.attachments.push_back(std::move(a));
    Attachment b;
    b.filename = "invoice\xE2\x80\xAE" "fdp.exe";
    b.content_type = "application/octet-stream";
    b.content = raw.substr(0, 5);  // a view into the raw message; key left to the handler
    p.attachments.push_back(std::move(b));
    p.summary_json = R"({"subject":"hello","attachment_count":2})";
    return p;
  }
  int calls = 0;
  bool fail = false;
  std::string seen_raw_key, seen_parsed_key;
};

TEST(MessageHandler, ProcessorGetsTheKeysAndItsOutputIsStored) {
  store::MemoryBlobStore blobs;
  FakeProcessor proc;
  PipelineMetrics metrics;
  MessageHandler h(blobs, &proc, {"testhost", "", [](std::string_view) {}}, metrics);
  Envelope e = makeEnvelope(1);
  std::string raw = "Subject: hello\r\n\r\nbody\r\n";
  auto ev = h.handle(raw, e);
  ASSERT_TRUE(ev.ok());
  ASSERT_TRUE(h.syncObjects().ok());
  EXPECT_EQ(proc.calls, 1);
  store::KeyLayout k;
  std::string id = e.id.toString();
  EXPECT_EQ(proc.seen_raw_key, k.raw(e.tenant, e.received_at, e.id));
  EXPECT_EQ(proc.seen_parsed_key, k.parsed(e.tenant, e.received_at, e.id));
  EXPECT_EQ(*blobs.get(proc.seen_raw_key), raw);
  EXPECT_EQ(*blobs.get(proc.seen_parsed_key), R"({"id":")" + id + R"(","size":24})");
  EXPECT_EQ(*blobs.get(e.tenant + "/attachments/" + id + "/1-passwd"), "owned bytes");
  EXPECT_EQ(*blobs.get(e.tenant + "/attachments/" + id + "/2-invoicefdp.exe"), "Subje");
  EXPECT_EQ(blobs.keys().size(), 4u);
  json d = json::parse(ev->json)["data"];
  EXPECT_EQ(d["storage"]["raw"], proc.seen_raw_key);
  EXPECT_EQ(d["storage"]["parsed"], proc.seen_parsed_key);
  ASSERT_EQ(d["storage"]["attachments"].size(), 2u);
  EXPECT_EQ(d["storage"]["attachments"][0], e.tenant + "/attachments/" + id + "/1-passwd");
  EXPECT_EQ(d["summary"]["subject"], "hello");
  EXPECT_EQ(get(metrics.attachments_stored), 2u);
  EXPECT_EQ(get(metrics.objects_stored), 4u);
  EXPECT_EQ(metrics.parse_seconds.count(), 1u);
}

TEST(MessageHandler, MimeProcessorRefsNameTheStoredObjectsUnderAPrefix) {
  // One KeyLayout (the handler's, with a prefix): the parsed document's refs, the event and
  // the stored objects agree without the processor being told the prefix.
  store::MemoryBlobStore blobs;
  MimeProcessor proc(MimeProcessorOptions{});
  PipelineMetrics metrics;
  MessageHandler h(blobs, &proc, {"testhost", "region-1/bucket", {}}, metrics);
  Envelope e = makeEnvelope(3);
  std::string raw =
      "From: a@example.org\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
      "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a b.pdf\"\r\n\r\n"
      "%PDF-1.4 data\r\n--b--\r\n";
  auto ev = h.handle(raw, e);
  ASSERT_TRUE(ev.ok());
  ASSERT_TRUE(h.syncObjects().ok());
  json d = json::parse(ev->json)["data"];
  std::string raw_key = d["storage"]["raw"];
  EXPECT_EQ(raw_key.rfind("region-1/bucket/" + e.tenant + "/raw/", 0), 0u) << raw_key;
  json doc = json::parse(*blobs.get(d["storage"]["parsed"].get<std::string>()));
  EXPECT_EQ(doc["raw"]["ref"], raw_key);
  ASSERT_EQ(doc["attachments"].size(), 1u);
  std::string att = doc["attachments"][0]["ref"];
  EXPECT_EQ(d["storage"]["attachments"][0], att);
  EXPECT_EQ(*blobs.get(att), "%PDF-1.4 data");
  EXPECT_EQ(*blobs.get(raw_key), raw);
}

TEST(MessageHandler, RawAlreadyStoredIsNotPutAgainAndTheTraceIsKept) {
  store::MemoryBlobStore blobs;
  FakeProcessor proc;
  PipelineMetrics metrics;
  MessageHandler h(blobs, &proc, {"testhost", "", [](std::string_view) {}}, metrics);
  Envelope e = makeEnvelope(2);
  HandleOptions o;
  o.raw_already_stored = true;
  o.traceparent = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";
  auto ev = h.handle("Subject: x\r\n\r\n", e, o);
  ASSERT_TRUE(ev.ok());
  ASSERT_TRUE(h.syncObjects().ok());
  store::KeyLayout k;
  EXPECT_FALSE(*blobs.exists(k.raw(e.tenant, e.received_at, e.id)));  // not written by us
  EXPECT_TRUE(*blobs.exists(k.parsed(e.tenant, e.received_at, e.id)));
  json ce = json::parse(ev->json);
  EXPECT_EQ(ce["traceparent"], o.traceparent);
  EXPECT_EQ(ce["data"]["storage"]["raw"], k.raw(e.tenant, e.received_at, e.id));
  EXPECT_EQ(get(metrics.raw_bytes_stored), 0u);
  // Without options: the message's own trace.
  auto plain = h.handle("Subject: x\r\n\r\n", e);
  EXPECT_EQ(json::parse(plain->json)["traceparent"], events::traceparentOf(e.id));
}

TEST(MessageHandler, ProcessorErrorStillStoresRawAndReportsNoFailure) {
  store::MemoryBlobStore blobs;
  FakeProcessor proc;
  proc.fail = true;
  PipelineMetrics metrics;
  std::vector<std::string> logs;
  MessageHandler h(blobs, &proc, {"testhost", "", [&](std::string_view l) { logs.emplace_back(l); }}, metrics);
  auto ev = h.handle("x", makeEnvelope(1));
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(get(metrics.processor_errors), 1u);
  ASSERT_TRUE(h.syncObjects().ok());
  EXPECT_EQ(blobs.keys().size(), 1u);
  EXPECT_TRUE(json::parse(ev->json)["data"]["summary"].is_null());
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("boom"), std::string::npos);
}

TEST(MessageHandler, StoreErrorKeepsItsClassAndNamesTheKey) {
  store::MemoryBlobStore blobs;
  PipelineMetrics metrics;
  MessageHandler h(blobs, nullptr, {"testhost", "", {}}, metrics);
  blobs.failNextPuts(1, ErrorClass::kPermanentBackend);
  Envelope e = makeEnvelope(2);
  auto ev = h.handle("x", e);
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_NE(ev.error().message().find(rawKeyOf(e)), std::string::npos) << ev.error().message();
}

TEST(Pipeline, TransientStoreAndSinkFailuresAreRetriedWithoutLoss) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  auto o = fastOptions();
  o.batch_max = 4;
  Rig rig(t.path(), blobs, sink, nullptr, o);
  for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(i), makeBody(i, 50)).ok());
  blobs.failNextPuts(5);
  sink.failNext(3);
  rig.consumer->start();
  ASSERT_TRUE(waitUntil([&] { return get(rig.metrics.records_processed) == 20; }));
  rig.consumer->stop();
  // 5 failed puts and 3 failed publishes (a bare sink: the consumer retries it itself).
  EXPECT_EQ(get(rig.metrics.failures_transient), 8u);
  EXPECT_EQ(get(rig.metrics.records_quarantined), 0u);
  EXPECT_EQ(sink.ids().size(), 20u);
  for (uint64_t i = 0; i < 20; ++i) EXPECT_EQ(*blobs.get(rawKeyOf(makeEnvelope(i))), makeBody(i, 50));
  EXPECT_TRUE(rig.quarantine->list()->empty());
}

TEST(Pipeline, PermanentStoreFailureGoesToQuarantineAndTheConsumerMovesOn) {
  TempDir t;
  store::MemoryBlobStore mem;
  RefusingStore blobs(mem);
  CapturingSink sink;
  ManualClock clock;
  ClockWaiter waiter(clock);
  auto o = fastOptions();
  o.batch_max = 3;
  o.clock = &clock;
  o.waiter_for_test = &waiter;
  std::vector<std::string> logs;
  std::mutex logs_mu;
  o.log = [&](std::string_view l) {
    std::lock_guard g(logs_mu);
    logs.emplace_back(l);
  };
  Rig rig(t.path(), blobs, sink, nullptr, o);
  Envelope bad = makeEnvelope(4);
  const std::string bad_key = rawKeyOf(bad);
  blobs.setRefuse([&](std::string_view k) { return k == bad_key; });
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(i), makeBody(i, 80)).ok());
  ASSERT_TRUE(rig.consumer->runUntilIdle().ok());
  EXPECT_EQ(get(rig.metrics.records_processed), 9u);
  EXPECT_EQ(get(rig.metrics.records_quarantined), 1u);
  EXPECT_EQ(get(rig.metrics.failures_permanent), 1u);
  EXPECT_EQ(blobs.refusals(), 1);  // not retried
  EXPECT_TRUE(waiter.delays().empty());
  EXPECT_EQ(sink.ids().size(), 9u);
  EXPECT_EQ(sink.ids().count(bad.id.toString()), 0u);
  // The entry: the envelope exactly, the raw bytes exactly, why, when, how often.
  auto list = rig.quarantine->list();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  const QuarantineEntry& q = (*list)[0];
  EXPECT_FALSE(q.damaged);
  EXPECT_EQ(q.id, bad.id.toString());
  EXPECT_EQ(q.envelope, bad);
  EXPECT_EQ(q.size, 80u);
  EXPECT_EQ(q.failure.error_class, ErrorClass::kPermanentBackend);
  EXPECT_NE(q.failure.reason.find("object refused: " + bad_key), std::string::npos) << q.failure.reason;
  EXPECT_EQ(q.failure.attempts, 1u);
  EXPECT_EQ(q.failure.first_failure, clock.wall());
  EXPECT_EQ(q.origin.rfind("spool lane 0 sequence ", 0), 0u) << q.origin;
  ASSERT_TRUE(rig.quarantine->retry(q.id).ok());
  auto loaded = rig.quarantine->loadRetry(q.name);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->raw, makeBody(4, 80));
  // One log line for the decision and one for the entry, naming the class and the id.
  int lines = 0;
  for (const auto& l : logs) {
    if (l.find(bad.id.toString()) == std::string::npos) continue;
    ++lines;
    if (l.find("failed (") != std::string::npos) {
      EXPECT_NE(l.find("permanent_backend"), std::string::npos) << l;
      EXPECT_NE(l.find("quarantining"), std::string::npos) << l;
    }
  }
  EXPECT_EQ(lines, 2);
  // The quarantined record was checkpointed with its batch: a restart does not see it again.
  rig.consumer.reset();
  rig.spool.reset();
  auto spool = openSpool(t.path() + "/spool");
  auto r = spool->reader();
  EXPECT_TRUE(spool::testing::drain(*r).empty());
}

TEST(Pipeline, TransientFailureIsRetriedWithJitteredBackoffThenQuarantinedPastTheBound) {
  TempDir t;
  store::MemoryBlobStore mem;
  RefusingStore blobs(mem);
  CapturingSink sink;
  ManualClock clock;
  ClockWaiter waiter(clock);
  auto o = fastOptions();
  o.clock = &clock;
  o.waiter_for_test = &waiter;
  o.retry.backoff = {Millis(100), Millis(2000)};
  o.retry.give_up_after = Millis(10000);
  Rig rig(t.path(), blobs, sink, nullptr, o);
  Envelope stuck = makeEnvelope(1);
  const std::string stuck_key = rawKeyOf(stuck);
  blobs.setRefuse([&](std::string_view k) { return k == stuck_key; }, ErrorClass::kTransientBackend);
  const WallTime t0 = clock.wall();
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(i), makeBody(i, 30)).ok());
  rig.consumer->start();
  ASSERT_TRUE(waitUntil([&] { return get(rig.metrics.records_processed) == 2 && get(rig.metrics.records_quarantined) == 1; }));
  rig.consumer->stop();
  // Delays double from 100 ms up to 2 s, each drawn from [d/2, d]; the jitter varies them.
  auto delays = waiter.delays();
  ASSERT_GE(delays.size(), 8u);
  Millis total{0};
  std::set<int64_t> distinct;
  for (size_t i = 0; i < delays.size(); ++i) {
    int64_t d = std::min<int64_t>(100ll << std::min<size_t>(i, 5), 2000);
    EXPECT_GE(delays[i].count(), d / 2) << i;
    EXPECT_LE(delays[i].count(), d) << i;
    total += delays[i];
    distinct.insert(delays[i].count());
  }
  EXPECT_GT(distinct.size(), 3u);
  EXPECT_GE(total, Millis(10000));                  // kept retrying until the bound ...
  EXPECT_LT(total - delays.back(), Millis(10000));  // ... and not one wait beyond it
  EXPECT_EQ(get(rig.metrics.failures_transient), delays.size() + 1);
  auto list = rig.quarantine->list();
  ASSERT_EQ(list->size(), 1u);
  const auto& q = (*list)[0];
  EXPECT_EQ(q.id, stuck.id.toString());
  EXPECT_EQ(q.failure.error_class, ErrorClass::kTransientBackend);
  EXPECT_EQ(q.failure.attempts, delays.size() + 1);
  EXPECT_EQ(q.failure.first_failure, t0);
  EXPECT_EQ(q.failure.last_failure, t0 + total);
  EXPECT_NE(q.failure.reason.find("gave up after " + std::to_string(delays.size() + 1) + " attempts"), std::string::npos)
      << q.failure.reason;
  EXPECT_NE(q.failure.reason.find("object refused"), std::string::npos);
  EXPECT_EQ(sink.ids().size(), 2u);
}

TEST(Pipeline, TransientFailureWithinTheBoundIsNotQuarantined) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  ManualClock clock;
  ClockWaiter waiter(clock);
  auto o = fastOptions();
  o.clock = &clock;
  o.waiter_for_test = &waiter;
  o.retry.backoff = {Millis(100), Millis(2000)};
  o.retry.give_up_after = Millis(60000);
  Rig rig(t.path(), blobs, sink, nullptr, o);
  ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(1), "m").ok());
  blobs.failNextPuts(12);  // ~16 s of backoff: inside the bound
  rig.consumer->start();
  ASSERT_TRUE(waitUntil([&] { return get(rig.metrics.records_processed) == 1; }));
  rig.consumer->stop();
  EXPECT_EQ(waiter.delays().size(), 12u);
  EXPECT_EQ(get(rig.metrics.records_quarantined), 0u);
  EXPECT_TRUE(rig.quarantine->list()->empty());
}

TEST(Pipeline, GiveUpAfterZeroRetriesForever) {
  ManualClock clock;
  PipelineMetrics metrics;
  FailurePolicy policy({{Millis(10), Millis(100)}, Millis(0)}, clock, nullptr, metrics, [](std::string_view) {});
  auto st = policy.begin();
  Error e(ErrorClass::kTransientBackend, "down");
  for (int i = 0; i < 10000; ++i) {
    ASSERT_EQ(policy.onMessageFailure(e, "message x", st).action, Action::kRetry);
    clock.advance(Millis(3600'000));
  }
  Error p(ErrorClass::kResource, "too large for the store");
  EXPECT_EQ(policy.onMessageFailure(p, "message x", st).action, Action::kQuarantine);
}

TEST(Pipeline, FailedStoreSyncReprocessesTheBatchButNotItsQuarantinedRecords) {
  TempDir t;
  store::MemoryBlobStore mem;
  RefusingStore blobs(mem);
  CapturingSink sink;
  auto o = fastOptions();
  o.batch_max = 8;
  Rig rig(t.path(), blobs, sink, nullptr, o, 2);
  for (uint64_t i = 0; i < 30; ++i) {
    ASSERT_TRUE(commitSync(rig.spool->lane(i % 2), makeEnvelope(i), makeBody(i, i % 5 ? 50 : 3000)).ok());
  }
  const std::string bad_key = rawKeyOf(makeEnvelope(3));
  blobs.setRefuse([&](std::string_view k) { return k == bad_key; });
  mem.failNextSyncs(3);
  rig.consumer->start();
  ASSERT_TRUE(waitUntil([&] { return get(rig.metrics.records_processed) == 29; }));
  rig.consumer->stop();
  EXPECT_EQ(get(rig.metrics.failures_transient), 3u);  // the syncs
  EXPECT_EQ(get(rig.metrics.records_quarantined), 1u);
  EXPECT_EQ(blobs.refusals(), 1);  // read again after the rewinds, but not handled again
  for (uint64_t i = 0; i < 30; ++i) {
    auto got = mem.get(rawKeyOf(makeEnvelope(i)));
    if (i == 3) {
      EXPECT_FALSE(got.ok());
      continue;
    }
    ASSERT_TRUE(got.ok()) << i;
    EXPECT_EQ(*got, makeBody(i, i % 5 ? 50 : 3000));
  }
  // No event was published for a batch whose objects were lost.
  EXPECT_EQ(sink.events().size(), 29u);
  EXPECT_EQ(rig.quarantine->list()->size(), 1u);
}

TEST(Pipeline, ConsecutiveStoreSyncFailuresBackOffMoreAndMore) {
  // A store that refuses every batch for a while (S3 down, a wrong secret) is not re-sent at
  // the first backoff step each time: the delay grows across consecutive failed syncs, and
  // starts again from the first step after a sync that succeeds.
  TempDir t;
  store::MemoryBlobStore mem;
  CapturingSink sink;
  ManualClock clock;
  ClockWaiter waiter(clock);
  auto o = fastOptions();
  o.retry.backoff = {Millis(10), Millis(1000)};
  o.random = [] { return uint64_t{0}; };  // the lower end of each step's jitter range
  o.clock = &clock;
  o.waiter_for_test = &waiter;
  o.batch_max = 4;
  Rig rig(t.path(), mem, sink, nullptr, o);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(i), makeBody(i, 50)).ok());
  mem.failNextSyncs(5);
  rig.consumer->start();
  ASSERT_TRUE(waitUntil([&] { return get(rig.metrics.records_processed) == 4; }));
  rig.consumer->stop();
  EXPECT_EQ(get(rig.metrics.failures_transient), 5u);
  auto d = waiter.delays();
  ASSERT_GE(d.size(), 5u);
  for (size_t i = 1; i < 5; ++i) EXPECT_GT(d[i], d[i - 1]) << i;
}

TEST(Pipeline, QuarantineRetryWhileRunningStoresAndPublishes) {
  TempDir t;
  store::MemoryBlobStore mem;
  RefusingStore blobs(mem);
  CapturingSink sink;
  Rig rig(t.path(), blobs, sink, nullptr);
  Envelope bad = makeEnvelope(7);
  const std::string bad_key = rawKeyOf(bad);
  blobs.setRefuse([&](std::string_view k) { return k == bad_key; });
  rig.consumer->start();
  for (uint64_t i = 5; i < 9; ++i) ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(i), makeBody(i, 64)).ok());
  ASSERT_TRUE(waitUntil([&] { return get(rig.metrics.records_quarantined) == 1 && get(rig.metrics.records_processed) == 3; }));
  auto first = rig.quarantine->list();
  ASSERT_EQ(first->size(), 1u);

  // Not fixed yet: the retry fails for good again and comes back with its history.
  ASSERT_TRUE(rig.quarantine->retry(bad.id.toString()).ok());
  EXPECT_FALSE(rig.quarantine->retry(bad.id.toString()).ok());  // already in the inbox (or back)
  ASSERT_TRUE(waitUntil([&] {
    auto l = rig.quarantine->list();
    return l.ok() && l->size() == 1 && (*l)[0].retries == 1 && rig.quarantine->inbox()->empty();
  }));
  auto again = rig.quarantine->list();
  const auto& q = (*again)[0];
  EXPECT_EQ(q.failure.attempts, 2u);
  EXPECT_EQ(q.failure.first_failure, (*first)[0].failure.first_failure);
  EXPECT_GE(q.failure.last_failure, (*first)[0].failure.last_failure);
  EXPECT_EQ(q.origin, "retry");
  EXPECT_EQ(get(rig.metrics.records_quarantined), 2u);
  EXPECT_EQ(get(rig.metrics.retries_processed), 0u);

  // Fixed: the retry is stored and published, and leaves neither the quarantine nor the inbox.
  blobs.setRefuse(nullptr);
  auto moved = rig.quarantine->retryAll();
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, std::vector<std::string>{bad.id.toString()});
  ASSERT_TRUE(waitUntil([&] { return get(rig.metrics.retries_processed) == 1; }));
  rig.consumer->stop();
  EXPECT_EQ(*mem.get(bad_key), makeBody(7, 64));
  EXPECT_EQ(sink.ids().count(bad.id.toString()), 1u);
  EXPECT_EQ(sink.ids().size(), 4u);
  EXPECT_TRUE(rig.quarantine->list()->empty());
  EXPECT_TRUE(rig.quarantine->inbox()->empty());
}

TEST(Pipeline, RetryInboxIsTakenAtTheNextStart) {
  TempDir t;
  store::MemoryBlobStore mem;
  RefusingStore blobs(mem);
  CapturingSink sink;
  Envelope bad = makeEnvelope(2);
  {
    Rig rig(t.path(), blobs, sink, nullptr);
    const std::string bad_key = rawKeyOf(bad);
    blobs.setRefuse([&](std::string_view k) { return k == bad_key; });
    ASSERT_TRUE(commitSync(rig.spool->lane(0), bad, "late").ok());
    ASSERT_TRUE(rig.consumer->runUntilIdle().ok());
    ASSERT_EQ(rig.quarantine->list()->size(), 1u);
  }
  // No server running: the CLI's retry only moves the entry into the inbox.
  {
    auto q = Quarantine::open({t.path() + "/spool/quarantine"});
    ASSERT_TRUE(q.ok());
    ASSERT_TRUE((*q)->retry(bad.id.toString()).ok());
  }
  blobs.setRefuse(nullptr);
  Rig rig(t.path(), blobs, sink, nullptr);
  ASSERT_TRUE(rig.consumer->runUntilIdle().ok());
  EXPECT_EQ(get(rig.metrics.retries_processed), 1u);
  EXPECT_EQ(*mem.get(rawKeyOf(bad)), "late");
  EXPECT_EQ(sink.ids().count(bad.id.toString()), 1u);
  EXPECT_TRUE(rig.quarantine->inbox()->empty());
}

TEST(Pipeline, ADeadSinkDoesNotBlockTheCheckpoint) {
  // The production assembly: the pipeline publishes into the outbox, whose dispatcher
  // dead-letters what the sink refuses; the spool is checkpointed either way.
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  sink.refuseAll(true);
  auto o = fastOptions();
  o.batch_max = 5;
  {
    events::OutboxOptions oo;
    oo.dir = t.path() + "/outbox";
    oo.log = [](std::string_view) {};
    auto outbox = events::Outbox::open(oo, {{"app", &sink, nullptr, {}}});
    ASSERT_TRUE(outbox.ok());
    Rig rig(t.path(), blobs, **outbox, nullptr, o);
    for (uint64_t i = 0; i < 12; ++i) ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(i), "m").ok());
    ASSERT_TRUE(rig.consumer->runUntilIdle().ok());
    EXPECT_EQ(get(rig.metrics.records_processed), 12u);
    (*outbox)->dispatcher(0).runUntilIdle(Millis(5000));
    EXPECT_EQ((*outbox)->metrics(0).dead_lettered.load(), 12u);
    EXPECT_EQ((*outbox)->status(0).depth, 0u);
  }
  std::ifstream in(t.path() + "/outbox/app/dead-letters.jsonl");
  std::string line;
  std::set<std::string> ids;
  while (std::getline(in, line)) ids.insert(json::parse(line)["event"]["id"].get<std::string>());
  EXPECT_EQ(ids.size(), 12u);
  auto spool = openSpool(t.path() + "/spool");
  auto r = spool->reader();
  EXPECT_TRUE(spool::testing::drain(*r).empty());  // checkpointed
}

TEST(Pipeline, OldestPendingGaugeShowsTheRecordBeingRetried) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  auto o = fastOptions();
  o.retry.backoff = {Millis(1), Millis(2)};
  Rig rig(t.path(), blobs, sink, nullptr, o);
  Envelope e = makeEnvelope(9);
  ASSERT_TRUE(commitSync(rig.spool->lane(0), e, "m").ok());
  blobs.failNextPuts(1000000);
  rig.consumer->start();
  ASSERT_TRUE(waitUntil([&] { return get(rig.metrics.failures_transient) > 3; }));
  EXPECT_EQ(rig.metrics.oldest_pending_unix_ms.load(), unixMillis(e.received_at));
  blobs.failNextPuts(0);
  ASSERT_TRUE(waitUntil([&] { return get(rig.metrics.records_processed) == 1; }));
  ASSERT_TRUE(waitUntil([&] { return rig.metrics.oldest_pending_unix_ms.load() == 0; }));
  rig.consumer->stop();
}

TEST(Pipeline, StopDrainsEverythingDurable) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  Rig rig(t.path(), blobs, sink, nullptr, fastOptions(), 2);
  rig.consumer->start();
  for (uint64_t i = 0; i < 200; ++i) ASSERT_TRUE(commitSync(rig.spool->lane(i % 2), makeEnvelope(i), makeBody(i, 10)).ok());
  rig.consumer->stop();
  EXPECT_EQ(get(rig.metrics.records_processed), 200u);
  EXPECT_EQ(blobs.keys().size(), 200u);
}

// Records the scheduling policy and nice value of the thread that processes messages.
class PolicyProbe final : public MessageProcessor {
 public:
  Result<ProcessedMessage> process(std::string_view, const Envelope&, const MessageKeys&, std::string_view) override {
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
    PolicyProbe probe;
    auto o = fastOptions();
    o.sched_idle = idle;
    o.nice = 5;
    int base_nice = getpriority(PRIO_PROCESS, 0);
    Rig rig(t.path(), blobs, sink, &probe, o);
    rig.consumer->start();
    ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(1), makeBody(1, 10)).ok());
    // Processed while running (a record left for the drain runs under SCHED_OTHER: below).
    for (int i = 0; i < 2000 && get(rig.metrics.records_processed) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(get(rig.metrics.records_processed), 1u);
    rig.consumer->stop();
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

// SIGTERM's drain must finish on a busy machine: the consumer leaves SCHED_IDLE once asked
// to stop, so a record still pending then is processed under SCHED_OTHER.
TEST(Pipeline, DrainLeavesSchedIdle) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  PolicyProbe probe;
  events::StopWaiter waiter;
  auto o = fastOptions();
  o.sched_idle = true;
  o.stop_waiter = &waiter;
  Rig rig(t.path(), blobs, sink, &probe, o);
  ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(1), makeBody(1, 10)).ok());
  waiter.requestStop();  // stop asked before the thread ever ran: all of its work is drain
  rig.consumer->start();
  rig.consumer->stop();
  ASSERT_EQ(get(rig.metrics.records_processed), 1u);
  EXPECT_EQ(probe.policy.load(), SCHED_OTHER);
}

TEST(Pipeline, TransientFailureWhileDrainingLeavesRecordForNextStart) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  {
    Rig rig(t.path(), blobs, sink, nullptr);
    for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(i), "m").ok());
    blobs.failNextPuts(1000);
    EXPECT_FALSE(rig.consumer->runUntilIdle().ok());
    EXPECT_EQ(get(rig.metrics.records_processed), 0u);
    EXPECT_TRUE(rig.quarantine->list()->empty());  // a transient failure is not quarantined on the way out
  }
  blobs.failNextPuts(0);
  Rig rig(t.path(), blobs, sink, nullptr);
  ASSERT_TRUE(rig.consumer->runUntilIdle().ok());
  EXPECT_EQ(get(rig.metrics.records_processed), 3u);
  EXPECT_EQ(blobs.keys().size(), 3u);
}

TEST(Pipeline, ResumesAfterRestartWithoutSkipping) {
  TempDir t;
  store::MemoryBlobStore blobs;
  CapturingSink sink;
  {
    Rig rig(t.path(), blobs, sink, nullptr);
    for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(i), "a").ok());
    ASSERT_TRUE(rig.consumer->runUntilIdle().ok());
    for (uint64_t i = 10; i < 15; ++i) ASSERT_TRUE(commitSync(rig.spool->lane(0), makeEnvelope(i), "b").ok());
  }
  Rig rig(t.path(), blobs, sink, nullptr);
  ASSERT_TRUE(rig.consumer->runUntilIdle().ok());
  EXPECT_EQ(get(rig.metrics.records_processed), 5u);
  EXPECT_EQ(blobs.keys().size(), 15u);
  EXPECT_EQ(sink.events().size(), 15u);
}

}  // namespace
}  // namespace mx::pipeline
