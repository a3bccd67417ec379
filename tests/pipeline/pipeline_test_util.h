// tests/pipeline/pipeline_test_util.h — test doubles and one assembly of the pipeline for
// the consumer tests: a capturing EventSink that can fail on demand, a store decorator that
// refuses chosen keys, a Waiter that advances a ManualClock instead of sleeping, and
// Rig = MessageHandler + Quarantine (real files) + SpoolConsumer over a real spool in a
// temporary directory, publishing to the sink given (in production: the Outbox, see
// events/outbox/outbox.h; the tests that need it put one in front of their sink).
// Trust: test code only.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../spool/spool_test_util.h"
#include "pipeline/message_handler.h"
#include "pipeline/metrics.h"
#include "pipeline/quarantine.h"
#include "pipeline/spool_consumer.h"
#include "store/blob_store.h"

namespace mx::pipeline::testing {

// Keeps what it is given; fails the next `n` publishes with `cls`, or refuses event ids.
class CapturingSink final : public events::EventSink {
 public:
  Status publish(std::span<const events::Event> batch) override {
    std::lock_guard l(mu_);
    ++calls_;
    if (fail_next_ > 0) {
      --fail_next_;
      return Error(fail_class_, "sink down");
    }
    for (const auto& e : batch) {
      if (refuse_all_) return Error(ErrorClass::kPermanentBackend, "sink refuses " + e.id);
    }
    for (const auto& e : batch) events_.push_back(e);
    ++batches_;
    return okStatus();
  }
  std::vector<events::Event> events() const {
    std::lock_guard l(mu_);
    return events_;
  }
  std::set<std::string> ids() const {
    std::set<std::string> out;
    for (const auto& e : events()) out.insert(e.id);
    return out;
  }
  int batches() const {
    std::lock_guard l(mu_);
    return batches_;
  }
  void failNext(int n, ErrorClass cls = ErrorClass::kTransientBackend) {
    std::lock_guard l(mu_);
    fail_next_ = n;
    fail_class_ = cls;
  }
  void refuseAll(bool v) {
    std::lock_guard l(mu_);
    refuse_all_ = v;
  }

 private:
  mutable std::mutex mu_;
  std::vector<events::Event> events_;
  int calls_ = 0, batches_ = 0, fail_next_ = 0;
  ErrorClass fail_class_ = ErrorClass::kTransientBackend;
  bool refuse_all_ = false;
};

// A BlobStore decorator that fails puts of keys matching `refuse` with `cls` (a store that
// refuses an object), passing everything else to `inner`.
class RefusingStore final : public store::BlobStore {
 public:
  explicit RefusingStore(store::BlobStore& inner) : inner_(inner) {}
  Status put(std::string_view key, std::string_view bytes) override {
    if (auto s = check(key); !s.ok()) return s;
    return inner_.put(key, bytes);
  }
  Result<std::string> get(std::string_view key) override { return inner_.get(key); }
  Result<bool> exists(std::string_view key) override { return inner_.exists(key); }
  Status putUnsynced(std::string_view key, std::string_view bytes) override {
    if (auto s = check(key); !s.ok()) return s;
    return inner_.putUnsynced(key, bytes);
  }
  Status sync() override { return inner_.sync(); }

  void setRefuse(std::function<bool(std::string_view)> f, ErrorClass cls = ErrorClass::kPermanentBackend) {
    std::lock_guard l(mu_);
    refuse_ = std::move(f);
    cls_ = cls;
  }
  int refusals() const {
    std::lock_guard l(mu_);
    return refusals_;
  }

 private:
  Status check(std::string_view key) {
    std::lock_guard l(mu_);
    if (refuse_ && refuse_(key)) {
      ++refusals_;
      return Error(cls_, "object refused: " + std::string(key));
    }
    return okStatus();
  }
  store::BlobStore& inner_;
  mutable std::mutex mu_;
  std::function<bool(std::string_view)> refuse_;
  ErrorClass cls_ = ErrorClass::kPermanentBackend;
  int refusals_ = 0;
};

// Waits by advancing a ManualClock (no sleeping); records every delay.
class ClockWaiter final : public events::Waiter {
 public:
  explicit ClockWaiter(ManualClock& c) : clock_(c) {}
  bool waitFor(Millis d) override {
    std::lock_guard l(mu_);
    delays_.push_back(d);
    clock_.advance(d);
    return true;
  }
  std::vector<Millis> delays() const {
    std::lock_guard l(mu_);
    return delays_;
  }

 private:
  ManualClock& clock_;
  mutable std::mutex mu_;
  std::vector<Millis> delays_;
};

inline SpoolConsumerOptions fastOptions() {
  SpoolConsumerOptions o;
  o.retry.backoff = {Millis(1), Millis(5)};
  o.idle_wait = Millis(10);
  o.retry_poll = Millis(10);
  o.log = [](std::string_view) {};
  return o;
}

inline std::unique_ptr<spool::Spool> openSpool(const std::string& dir, size_t lanes = 1) {
  auto s = spool::Spool::open(spool::testing::testOptions(dir, lanes));
  if (!s.ok()) std::abort();
  return std::move(*s);
}

// The assembled pipeline over `store` and `sink` (a spool at dir/spool, the quarantine at
// dir/spool/quarantine).
struct Rig {
  Rig(const std::string& dir, store::BlobStore& store, events::EventSink& sink, MessageProcessor* processor,
      SpoolConsumerOptions options = fastOptions(), size_t lanes = 1, MessageHandlerOptions hopts = {})
      : spool(openSpool(dir + "/spool", lanes)) {
    auto q = Quarantine::open({dir + "/spool/quarantine", true, true});
    if (!q.ok()) std::abort();
    quarantine = std::move(*q);
    if (hopts.hostname.empty()) hopts.hostname = "testhost";
    hopts.log = [](std::string_view) {};
    handler = std::make_unique<MessageHandler>(store, processor, hopts, metrics);
    options.stop_waiter = &stop;
    consumer = std::make_unique<SpoolConsumer>(spool->reader(), *handler, sink, *quarantine, options, metrics);
  }
  ~Rig() { consumer.reset(); }

  PipelineMetrics metrics;
  events::StopWaiter stop;
  std::unique_ptr<spool::Spool> spool;
  std::unique_ptr<Quarantine> quarantine;
  std::unique_ptr<MessageHandler> handler;
  std::unique_ptr<SpoolConsumer> consumer;
};

inline uint64_t get(const std::atomic<uint64_t>& a) { return a.load(); }

// The crash test's permanent failures: the store refuses the raw object of ids ending in
// '0' or 'G' (about 1 in 16 messages), so some records must end in the quarantine.
inline bool crashRefuses(std::string_view id) { return !id.empty() && (id.back() == '0' || id.back() == 'G'); }

}  // namespace mx::pipeline::testing
