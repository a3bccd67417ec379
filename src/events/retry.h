// events/retry.h — what a failure's error class means for retrying, and the two tools a
// retry loop needs: exponential backoff with jitter (bounded, with injectable randomness)
// and an interruptible wait (injectable, so tests run retries without sleeping).
//
// dispositionOf() is the one table from ErrorClass to "try again" or "refused for good";
// the outbox's dispatcher (outbox/dispatcher.h: refused -> dead letter) and the pipeline's
// FailurePolicy (pipeline/failure_policy.h: refused -> quarantine) both read it, so a class
// never means one thing to the sink and another to the pipeline.
// (These belong in core beside error.h; they live here, the lowest module both users
// share, until core's owner takes them.)
//
// Threads: Backoff is single-threaded. StopWaiter is thread-safe: requestStop() from any
// thread wakes every waitFor() at once.
// Trust: none needed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "core/clock.h"
#include "core/error.h"

namespace mx::events {

enum class Disposition {
  kRetry,    // may heal: try again after a backoff
  kRefused,  // will not heal for this message or event: do not retry it
};

// kTransientBackend, kConfig (a backend misconfigured at run time: an operator can fix it)
// and kNotFound (an object or queue that may yet appear) are retried; kPermanentBackend,
// kProtocol, kPolicy and kResource (the backend refused this request for good, or it breaks
// a limit) are refused.
Disposition dispositionOf(ErrorClass c);

// A source of random 64-bit values, for jitter. Tests pass a fixed sequence.
using RandomSource = std::function<uint64_t()>;
// A thread-safe source seeded from std::random_device.
RandomSource defaultRandom();

struct BackoffOptions {
  Millis initial{50};   // the first delay's upper end
  Millis max{5000};     // no delay is longer than this
};

// Exponential backoff with "equal jitter": the n-th delay (n from 0) is uniformly drawn
// from [d/2, d] where d = min(max, initial * 2^n). Never zero (at least 1 ms), never above
// max; the jitter keeps many retriers from hitting a recovering backend in step.
class Backoff {
 public:
  Backoff(BackoffOptions options, RandomSource random);
  Millis next();
  void reset() { attempt_ = 0; }
  uint32_t attempts() const { return attempt_; }  // next() calls since the last reset()

 private:
  BackoffOptions options_;
  RandomSource random_;
  uint32_t attempt_ = 0;
};

// Waits between attempts. waitFor() returns true after the delay, false at once (or as soon
// as it is asked to) when the caller should stop retrying: shutting down, or draining.
class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual bool waitFor(Millis delay) = 0;
};

// The real Waiter: sleeps on a condition variable; requestStop() makes every current and
// later waitFor() return false immediately, until clear().
class StopWaiter final : public Waiter {
 public:
  // Waiter
  bool waitFor(Millis delay) override;

  void requestStop();
  void clear();
  bool stopRequested() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace mx::events
