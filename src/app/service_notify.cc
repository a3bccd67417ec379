// app/service_notify.cc — see service_notify.h.
#include "app/service_notify.h"

#ifdef MXGATE_WITH_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace mx::app {
namespace {

void notify(const std::string& state) {
#ifdef MXGATE_WITH_SYSTEMD
  // 0: keep $NOTIFY_SOCKET (the watchdog and STOPPING=1 still need it).
  sd_notify(0, state.c_str());
#else
  (void)state;
#endif
}

// STATUS= takes one line.
std::string statusLine(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

ServiceNotifier::~ServiceNotifier() { stopWatchdog(); }

bool ServiceNotifier::available() {
#ifdef MXGATE_WITH_SYSTEMD
  return true;
#else
  return false;
#endif
}

void ServiceNotifier::ready(std::string_view s) { notify("READY=1\nSTATUS=" + statusLine(s)); }
void ServiceNotifier::stopping(std::string_view s) { notify("STOPPING=1\nSTATUS=" + statusLine(s)); }
void ServiceNotifier::status(std::string_view s) { notify("STATUS=" + statusLine(s)); }

Millis ServiceNotifier::watchdogInterval() {
#ifdef MXGATE_WITH_SYSTEMD
  uint64_t usec = 0;
  // > 0: enabled for this process (it also checks $WATCHDOG_PID when set).
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    return std::chrono::duration_cast<Millis>(std::chrono::microseconds(usec));
  }
#endif
  return Millis(0);
}

void ServiceNotifier::startWatchdog(std::function<bool()> alive, std::function<void(std::string_view)> log) {
  const Millis interval = watchdogInterval();
  if (interval.count() <= 0 || watchdog_.joinable()) return;
  // Half the period, as sd_watchdog_enabled(3) recommends; at least 1 ms.
  const Millis period = std::max(Millis(1), interval / 2);
  watchdog_ = std::thread([this, period, alive = std::move(alive), log = std::move(log)] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      if (alive()) {
        notify("WATCHDOG=1");
      } else if (log) {
        log("an event loop did not come round within half the watchdog period: no WATCHDOG=1 sent");
      }
      lock.lock();
      cv_.wait_for(lock, period, [this] { return stop_; });
    }
  });
}

void ServiceNotifier::stopWatchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

}  // namespace mx::app
