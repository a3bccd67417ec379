// server/connection_limiter.cc — see connection_limiter.h.
#include "server/connection_limiter.h"

namespace mx::server {

bool ConnectionLimiter::acquireTotal() {
  uint32_t cur = active_.load(std::memory_order_relaxed);
  while (true) {
    if (cur >= total_) return false;
    if (active_.compare_exchange_weak(cur, cur + 1)) return true;
  }
}

void ConnectionLimiter::releaseTotal() { active_.fetch_sub(1); }

bool ConnectionLimiter::acquireIp(const std::string& ip) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = per_ip_count_.try_emplace(ip, 0);
  if (it->second >= per_ip_) {
    if (it->second == 0) per_ip_count_.erase(it);
    return false;
  }
  ++it->second;
  return true;
}

void ConnectionLimiter::releaseIp(const std::string& ip) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_ip_count_.find(ip);
  if (it != per_ip_count_.end() && --it->second == 0) per_ip_count_.erase(it);
}

}  // namespace mx::server
