// policy/rate_limits/rate_limiter.cc — see rate_limiter.h.
#include "policy/rate_limits/rate_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "policy/tenants.h"

namespace mx::policy {

void SlidingWindow::roll(int64_t now_ms, int64_t window_ms) {
  const int64_t idx = now_ms / window_ms;
  if (idx == window_index) return;
  // The current window becomes the previous one only if it is the one just before.
  previous = idx == window_index + 1 ? current : 0;
  current = 0;
  window_index = idx;
}

double SlidingWindow::estimate(int64_t now_ms, int64_t window_ms) const {
  const int64_t elapsed = now_ms - window_index * window_ms;
  const double weight = static_cast<double>(window_ms - elapsed) / static_cast<double>(window_ms);
  return static_cast<double>(previous) * weight + static_cast<double>(current);
}

bool SlidingWindow::allows(int64_t now_ms, int64_t window_ms, uint64_t limit, uint64_t cost) const {
  return estimate(now_ms, window_ms) + static_cast<double>(std::min(cost, limit)) <= static_cast<double>(limit);
}

bool SlidingWindow::idle(int64_t now_ms, int64_t window_ms) const {
  const int64_t idx = now_ms / window_ms;
  return idx > window_index + 1 || (idx == window_index + 1 && current == 0) ||
         (idx == window_index && current == 0 && previous == 0);
}

std::string clientNetwork(std::string_view ip) {
  std::string s(ip);
  in_addr v4{};
  in6_addr v6{};
  char buf[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    v4.s_addr = htonl(ntohl(v4.s_addr) & 0xFFFFFF00U);
    inet_ntop(AF_INET, &v4, buf, sizeof buf);
    return std::string(buf) + "/24";
  }
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      std::memcpy(&v4.s_addr, v6.s6_addr + 12, 4);
      v4.s_addr = htonl(ntohl(v4.s_addr) & 0xFFFFFF00U);
      inet_ntop(AF_INET, &v4, buf, sizeof buf);
      return std::string(buf) + "/24";
    }
    std::memset(v6.s6_addr + 8, 0, 8);
    inet_ntop(AF_INET6, &v6, buf, sizeof buf);
    return std::string(buf) + "/64";
  }
  return s;
}

std::string addressDomain(std::string_view address) {
  const size_t at = address.rfind('@');
  return normalizeDomain(at == std::string_view::npos ? address : address.substr(at + 1));
}

}  // namespace mx::policy
