// server/greet_pass_cache.cc — see greet_pass_cache.h.
#include "server/greet_pass_cache.h"

#include <iterator>

namespace mx::server {
namespace {

std::string keyOf(const std::string& listener, const std::string& ip) { return listener + " " + ip; }

}  // namespace

bool GreetPassCache::passed(const std::string& listener, const std::string& ip, MonoTime now) {
  std::lock_guard l(mu_);
  auto it = until_.find(keyOf(listener, ip));
  if (it == until_.end()) return false;
  if (it->second > now) return true;
  until_.erase(it);
  return false;
}

void GreetPassCache::remember(const std::string& listener, const std::string& ip, MonoTime now, Millis ttl) {
  if (ttl.count() <= 0) return;
  std::lock_guard l(mu_);
  if (until_.size() >= kMaxEntries) {
    for (auto it = until_.begin(); it != until_.end();) it = it->second <= now ? until_.erase(it) : std::next(it);
    if (until_.size() >= kMaxEntries) until_.clear();
  }
  until_[keyOf(listener, ip)] = now + ttl;
}

}  // namespace mx::server
