// Tests for the durable per-sink outbox (events/outbox/): the record codec; events routed
// per tenant and delivered exactly once per sink when nothing fails; transient failures
// retried with full jitter until delivered; the sink's Retry-After honoured; refused
// events dead-lettered at once (JSON line + replayable log) and brought back by replay;
// max_attempts; a dead sink that delays nobody else; a waiting head rotated so later
// events flow; the size bound; durability across a reopen (nothing confirmed is lost,
// nothing checkpointed is delivered again); an unreadable record dead-lettered, not
// retried forever; the labelled /metrics text.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "events/outbox/outbox.h"
#include "events/outbox/outbox_record.h"
#include "spool/spool.h"

namespace mx::events {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "mxoutbox-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Events with real (parseable, increasing) message ids.
std::vector<Event> makeEvents(size_t n, const std::string& tenant = "acme", size_t first = 0) {
  MessageIdGenerator gen(42 + first);
  std::vector<Event> out;
  for (size_t i = 0; i < n; ++i) {
    std::string id = gen.next(RealClock().wall()).toString();
    out.push_back(
        Event{id, "mxgate.message.received", tenant,
              R"({"specversion":"1.0","id":")" + id + R"(","data":{"n":)" + std::to_string(first + i) + "}}"});
  }
  return out;
}

// A sink whose answer per event is scripted; thread-safe; counts every attempt.
class ScriptedSink final : public EventSink {
 public:
  Status publish(std::span<const Event> batch) override {
    for (const auto& d : publishEach(batch)) {
      if (!d.status.ok()) return d.status;
    }
    return okStatus();
  }
  std::vector<Delivery> publishEach(std::span<const Event> batch) override {
    std::lock_guard l(mu);
    ++calls;
    std::vector<Delivery> out;
    for (const auto& e : batch) {
      ++attempts[e.id];
      attempt_times[e.id].push_back(std::chrono::steady_clock::now());
      if (down) {
        out.push_back({Error(ErrorClass::kTransientBackend, "connection refused"), Millis(0)});
      } else if (refuse.count(e.id)) {
        out.push_back({Error(ErrorClass::kPermanentBackend, "HTTP 400 for " + e.id), Millis(0)});
      } else if (fail_first.count(e.id) && attempts[e.id] <= fail_first[e.id]) {
        out.push_back({Error(ErrorClass::kTransientBackend, "HTTP 503"), retry_after});
      } else if (always_429.count(e.id)) {
        out.push_back({Error(ErrorClass::kTransientBackend, "HTTP 429"), Millis(60'000)});
      } else {
        delivered.push_back(e.id);
        out.push_back({okStatus(), Millis(0)});
      }
    }
    return out;
  }
  size_t maxBatch() const override { return max_batch; }

  std::vector<std::string> deliveredIds() {
    std::lock_guard l(mu);
    return delivered;
  }

  std::mutex mu;
  int calls = 0;
  bool down = false;
  size_t max_batch = 64;
  Millis retry_after{0};
  std::set<std::string> refuse, always_429;
  std::map<std::string, int> fail_first;  // id -> failures before success
  std::map<std::string, int> attempts;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> attempt_times;
  std::vector<std::string> delivered;
};

DispatchOptions fastRetries() {
  DispatchOptions d;
  d.retry = BackoffOptions{Millis(1), Millis(8)};
  d.idle_wait = Millis(2);
  d.checkpoint_every = Millis(0);
  return d;
}

struct Fixture {
  TempDir dir;
  std::vector<std::string> log;
  std::mutex log_mu;

  Result<std::unique_ptr<Outbox>> open(std::vector<OutboxSink> sinks,
                                       std::function<std::vector<size_t>(std::string_view)> route = nullptr) {
    OutboxOptions o;
    o.dir = dir.path() + "/outbox";
    o.route = std::move(route);
    o.log = [this](std::string_view l) {
      std::lock_guard g(log_mu);
      log.emplace_back(l);
    };
    return Outbox::open(std::move(o), std::move(sinks));
  }
  bool logged(std::string_view needle) {
    std::lock_guard g(log_mu);
    for (const auto& l : log) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

std::vector<std::string> ids(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.id);
  return out;
}

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

TEST(OutboxRecord, RoundTripsAndRefusesMalformedBodies) {
  OutboxEntry e;
  e.event = makeEvents(1)[0];
  e.attempts = 7;
  e.first_failure_ms = 1700000000123;
  e.not_before_ms = 1700000009999;
  e.dead_lettered_ms = 0;
  OutboxEntry back;
  ASSERT_TRUE(decodeOutboxBody(encodeOutboxBody(e), &back).ok());
  EXPECT_EQ(back.event.type, e.event.type);
  EXPECT_EQ(back.event.json, e.event.json);
  EXPECT_EQ(back.attempts, 7u);
  EXPECT_EQ(back.first_failure_ms, e.first_failure_ms);
  EXPECT_EQ(back.not_before_ms, e.not_before_ms);
  for (std::string bad :
       {"", "mxo1", "mxo2 0 0 0 0 t\n{}", "mxo1 x 0 0 0 t\n{}", "mxo1 0 0 0 0 t\n", "mxo1 0 -1 0 0 t\n{}",
        "mxo1 0 0 0 0 two words\n{}", "mxo1 0 0 0 0\n{}", "mxo1 99999999999 0 0 0 t\n{}"}) {
    OutboxEntry out;
    Status s = decodeOutboxBody(bad, &out);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_EQ(s.error().errorClass(), ErrorClass::kProtocol);
    }
  }
}

TEST(OutboxRetry, FullJitterStaysWithinTheExponentialCap) {
  BackoffOptions o{Millis(1000), Millis(3'600'000)};
  uint64_t r = 0;
  RandomSource maxed = [] { return ~0ull; };
  for (uint32_t a = 0; a < 40; ++a) {
    int64_t cap = std::min<int64_t>(1000ll << std::min<uint32_t>(a, 20), 3'600'000);
    for (int i = 0; i < 50; ++i) {
      Millis d = fullJitter(o, a, [&r] { return r += 0x9E3779B97F4A7C15ull; });
      EXPECT_GE(d.count(), 1);
      EXPECT_LE(d.count(), cap);
    }
  }
  RandomSource zero = [] { return 0ull; };
  EXPECT_EQ(fullJitter(o, 3, zero), Millis(1));  // never zero
  EXPECT_LE(fullJitter(o, 100, maxed).count(), 3'600'000);
}

TEST(Outbox, RoutesPerTenantAndDeliversEachEventOncePerSink) {
  Fixture f;
  ScriptedSink a, b;
  auto o = f.open({{"a", &a, nullptr, fastRetries()}, {"b", &b, nullptr, fastRetries()}}, [](std::string_view tenant) {
    return tenant == "only-a" ? std::vector<size_t>{0} : std::vector<size_t>{0, 1};
  });
  ASSERT_TRUE(o.ok()) << o.error().message();
  auto both = makeEvents(50, "acme");
  auto only_a = makeEvents(10, "only-a", 100);
  ASSERT_TRUE((*o)->publish(both).ok());
  ASSERT_TRUE((*o)->publish(only_a).ok());
  EXPECT_EQ((*o)->status(0).depth, 60u);
  EXPECT_EQ((*o)->status(1).depth, 50u);
  (*o)->dispatcher(0).runUntilIdle(5s);
  (*o)->dispatcher(1).runUntilIdle(5s);
  auto expect_a = ids(both);
  for (const auto& id : ids(only_a)) expect_a.push_back(id);
  EXPECT_EQ(a.deliveredIds(), expect_a);  // in order
  EXPECT_EQ(b.deliveredIds(), ids(both));
  EXPECT_EQ((*o)->status(0).depth, 0u);
  EXPECT_EQ((*o)->metrics(0).delivered.load(), 60u);
  EXPECT_EQ((*o)->metrics(0).enqueued.load(), 60u);
  EXPECT_EQ((*o)->metrics(0).delivery_seconds.count(), 60u);
  // Checkpointed: a reopen delivers nothing again.
  o->reset();
  ScriptedSink again;
  auto o2 = f.open({{"a", &again, nullptr, fastRetries()}});
  ASSERT_TRUE(o2.ok());
  EXPECT_EQ((*o2)->dispatcher(0).runUntilIdle(200ms), 0u);
  EXPECT_TRUE(again.deliveredIds().empty());
}

TEST(Outbox, TransientFailuresAreRetriedUntilDeliveredAndRetryAfterIsHonoured) {
  Fixture f;
  ScriptedSink s;
  auto events = makeEvents(20);
  for (const auto& e : events) s.fail_first[e.id] = 5;
  s.fail_first[events[0].id] = 1;
  s.retry_after = Millis(0);
  auto o = f.open({{"s", &s, nullptr, fastRetries()}});
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE((*o)->publish(events).ok());
  (*o)->dispatcher(0).runUntilIdle(10s);
  auto got = s.deliveredIds();
  const auto want = ids(events);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), std::set<std::string>(want.begin(), want.end()));
  EXPECT_EQ(got.size(), events.size());  // each once
  EXPECT_EQ((*o)->metrics(0).retried.load(), 19u * 5 + 1);
  EXPECT_EQ((*o)->metrics(0).dead_lettered.load(), 0u);

  // Retry-After: the second attempt waits at least what the sink asked for.
  ScriptedSink slow;
  auto one = makeEvents(1, "acme", 500);
  slow.fail_first[one[0].id] = 1;
  slow.retry_after = Millis(300);
  Fixture f2;
  auto o2 = f2.open({{"slow", &slow, nullptr, fastRetries()}});
  ASSERT_TRUE((*o2)->publish(one).ok());
  (*o2)->dispatcher(0).runUntilIdle(5s);
  ASSERT_EQ(slow.attempt_times[one[0].id].size(), 2u);
  EXPECT_GE(slow.attempt_times[one[0].id][1] - slow.attempt_times[one[0].id][0], 290ms);
}

TEST(Outbox, RefusedEventsAreDeadLetteredAtOnceAndReplayBringsThemBack) {
  Fixture f;
  ScriptedSink s;
  auto events = makeEvents(5);
  s.refuse = {events[1].id, events[3].id};
  auto o = f.open({{"hook", &s, nullptr, fastRetries()}});
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE((*o)->publish(events).ok());
  (*o)->dispatcher(0).runUntilIdle(5s);
  EXPECT_EQ(s.deliveredIds(), (std::vector<std::string>{events[0].id, events[2].id, events[4].id}));
  EXPECT_EQ(s.attempts[events[1].id], 1);  // never retried
  EXPECT_EQ((*o)->metrics(0).dead_lettered.load(), 2u);
  EXPECT_EQ((*o)->status(0).dead_letters, 2u);
  EXPECT_EQ((*o)->status(0).depth, 0u);
  auto lines = readLines(f.dir.path() + "/outbox/hook/dead-letters.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  json j = json::parse(lines[0]);
  EXPECT_EQ(j["sink"], "hook");
  EXPECT_EQ(j["error_class"], "permanent_backend");
  EXPECT_EQ(j["attempts"], 1);
  EXPECT_NE(j["reason"].get<std::string>().find("HTTP 400"), std::string::npos);
  EXPECT_EQ(j["event"]["id"], events[1].id);
  EXPECT_TRUE(f.logged("event " + events[1].id + " (tenant acme) dead-lettered after 1 attempt: HTTP 400"));

  // The cause is fixed; replay since a time after the letters: nothing moves.
  s.refuse.clear();
  auto none = replayDeadLetters((*o)->files(0), unixMillis(RealClock().wall()) + 60'000);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
  EXPECT_EQ((*o)->status(0).dead_letters, 2u);
  // Replay everything: delivered, the log empties.
  auto moved = replayDeadLetters((*o)->files(0), 0);
  ASSERT_TRUE(moved.ok()) << moved.error().message();
  EXPECT_EQ(*moved, 2u);
  EXPECT_EQ((*o)->status(0).dead_letters, 0u);
  (*o)->dispatcher(0).runUntilIdle(5s);
  auto got = s.deliveredIds();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[3], events[1].id);
  EXPECT_EQ(got[4], events[3].id);
}

TEST(Outbox, ReplayRequestFromAnotherProcessIsTakenByTheRunningDispatcher) {
  Fixture f;
  ScriptedSink s;
  auto events = makeEvents(3);
  s.refuse = {events[0].id};
  auto o = f.open({{"hook", &s, nullptr, fastRetries()}});
  ASSERT_TRUE((*o)->publish(events).ok());
  (*o)->start();
  for (int i = 0; i < 500 && (*o)->metrics(0).dead_lettered.load() < 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ((*o)->metrics(0).dead_lettered.load(), 1u);
  s.refuse.clear();
  ASSERT_TRUE(requestReplay((*o)->files(0).replay_dir, 0).ok());
  for (int i = 0; i < 500 && s.deliveredIds().size() < 3; ++i) std::this_thread::sleep_for(10ms);
  (*o)->stop();
  EXPECT_EQ(s.deliveredIds().size(), 3u);
  EXPECT_EQ((*o)->metrics(0).replayed.load(), 1u);
  EXPECT_TRUE(fs::is_empty((*o)->files(0).replay_dir));
}

TEST(Outbox, MaxAttemptsDeadLettersWithTheLastError) {
  Fixture f;
  ScriptedSink s;
  s.down = true;
  DispatchOptions d = fastRetries();
  d.max_attempts = 3;
  auto o = f.open({{"s", &s, nullptr, d}});
  auto events = makeEvents(2);
  ASSERT_TRUE((*o)->publish(events).ok());
  (*o)->dispatcher(0).runUntilIdle(10s);
  EXPECT_EQ(s.attempts[events[0].id], 3);
  EXPECT_EQ((*o)->metrics(0).dead_lettered.load(), 2u);
  auto lines = readLines(f.dir.path() + "/outbox/s/dead-letters.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  json j = json::parse(lines[0]);
  EXPECT_EQ(j["attempts"], 3);
  EXPECT_EQ(j["error_class"], "transient_backend");
  EXPECT_EQ(j["reason"], "gave up after 3 attempts; the last error: connection refused");
  EXPECT_TRUE(f.logged("every attempt failed"));
}

TEST(Outbox, ADeadSinkDelaysNoOtherSink) {
  Fixture f;
  ScriptedSink dead, healthy;
  dead.down = true;
  auto o = f.open({{"dead", &dead, nullptr, fastRetries()}, {"healthy", &healthy, nullptr, fastRetries()}});
  ASSERT_TRUE(o.ok());
  (*o)->start();
  size_t n = 0;
  for (int batch = 0; batch < 20; ++batch) {
    auto ev = makeEvents(50, "acme", n);
    n += ev.size();
    ASSERT_TRUE((*o)->publish(ev).ok());
  }
  for (int i = 0; i < 500 && healthy.deliveredIds().size() < n; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(healthy.deliveredIds().size(), n);
  EXPECT_TRUE(dead.deliveredIds().empty());
  EXPECT_EQ((*o)->status(0).depth, n);
  // Recovery: the backlog drains.
  {
    std::lock_guard l(dead.mu);
    dead.down = false;
  }
  for (int i = 0; i < 1000 && dead.deliveredIds().size() < n; ++i) std::this_thread::sleep_for(10ms);
  (*o)->stop();
  EXPECT_EQ(dead.deliveredIds().size(), n);
  EXPECT_TRUE(f.logged("delivering again after"));
}

TEST(Outbox, AnEventThatKeepsGetting429DoesNotHoldTheOthersBack) {
  Fixture f;
  ScriptedSink s;
  DispatchOptions d = fastRetries();
  d.window = 8;
  auto events = makeEvents(40);
  s.always_429 = {events[0].id};
  s.max_batch = 4;
  auto o = f.open({{"s", &s, nullptr, d}});
  ASSERT_TRUE((*o)->publish(events).ok());
  (*o)->dispatcher(0).runUntilIdle(1s);
  EXPECT_EQ(s.deliveredIds().size(), 39u);
  EXPECT_GE((*o)->metrics(0).rotated.load(), 1u);
  EXPECT_EQ(s.attempts[events[0].id], 1);  // it waits for its Retry-After (60 s), at the tail
  EXPECT_EQ((*o)->status(0).depth, 1u);    // only it is left, durably
}

TEST(Outbox, TheWindowGrowsToTwoBatchesOfALargeBatchSink) {
  Fixture f;
  ScriptedSink s;
  s.max_batch = 1500;  // a Kafka-like sink: the default window (1,024) would cut its batches
  auto o = f.open({{"s", &s, nullptr, fastRetries()}});
  ASSERT_TRUE((*o)->publish(makeEvents(3000)).ok());
  (*o)->dispatcher(0).runUntilIdle(5s);
  EXPECT_EQ(s.deliveredIds().size(), 3000u);
  EXPECT_EQ(s.calls, 2);  // two full batches, not three windows' worth
}

TEST(Outbox, OverItsSizeBoundPublishFailsTransiently) {
  Fixture f;
  ScriptedSink s;
  uint64_t empty = 0;
  {
    auto o = f.open({{"s", &s, nullptr, fastRetries()}});
    ASSERT_TRUE(o.ok());
    empty = (*o)->status(0).disk_bytes;  // the segment header and the lock file
  }
  auto o = f.open({{"s", &s, nullptr, fastRetries(), empty + 200}});
  ASSERT_TRUE((*o)->publish(makeEvents(3)).ok());  // measured before: under the bound
  std::this_thread::sleep_for(120ms);              // the size is re-measured at most every 100 ms
  Status full = (*o)->publish(makeEvents(3, "acme", 10));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().errorClass(), ErrorClass::kTransientBackend);
  EXPECT_NE(full.error().message().find("the outbox of sink s is full"), std::string::npos);
  EXPECT_EQ((*o)->metrics(0).full.load(), 1u);
  EXPECT_EQ((*o)->status(0).depth, 3u);  // the refused batch wrote nothing
}

TEST(Outbox, WhatWasAcceptedSurvivesAReopenAndIsDeliveredThen) {
  Fixture f;
  auto events = makeEvents(100);
  {
    ScriptedSink never;
    never.down = true;
    auto o = f.open({{"s", &never, nullptr, fastRetries()}});
    ASSERT_TRUE((*o)->publish(events).ok());
    (*o)->dispatcher(0).runUntilIdle(30ms);  // attempts fail; nothing is finished
  }
  ScriptedSink s;
  auto o = f.open({{"s", &s, nullptr, fastRetries()}});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ((*o)->status(0).depth, 100u);
  (*o)->dispatcher(0).runUntilIdle(5s);
  EXPECT_EQ(s.deliveredIds(), ids(events));
}

TEST(Outbox, AnUnreadableRecordIsDeadLetteredNotRetried) {
  Fixture f;
  {
    spool::SpoolOptions so;
    so.dir = f.dir.path() + "/outbox/s/queue";
    so.min_free = 0;
    auto sp = spool::Spool::open(so);
    ASSERT_TRUE(sp.ok());
    auto w = (*sp)->lane(0).begin();
    ASSERT_TRUE(w->append("not an outbox record").ok());
    std::atomic<bool> done{false};
    (*sp)->lane(0).commit(std::move(w), Envelope{}, [&](Status s) {
      EXPECT_TRUE(s.ok());
      done = true;
    });
    (*sp)->close();
    ASSERT_TRUE(done);
  }
  ScriptedSink s;
  auto o = f.open({{"s", &s, nullptr, fastRetries()}});
  ASSERT_TRUE(o.ok());
  auto events = makeEvents(2);
  ASSERT_TRUE((*o)->publish(events).ok());
  (*o)->dispatcher(0).runUntilIdle(2s);
  EXPECT_EQ(s.deliveredIds(), ids(events));
  EXPECT_EQ((*o)->metrics(0).dead_lettered.load(), 1u);
  EXPECT_EQ((*o)->status(0).depth, 0u);
  auto lines = readLines(f.dir.path() + "/outbox/s/dead-letters.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(json::parse(lines[0])["reason"].get<std::string>().find("no mxo1 header"), std::string::npos);
}

TEST(Outbox, AnotherProcessHoldingTheDirectoryIsAConfigError) {
  Fixture f;
  ScriptedSink s;
  auto a = f.open({{"s", &s, nullptr, fastRetries()}});
  ASSERT_TRUE(a.ok());
  auto b = f.open({{"s", &s, nullptr, fastRetries()}});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().errorClass(), ErrorClass::kConfig);
  EXPECT_NE(b.error().message().find("outbox of sink s"), std::string::npos);
}

TEST(Outbox, MetricsAreLabelledPerSink) {
  Fixture f;
  ScriptedSink a, b;
  auto o = f.open({{"app", &a, nullptr, fastRetries()}, {"bus\"x", &b, nullptr, fastRetries()}});
  ASSERT_TRUE((*o)->publish(makeEvents(3)).ok());
  (*o)->dispatcher(0).runUntilIdle(2s);
  std::string m = (*o)->renderMetrics();
  EXPECT_NE(m.find("# TYPE mxgate_outbox_delivered_total counter\n"), std::string::npos);
  EXPECT_NE(m.find("mxgate_outbox_delivered_total{sink=\"app\"} 3\n"), std::string::npos);
  EXPECT_NE(m.find("mxgate_outbox_delivered_total{sink=\"bus\\\"x\"} 0\n"), std::string::npos);
  EXPECT_NE(m.find("mxgate_outbox_delivery_seconds_count{sink=\"app\"} 3\n"), std::string::npos);
  EXPECT_NE(m.find("mxgate_outbox_delivery_seconds_bucket{sink=\"app\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_EQ(m.find("# TYPE mxgate_outbox_delivered_total counter\n"),
            m.rfind("# TYPE mxgate_outbox_delivered_total counter\n"));  // one family header
  // The derived age: 0 while nothing is held undelivered.
  EXPECT_NE(m.find("# TYPE mxgate_outbox_oldest_event_age_seconds gauge\n"), std::string::npos);
  EXPECT_NE(m.find("mxgate_outbox_oldest_event_age_seconds{sink=\"app\"} 0\n"), std::string::npos) << m;
}

}  // namespace
}  // namespace mx::events
