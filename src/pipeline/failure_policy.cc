// pipeline/failure_policy.cc — see failure_policy.h.
#include "pipeline/failure_policy.h"

#include <cstdio>

namespace mx::pipeline {
namespace {

std::string seconds(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace

FailurePolicy::FailurePolicy(RetryOptions options, const Clock& clock, events::RandomSource random,
                             PipelineMetrics& metrics, LogFn log)
    : options_(options),
      clock_(clock),
      random_(random ? std::move(random) : events::defaultRandom()),
      metrics_(metrics),
      log_(std::move(log)) {
  if (!log_) log_ = [](std::string_view l) { std::fprintf(stderr, "%.*s\n", static_cast<int>(l.size()), l.data()); };
}

void FailurePolicy::record(const Error& error, FailureState& state) {
  WallTime now = clock_.wall();
  if (state.attempts == 0) state.first_failure = now;
  state.last_failure = now;
  ++state.attempts;
  state.last_class = error.errorClass();
  if (events::dispositionOf(error.errorClass()) == events::Disposition::kRetry) {
    PipelineMetrics::bump(metrics_.failures_transient);
  } else {
    PipelineMetrics::bump(metrics_.failures_permanent);
  }
}

Decision FailurePolicy::onMessageFailure(const Error& error, std::string_view subject, FailureState& state) {
  record(error, state);
  std::string head = "pipeline: " + std::string(subject) + " failed (" + std::string(errorClassName(error.errorClass())) +
                     ", attempt " + std::to_string(state.attempts) + "): " + error.message();
  Decision d;
  if (events::dispositionOf(error.errorClass()) == events::Disposition::kRefused) {
    d.action = Action::kQuarantine;
    d.reason = error.message();
    log_(head + "; quarantining (not retried)");
    return d;
  }
  auto failing_for = std::chrono::duration_cast<Millis>(state.last_failure - state.first_failure);
  if (options_.give_up_after > Millis(0) && failing_for >= options_.give_up_after) {
    d.action = Action::kQuarantine;
    d.reason = "gave up after " + std::to_string(state.attempts) + " attempts over " + seconds(failing_for) +
               " (pipeline.give_up_after " + seconds(options_.give_up_after) + "): " + error.message();
    log_(head + "; failing for " + seconds(failing_for) + ", quarantining");
    return d;
  }
  d.delay = state.backoff.next();
  log_(head + "; retrying in " + std::to_string(d.delay.count()) + " ms");
  return d;
}

Millis FailurePolicy::onOperationFailure(const Error& error, std::string_view what, FailureState& state) {
  record(error, state);
  Millis delay = state.backoff.next();
  log_("pipeline: " + std::string(what) + " failed (" + std::string(errorClassName(error.errorClass())) +
       ", attempt " + std::to_string(state.attempts) + "): " + error.message() + "; retrying in " +
       std::to_string(delay.count()) + " ms");
  return delay;
}

}  // namespace mx::pipeline
