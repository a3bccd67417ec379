// events/retry.cc — see retry.h.
#include "events/retry.h"

#include <algorithm>
#include <memory>
#include <random>

namespace mx::events {

Disposition dispositionOf(ErrorClass c) {
  switch (c) {
    case ErrorClass::kTransientBackend:
    case ErrorClass::kConfig:
    case ErrorClass::kNotFound:
      return Disposition::kRetry;
    case ErrorClass::kPermanentBackend:
    case ErrorClass::kProtocol:
    case ErrorClass::kPolicy:
    case ErrorClass::kResource:
      return Disposition::kRefused;
  }
  return Disposition::kRetry;  // unreachable; retrying never loses anything
}

RandomSource defaultRandom() {
  struct State {
    std::mutex mu;
    std::mt19937_64 rng{std::random_device{}()};
  };
  auto s = std::make_shared<State>();
  return [s] {
    std::lock_guard l(s->mu);
    return s->rng();
  };
}

Backoff::Backoff(BackoffOptions options, RandomSource random)
    : options_(options), random_(random ? std::move(random) : defaultRandom()) {
  if (options_.initial < Millis(1)) options_.initial = Millis(1);
  if (options_.max < options_.initial) options_.max = options_.initial;
}

Millis Backoff::next() {
  // initial * 2^n, saturating at max (and without overflowing for large n).
  int64_t d = options_.initial.count();
  for (uint32_t i = 0; i < attempt_ && d < options_.max.count(); ++i) d *= 2;
  d = std::min(d, static_cast<int64_t>(options_.max.count()));
  ++attempt_;
  int64_t half = d / 2;
  int64_t span = d - half;  // delay in [half, d]
  int64_t delay = half + static_cast<int64_t>(random_() % static_cast<uint64_t>(span + 1));
  return Millis(std::max<int64_t>(delay, 1));
}

bool StopWaiter::waitFor(Millis delay) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, delay, [&] { return stop_; });
  return !stop_;
}

void StopWaiter::requestStop() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void StopWaiter::clear() {
  std::lock_guard l(mu_);
  stop_ = false;
}

bool StopWaiter::stopRequested() const {
  std::lock_guard l(mu_);
  return stop_;
}

}  // namespace mx::events
