// events/in_flight_limit.cc — see in_flight_limit.h.
#include "events/in_flight_limit.h"

#include <utility>

namespace mx::events {

void InFlightLimit::submit(std::function<void()> task) {
  {
    std::lock_guard lk(mu_);
    if (running_ >= limit_) {
      waiting_.push_back(std::move(task));
      return;
    }
    ++running_;
  }
  task();
}

void InFlightLimit::release() {
  std::function<void()> next;
  {
    std::lock_guard lk(mu_);
    if (waiting_.empty()) {
      --running_;
      return;
    }
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  next();  // the released slot is now this task's
}

void PendingDeliveries::set(size_t i, Delivery d) {
  std::lock_guard lk(mu_);
  out_[i] = std::move(d);
  if (--pending_ == 0) cv_.notify_all();
}

std::vector<Delivery> PendingDeliveries::wait() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this] { return pending_ == 0; });
  return std::move(out_);
}

}  // namespace mx::events
