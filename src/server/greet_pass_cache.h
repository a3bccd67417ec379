// server/greet_pass_cache.h — the client addresses that recently waited for a delayed
// greeting (a listener's greet_delay) without talking first. Like Postfix postscreen's
// cache of passed pregreet tests: a real MTA pays the delay once per pass_ttl, not on
// every connection. Internal to src/server.
// Threads: shared by every event loop of a Server; all calls lock one mutex (one short
// hash-map operation per connection on a listener with a greet delay).
// Trust: keys are client addresses the driver established (after PROXY); the map is
// bounded (kMaxEntries): when full, expired entries go first, then everything — a
// forgotten address is only delayed once more.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"

namespace mx::server {

class GreetPassCache {
 public:
  static constexpr size_t kMaxEntries = 100'000;

  // True when `ip` passed at most `ttl` ago on listener `listener`.
  bool passed(const std::string& listener, const std::string& ip, MonoTime now);
  // `ip` waited for the greeting without talking: greet it at once until now + ttl.
  void remember(const std::string& listener, const std::string& ip, MonoTime now, Millis ttl);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, MonoTime> until_;  // "<listener> <ip>" -> pass expiry
};

}  // namespace mx::server
