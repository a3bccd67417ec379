// pipeline/spool_consumer.cc — see spool_consumer.h.
#include "pipeline/spool_consumer.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace mx::pipeline {
namespace {

using SteadyClock = std::chrono::steady_clock;

}  // namespace

SpoolConsumer::SpoolConsumer(std::unique_ptr<spool::Reader> reader, MessageHandler& handler, events::EventSink& sink,
                             Quarantine& quarantine, SpoolConsumerOptions options, PipelineMetrics& metrics)
    : reader_(std::move(reader)),
      handler_(handler),
      sink_(sink),
      quarantine_(quarantine),
      options_(std::move(options)),
      metrics_(metrics),
      clock_(options_.clock ? *options_.clock : real_clock_),
      stop_waiter_(options_.stop_waiter ? *options_.stop_waiter : own_waiter_),
      policy_(options_.retry, clock_, options_.random, metrics_, [this](std::string_view l) { log(l); }) {
  if (options_.batch_max == 0) options_.batch_max = 1;
  events_.reserve(options_.batch_max);
}

SpoolConsumer::~SpoolConsumer() { stop(); }

void SpoolConsumer::start() {
  thread_ = std::thread([this] {
    if (options_.sched_idle) {
      sched_param param{};
      if (int err = pthread_setschedparam(pthread_self(), SCHED_IDLE, &param); err != 0) {
        log(std::string("pipeline: SCHED_IDLE refused: ") + std::strerror(err));
      }
    } else if (options_.nice != 0) {
      // Linux: the nice value is per thread; PRIO_PROCESS with a thread id sets just it.
      errno = 0;
      int current = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
      if (errno == 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), current + options_.nice);
    }
    if (auto s = run(); !s.ok()) log("pipeline: stopped with work left: " + s.error().message());
  });
}

void SpoolConsumer::stop() {
  stop_waiter_.requestStop();
  if (thread_.joinable()) thread_.join();
}

Status SpoolConsumer::runUntilIdle() {
  stop_waiter_.requestStop();
  Status s = run();
  stop_waiter_.clear();
  return s;
}

void SpoolConsumer::log(std::string_view line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }
}

bool SpoolConsumer::waitFor(Millis d) {
  if (stopping()) return false;
  bool waited = options_.waiter_for_test ? options_.waiter_for_test->waitFor(d) : stop_waiter_.waitFor(d);
  return waited && !stopping();
}

void SpoolConsumer::markDone(const spool::Record& r) {
  // The reader's checkpoint needs only the record's identity (lane, sequence).
  last_.lane = r.lane;
  last_.sequence = r.sequence;
  have_done_ = true;
}

Status SpoolConsumer::quarantineDurably(const Envelope& env, std::string_view raw, const QuarantineFailure& failure,
                                        const std::string& origin, uint32_t retries) {
  FailureState st = policy_.begin();
  for (;;) {
    Status s = quarantine_.put(env, raw, failure, origin, retries);
    if (s.ok()) break;
    // The record is still in the spool (or the inbox): it cannot be lost while this fails.
    Millis d = policy_.onOperationFailure(s.error(), "quarantining " + env.id.toString(), st);
    if (!waitFor(d)) return s;
  }
  PipelineMetrics::bump(metrics_.records_quarantined);
  log("pipeline: message " + env.id.toString() + " (tenant " + env.tenant + ", from " + origin +
      ") is in the quarantine " + quarantine_.dir() + ": " + failure.reason);
  return okStatus();
}

Result<SpoolConsumer::Outcome> SpoolConsumer::handleMessage(std::string_view raw, const Envelope& env,
                                                            const std::string& origin,
                                                            const QuarantineFailure& prior, uint32_t retries,
                                                            events::Event* event) {
  FailureState st = policy_.begin();
  const std::string subject = "message " + env.id.toString();
  for (;;) {
    auto r = handler_.handle(raw, env);
    if (r.ok()) {
      *event = std::move(*r);
      return Outcome::kHandled;
    }
    Decision d = policy_.onMessageFailure(r.error(), subject, st);
    if (d.action == Action::kQuarantine) {
      QuarantineFailure f;
      f.reason = d.reason;
      f.error_class = r.error().errorClass();
      f.first_failure = prior.attempts > 0 ? prior.first_failure : st.first_failure;
      f.last_failure = st.last_failure;
      f.attempts = prior.attempts + st.attempts;
      if (auto s = quarantineDurably(env, raw, f, origin, retries); !s.ok()) return s.error();
      return Outcome::kQuarantined;
    }
    if (!waitFor(d.delay)) return r.error();
  }
}

Status SpoolConsumer::publish(std::vector<events::Event>& events) {
  // The outbox fails only on its own disk or when full: retried here, with backoff.
  FailureState st = policy_.begin();
  auto t0 = SteadyClock::now();
  for (;;) {
    Status s = sink_.publish(events);
    if (s.ok()) break;
    if (stopping()) return s;
    Millis d = policy_.onOperationFailure(s.error(), "publishing " + std::to_string(events.size()) + " events", st);
    if (!waitFor(d)) return s;
  }
  metrics_.publish_seconds.observe(SteadyClock::now() - t0);
  return okStatus();
}

Status SpoolConsumer::flush() {
  if (!hasPending()) return okStatus();
  if (!events_.empty()) {
    // The batch's objects first: an event must never name an object that could still be lost.
    if (auto s = handler_.syncObjects(); !s.ok()) {
      // The objects may all be gone, and the records' bytes with them (the reader's views
      // are valid one record at a time): forget the batch and read it again. Records
      // already in the quarantine stay there and are skipped (quarantined_ is kept).
      // One FailureState across consecutive failed syncs, so the delay grows (a store that
      // refuses every batch — S3 down, a wrong secret — is not re-sent every ~50 ms).
      if (!sync_failures_) sync_failures_.emplace(policy_.begin());
      Millis d = policy_.onOperationFailure(
          s.error(), "store sync of " + std::to_string(events_.size()) + " messages (the batch is processed again)",
          *sync_failures_);
      events_.clear();
      have_done_ = false;
      reader_->rewind();
      if (!waitFor(d)) return s;
      return okStatus();
    }
    sync_failures_.reset();
    if (auto s = publish(events_); !s.ok()) return s;
  }
  FailureState st = policy_.begin();
  for (;;) {
    Status s = reader_->checkpoint(last_);
    if (s.ok()) break;
    Millis d = policy_.onOperationFailure(s.error(), "checkpoint", st);
    if (!waitFor(d)) return s;
  }
  PipelineMetrics::bump(metrics_.records_processed, events_.size());
  PipelineMetrics::bump(metrics_.batches);
  events_.clear();
  have_done_ = false;
  quarantined_.clear();
  return okStatus();
}

Status SpoolConsumer::pollRetries(bool force) {
  MonoTime now = clock_.monotonic();
  if (!force && now - last_poll_ < options_.retry_poll) return okStatus();
  last_poll_ = now;
  auto names = quarantine_.inbox();
  if (!names.ok()) {
    log("pipeline: reading the quarantine's retry inbox failed: " + names.error().message());
    return okStatus();
  }
  if (names->empty()) return okStatus();
  std::vector<events::Event> events;
  std::vector<std::string> handled, quarantined;
  for (const auto& name : *names) {
    if (handled.size() + quarantined.size() >= options_.batch_max) break;
    auto entry = quarantine_.loadRetry(name);
    if (!entry.ok()) {
      if (entry.error().errorClass() == ErrorClass::kPermanentBackend) {
        log("pipeline: " + entry.error().message() + "; set aside as " + name + ".damaged");
        if (auto s = quarantine_.setAside(name); !s.ok()) log("pipeline: " + s.error().message());
      } else if (entry.error().errorClass() != ErrorClass::kNotFound) {
        log("pipeline: reading retry " + name + " failed: " + entry.error().message());
      }
      continue;
    }
    log("pipeline: retrying quarantined message " + entry->id + " (retry " + std::to_string(entry->retries + 1) +
        "; " + std::to_string(entry->failure.attempts) + " failed attempts so far, the last: " +
        entry->failure.reason + ")");
    events::Event ev;
    auto out = handleMessage(entry->raw, entry->envelope, "retry", entry->failure, entry->retries + 1, &ev);
    if (!out.ok()) break;  // stopping: the entry stays in the inbox for the next start
    if (*out == Outcome::kHandled) {
      events.push_back(std::move(ev));
      handled.push_back(name);
    } else {
      quarantined.push_back(name);  // written back to the quarantine with the new reason
    }
  }
  for (const auto& name : quarantined) {
    if (auto s = quarantine_.finishRetry(name); !s.ok()) log("pipeline: " + s.error().message());
  }
  if (events.empty()) return okStatus();
  if (auto s = handler_.syncObjects(); !s.ok()) {
    // Nothing is lost: the entries stay in the inbox and are tried at the next poll.
    FailureState st = policy_.begin();
    policy_.onOperationFailure(s.error(), "store sync of " + std::to_string(events.size()) + " retried messages", st);
    return okStatus();
  }
  if (auto s = publish(events); !s.ok()) return s;
  PipelineMetrics::bump(metrics_.retries_processed, handled.size());
  for (const auto& name : handled) {
    // A failure here leaves the entry to be retried again: a duplicate, never a loss.
    if (auto s = quarantine_.finishRetry(name); !s.ok()) log("pipeline: " + s.error().message());
  }
  return okStatus();
}

Status SpoolConsumer::run() {
  if (auto s = pollRetries(true); !s.ok()) return s;
  bool left_idle = false;
  for (;;) {
    const bool draining = stopping();
    if (draining && options_.sched_idle && !left_idle) {
      // Reception has stopped: nothing is left to yield to, and under SCHED_IDLE any other
      // busy process on the machine would starve the drain (a SIGTERM that never finishes).
      left_idle = true;
      sched_param param{};
      if (int err = pthread_setschedparam(pthread_self(), SCHED_OTHER, &param); err != 0) {
        log(std::string("pipeline: leaving SCHED_IDLE to drain refused: ") + std::strerror(err));
      }
    }
    // With a batch pending, only look for records already durable, then publish.
    Millis wait = (hasPending() || draining) ? Millis(0) : options_.idle_wait;
    auto next = reader_->next(wait);
    if (!next.ok()) {
      FailureState st = policy_.begin();
      Millis d = policy_.onOperationFailure(next.error(), "reading the spool", st);
      if (!waitFor(d)) {
        (void)flush();
        return next.error();
      }
      continue;
    }
    if (!*next) {
      if (auto s = flush(); !s.ok()) return s;
      if (!hasPending()) metrics_.oldest_pending_unix_ms.store(0, std::memory_order_relaxed);
      if (auto s = pollRetries(draining); !s.ok()) return s;
      if (draining) return okStatus();
      continue;
    }
    const spool::Record& rec = **next;
    if (!hasPending()) {
      metrics_.oldest_pending_unix_ms.store(unixMillis(rec.envelope.received_at), std::memory_order_relaxed);
    }
    if (quarantined_.count({rec.lane, rec.sequence}) != 0) {
      markDone(rec);  // read again after a rewind; it is durably in the quarantine
      continue;
    }
    events::Event ev;
    auto out = handleMessage(rec.body, rec.envelope,
                             "spool lane " + std::to_string(rec.lane) + " sequence " + std::to_string(rec.sequence),
                             QuarantineFailure{}, 0, &ev);
    if (!out.ok()) {
      // Only while stopping: keep what is complete, leave this record for the next start.
      (void)flush();
      return out.error();
    }
    if (*out == Outcome::kHandled) {
      events_.push_back(std::move(ev));
    } else {
      quarantined_.insert({rec.lane, rec.sequence});
    }
    markDone(rec);
    if (events_.size() + quarantined_.size() >= options_.batch_max) {
      if (auto s = flush(); !s.ok()) return s;
      if (auto s = pollRetries(false); !s.ok()) return s;
    }
  }
}

}  // namespace mx::pipeline
