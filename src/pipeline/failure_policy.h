// pipeline/failure_policy.h — the ONE place where the pipeline maps a failure's error class
// (core/error.h) to what happens next, counts it and logs it (DESIGN.md "Errors drive
// behaviour"; the class -> retry/refused table itself is events::dispositionOf, shared with
// the sink decorator):
//
//   class                                   message failure               no message to set aside
//   kTransientBackend, kConfig, kNotFound   retry after backoff+jitter;   retry after backoff+jitter,
//                                           quarantine once it has failed  for as long as it takes
//                                           for give_up_after (0: never)
//   kPermanentBackend, kProtocol,           quarantine now (no retry)     retry (nothing can be skipped:
//   kPolicy, kResource                                                     reading, syncing, checkpointing)
//
// Each failed attempt bumps failures_transient or failures_permanent and writes one log
// line: "pipeline: <subject> failed (<class>, attempt N): <error>; <retrying in D ms |
// quarantining>".
// Threads: one consumer thread; FailureState is per operation.
// Trust: none needed.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/error.h"
#include "events/retry.h"
#include "pipeline/metrics.h"

namespace mx::pipeline {

struct RetryOptions {
  events::BackoffOptions backoff{Millis(50), Millis(5000)};
  // A message whose failures are transient goes to the quarantine once its first failure is
  // this old (pipeline.give_up_after). 0: retry it for as long as the pipeline runs.
  Millis give_up_after{3'600'000};
};

enum class Action { kRetry, kQuarantine };

struct Decision {
  Action action = Action::kRetry;
  Millis delay{0};      // kRetry: how long to wait first
  std::string reason;   // kQuarantine: why, for the entry (the error, and the bound if it gave up)
};

// The failures of one operation so far (one message, one checkpoint, ...).
struct FailureState {
  explicit FailureState(events::Backoff b) : backoff(std::move(b)) {}
  events::Backoff backoff;
  uint32_t attempts = 0;
  WallTime first_failure{};
  WallTime last_failure{};
  ErrorClass last_class = ErrorClass::kTransientBackend;
};

class FailurePolicy {
 public:
  using LogFn = std::function<void(std::string_view)>;
  FailurePolicy(RetryOptions options, const Clock& clock, events::RandomSource random, PipelineMetrics& metrics,
                LogFn log);

  FailureState begin() const { return FailureState(events::Backoff(options_.backoff, random_)); }

  // A message failed (`subject` names it, e.g. "message 01H..."): retry it, or quarantine it.
  Decision onMessageFailure(const Error& error, std::string_view subject, FailureState& state);
  // An operation that has no message to set aside failed: always retry; returns the delay.
  Millis onOperationFailure(const Error& error, std::string_view what, FailureState& state);

  const RetryOptions& options() const { return options_; }

 private:
  void record(const Error& error, FailureState& state);

  RetryOptions options_;
  const Clock& clock_;
  events::RandomSource random_;
  PipelineMetrics& metrics_;
  LogFn log_;
};

}  // namespace mx::pipeline
