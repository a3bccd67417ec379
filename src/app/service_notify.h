// app/service_notify.h — tells a service manager what state `mxgate serve` is in, over the
// sd_notify(3) protocol (systemd's Type=notify; datagrams to $NOTIFY_SOCKET): READY=1 once
// every listener and the HTTP endpoint are bound, STOPPING=1 when SIGTERM starts the drain,
// STATUS=... lines, and WATCHDOG=1 every half of $WATCHDOG_USEC (WatchdogSec=) while the
// event loops still come round. A hung loop stops the pings and systemd restarts the service.
//
// Built with libsystemd when the build finds it (MXGATE_WITH_SYSTEMD); without it every call
// is a no-op and available() is false. Without $NOTIFY_SOCKET (not under systemd) every
// call is a no-op too.
// Threads: the watchdog runs on a thread of its own; the other calls are thread-safe
// (sd_notify opens a socket per call). Trust: the environment is the service manager's.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/clock.h"

namespace mx::app {

class ServiceNotifier {
 public:
  ServiceNotifier() = default;
  ~ServiceNotifier();  // stops the watchdog
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // True when built with libsystemd.
  static bool available();

  void ready(std::string_view status);
  void stopping(std::string_view status);
  void status(std::string_view status);

  // The watchdog period systemd asked for ($WATCHDOG_USEC), 0 when none.
  static Millis watchdogInterval();
  // When a watchdog is asked for: a thread that sends WATCHDOG=1 every half of its period
  // while alive() is true; when alive() is false it skips the ping and calls
  // log(reason). No-op without a watchdog. Call once.
  void startWatchdog(std::function<bool()> alive, std::function<void(std::string_view)> log);
  void stopWatchdog();

 private:
  std::thread watchdog_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace mx::app
