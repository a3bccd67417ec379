// server/connection_limiter.h — counts open connections in total and per client address
// (after PROXY protocol, so a load balancer's address is never the one limited) across all
// event-loop threads. Touched at connect and close only, never per byte: the per-address
// map takes one mutex.
// Trust: addresses are connection facts established by the driver.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mx::server {

class ConnectionLimiter {
 public:
  ConnectionLimiter(uint32_t total, uint32_t per_ip) : total_(total), per_ip_(per_ip) {}

  // True (and counted) when below the limit; release once for every true.
  bool acquireTotal();
  void releaseTotal();
  bool acquireIp(const std::string& ip);
  void releaseIp(const std::string& ip);

 private:
  const uint32_t total_, per_ip_;
  std::atomic<uint32_t> active_{0};
  std::mutex mu_;
  std::unordered_map<std::string, uint32_t> per_ip_count_;
};

}  // namespace mx::server
