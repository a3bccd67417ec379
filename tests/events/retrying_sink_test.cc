// Tests for the sink decorator and its helpers: the error-class table, exponential backoff
// with equal jitter (bounds, injected randomness), transient failures retried until the sink
// takes the batch (no sleeping: a recording Waiter), a stop request ending the wait, and
// permanent refusals: only the refused events of a batch go to the dead-letter file (real
// file, parsed back), the rest are delivered, and publish() succeeds so the caller can
// checkpoint; a sink that refuses everything cannot block it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/clock.h"
#include "events/dead_letter.h"
#include "events/retry.h"
#include "events/retrying_sink.h"

namespace mx::events {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "mxevents-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Records the delays asked for; says stop after `stop_after` waits (never by default).
class RecordingWaiter final : public Waiter {
 public:
  bool waitFor(Millis d) override {
    delays.push_back(d);
    return stop_after < 0 || static_cast<int>(delays.size()) <= stop_after;
  }
  std::vector<Millis> delays;
  int stop_after = -1;
};

// A sink scripted per call: the first `transient` calls fail transiently; events whose id is
// in `refuse` make any batch holding them fail with `refuse_class`.
class ScriptedSink final : public EventSink {
 public:
  Status publish(std::span<const Event> batch) override {
    ++calls;
    if (transient > 0) {
      --transient;
      return Error(ErrorClass::kTransientBackend, "connection reset");
    }
    for (const auto& e : batch) {
      if (refuse.count(e.id)) return Error(refuse_class, "413 payload rejected for " + e.id);
    }
    for (const auto& e : batch) delivered.push_back(e.id);
    return okStatus();
  }
  int calls = 0;
  int transient = 0;
  std::set<std::string> refuse;
  ErrorClass refuse_class = ErrorClass::kPermanentBackend;
  std::vector<std::string> delivered;
};

class CountingObserver final : public DeliveryObserver {
 public:
  void onDelivered(size_t n) override { delivered += n; }
  void onAttemptFailed(const Error&) override { ++failed; }
  void onDeadLettered(size_t n) override { dead += n; }
  size_t delivered = 0, failed = 0, dead = 0;
};

std::vector<Event> makeBatch(int n) {
  std::vector<Event> out;
  for (int i = 0; i < n; ++i) {
    std::string id = "e" + std::to_string(i);
    out.push_back(Event{id, "mxgate.message.received", "acme",
                        R"({"id":")" + id + R"(","data":{"n":)" + std::to_string(i) + "}}"});
  }
  return out;
}

std::vector<json> readJsonLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

// A RandomSource that returns the values given, cycling.
RandomSource fixedRandom(std::vector<uint64_t> values) {
  auto i = std::make_shared<size_t>(0);
  return [values, i] { return values[(*i)++ % values.size()]; };
}

TEST(Retry, DispositionTable) {
  EXPECT_EQ(dispositionOf(ErrorClass::kTransientBackend), Disposition::kRetry);
  EXPECT_EQ(dispositionOf(ErrorClass::kConfig), Disposition::kRetry);
  EXPECT_EQ(dispositionOf(ErrorClass::kNotFound), Disposition::kRetry);
  EXPECT_EQ(dispositionOf(ErrorClass::kPermanentBackend), Disposition::kRefused);
  EXPECT_EQ(dispositionOf(ErrorClass::kProtocol), Disposition::kRefused);
  EXPECT_EQ(dispositionOf(ErrorClass::kPolicy), Disposition::kRefused);
  EXPECT_EQ(dispositionOf(ErrorClass::kResource), Disposition::kRefused);
}

TEST(Retry, BackoffDoublesWithEqualJitterAndIsBounded) {
  // Random 0: the low end of each range (d/2); random all-ones mod (span+1) is checked below.
  Backoff low({Millis(100), Millis(1000)}, fixedRandom({0}));
  std::vector<int64_t> got;
  for (int i = 0; i < 7; ++i) got.push_back(low.next().count());
  EXPECT_EQ(got, (std::vector<int64_t>{50, 100, 200, 400, 500, 500, 500}));
  EXPECT_EQ(low.attempts(), 7u);
  low.reset();
  EXPECT_EQ(low.next().count(), 50);
  // The high end: d itself (random == span).
  Backoff high({Millis(100), Millis(1000)}, fixedRandom({50, 100, 200, 400, 500, 500}));
  got.clear();
  for (int i = 0; i < 6; ++i) got.push_back(high.next().count());
  EXPECT_EQ(got, (std::vector<int64_t>{100, 200, 400, 800, 1000, 1000}));
  // With real randomness every delay stays inside [d/2, d] and they are not all equal.
  Backoff real({Millis(100), Millis(800)}, defaultRandom());
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) {
    int64_t d = std::min<int64_t>(100ll << std::min(i, 3), 800);
    int64_t v = real.next().count();
    EXPECT_GE(v, d / 2);
    EXPECT_LE(v, d);
    if (i >= 3) seen.insert(v);
  }
  EXPECT_GT(seen.size(), 10u);
  // Many attempts never overflow and never exceed max.
  Backoff big({Millis(1), Millis(5000)}, defaultRandom());
  for (int i = 0; i < 1000; ++i) EXPECT_LE(big.next().count(), 5000);
}

TEST(Retry, StopWaiterReturnsFalseOnceStopped) {
  StopWaiter w;
  EXPECT_TRUE(w.waitFor(Millis(1)));
  std::thread t([&] {
    std::this_thread::sleep_for(Millis(20));
    w.requestStop();
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(w.waitFor(Millis(60000)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  t.join();
  EXPECT_FALSE(w.waitFor(Millis(60000)));  // stays stopped
  w.clear();
  EXPECT_TRUE(w.waitFor(Millis(1)));
}

struct Fixture {
  TempDir dir;
  ScriptedSink inner;
  RecordingWaiter waiter;
  CountingObserver observer;
  ManualClock clock;
  std::unique_ptr<DeadLetterFile> dead;
  std::vector<std::string> logs;
  std::unique_ptr<RetryingSink> sink;

  Fixture() {
    auto d = DeadLetterFile::open(dir.path() + "/var/dead.jsonl");
    EXPECT_TRUE(d.ok());
    dead = std::move(*d);
    RetryingSinkOptions o;
    o.sink_name = "webhook";
    o.backoff = {Millis(100), Millis(400)};
    o.random = fixedRandom({0});
    o.waiter = &waiter;
    o.clock = &clock;
    o.observer = &observer;
    o.log = [this](std::string_view l) { logs.emplace_back(l); };
    sink = std::make_unique<RetryingSink>(inner, *dead, o);
  }
};

TEST(RetryingSink, TransientFailuresAreRetriedWithBackoffUntilDelivered) {
  Fixture f;
  f.inner.transient = 4;
  auto batch = makeBatch(3);
  ASSERT_TRUE(f.sink->publish(batch).ok());
  EXPECT_EQ(f.inner.calls, 5);
  EXPECT_EQ(f.inner.delivered, (std::vector<std::string>{"e0", "e1", "e2"}));
  ASSERT_EQ(f.waiter.delays.size(), 4u);
  EXPECT_EQ(f.waiter.delays[0], Millis(50));
  EXPECT_EQ(f.waiter.delays[1], Millis(100));
  EXPECT_EQ(f.waiter.delays[2], Millis(200));
  EXPECT_EQ(f.waiter.delays[3], Millis(200));  // bounded by max (400 / 2 with random 0)
  EXPECT_EQ(f.observer.failed, 4u);
  EXPECT_EQ(f.observer.delivered, 3u);
  EXPECT_EQ(f.observer.dead, 0u);
  EXPECT_EQ(f.dead->count(), 0u);
  EXPECT_TRUE(readJsonLines(f.dead->path()).empty());
  // One log line per failure, naming the class, and one for the recovery.
  ASSERT_EQ(f.logs.size(), 5u);
  EXPECT_NE(f.logs[0].find("transient_backend"), std::string::npos) << f.logs[0];
  EXPECT_NE(f.logs[0].find("connection reset"), std::string::npos) << f.logs[0];
}

TEST(RetryingSink, StopEndsTheWaitAndReturnsTheError) {
  Fixture f;
  f.inner.transient = 100;
  f.waiter.stop_after = 2;
  auto batch = makeBatch(2);
  Status s = f.sink->publish(batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errorClass(), ErrorClass::kTransientBackend);
  EXPECT_EQ(f.inner.calls, 3);
  EXPECT_TRUE(f.inner.delivered.empty());
  EXPECT_EQ(f.dead->count(), 0u);  // a transient failure is never dead-lettered
}

TEST(RetryingSink, OnlyTheRefusedEventsAreDeadLettered) {
  Fixture f;
  f.inner.refuse = {"e1", "e3"};
  auto batch = makeBatch(5);
  ASSERT_TRUE(f.sink->publish(batch).ok());
  EXPECT_EQ(f.inner.delivered, (std::vector<std::string>{"e0", "e2", "e4"}));
  EXPECT_TRUE(f.waiter.delays.empty());  // refusals are not waited on
  EXPECT_EQ(f.observer.dead, 2u);
  EXPECT_EQ(f.observer.delivered, 3u);
  auto lines = readJsonLines(f.dead->path());
  ASSERT_EQ(lines.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    std::string id = i == 0 ? "e1" : "e3";
    EXPECT_EQ(lines[i]["event"]["id"], id);
    EXPECT_EQ(lines[i]["event"]["data"]["n"], i == 0 ? 1 : 3);  // the event exactly as it was
    EXPECT_EQ(lines[i]["sink"], "webhook");
    EXPECT_EQ(lines[i]["error_class"], "permanent_backend");
    EXPECT_EQ(lines[i]["reason"], "413 payload rejected for " + id);
    EXPECT_EQ(lines[i]["attempts"], 2);  // the batch attempt and its own
    EXPECT_EQ(lines[i]["dead_lettered_at"], "2023-11-14T22:13:20.000Z");
  }
  int dead_logs = 0;
  for (const auto& l : f.logs) dead_logs += l.find("dead-lettered to") != std::string::npos;
  EXPECT_EQ(dead_logs, 2);
}

TEST(RetryingSink, ASinkThatRefusesEverythingCannotBlockThePublisher) {
  Fixture f;
  f.inner.refuse_class = ErrorClass::kPolicy;
  auto batch = makeBatch(4);
  for (const auto& e : batch) f.inner.refuse.insert(e.id);
  for (int round = 0; round < 3; ++round) ASSERT_TRUE(f.sink->publish(batch).ok());
  EXPECT_TRUE(f.inner.delivered.empty());
  EXPECT_EQ(f.dead->count(), 12u);
  EXPECT_EQ(f.observer.dead, 12u);
  auto lines = readJsonLines(f.dead->path());
  ASSERT_EQ(lines.size(), 12u);
  EXPECT_EQ(lines[0]["error_class"], "policy");
  // A single-event batch is dead-lettered without isolating.
  int calls = f.inner.calls;
  ASSERT_TRUE(f.sink->publish(std::span<const Event>(batch).subspan(0, 1)).ok());
  EXPECT_EQ(f.inner.calls, calls + 1);
  EXPECT_EQ(f.dead->count(), 13u);
}

TEST(RetryingSink, TransientFailureWhileIsolatingIsRetried) {
  Fixture f;
  f.inner.refuse = {"e0"};
  auto batch = makeBatch(3);
  // The batch is refused (e0), then the first single publish fails transiently twice.
  f.inner.transient = 0;
  class Flaky final : public EventSink {
   public:
    explicit Flaky(ScriptedSink& s) : s_(s) {}
    Status publish(std::span<const Event> b) override {
      if (b.size() == 1 && b[0].id == "e1" && flakes_ > 0) {
        --flakes_;
        return Error(ErrorClass::kTransientBackend, "timeout");
      }
      return s_.publish(b);
    }
    ScriptedSink& s_;
    int flakes_ = 2;
  } flaky(f.inner);
  RetryingSinkOptions o;
  o.backoff = {Millis(10), Millis(40)};
  o.random = fixedRandom({0});
  o.waiter = &f.waiter;
  o.log = [](std::string_view) {};
  RetryingSink sink(flaky, *f.dead, o);
  ASSERT_TRUE(sink.publish(batch).ok());
  EXPECT_EQ(f.inner.delivered, (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(f.waiter.delays.size(), 2u);
  EXPECT_EQ(f.dead->count(), 1u);
}

TEST(DeadLetterFile, TornLineCutOnOpenAndLinesAreJson) {
  TempDir t;
  std::string path = t.path() + "/d.jsonl";
  auto batch = makeBatch(2);
  {
    auto d = DeadLetterFile::open(path);
    ASSERT_TRUE(d.ok());
    DeadLetter l{&batch[0], ErrorClass::kPermanentBackend, "bad \"quote\"\nnewline", 1, WallTime{}};
    ASSERT_TRUE((*d)->write("file", std::span<const DeadLetter>(&l, 1)).ok());
  }
  std::ofstream(path, std::ios::app) << R"({"dead_lettered_at":"20)";
  auto d = DeadLetterFile::open(path);
  ASSERT_TRUE(d.ok());
  DeadLetter l{&batch[1], ErrorClass::kResource, "too big", 3, WallTime{}};
  ASSERT_TRUE((*d)->write("file", std::span<const DeadLetter>(&l, 1)).ok());
  auto lines = readJsonLines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["reason"], "bad \"quote\"\nnewline");
  EXPECT_EQ(lines[1]["event"]["id"], "e1");
  EXPECT_EQ(lines[1]["error_class"], "resource");
}

}  // namespace
}  // namespace mx::events
