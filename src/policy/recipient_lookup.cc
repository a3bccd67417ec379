// policy/recipient_lookup.cc — see recipient_lookup.h.
#include "policy/recipient_lookup.h"

#include "core/prometheus.h"

namespace mx::policy {
namespace {

// The cache key within a tenant: the settings that shape the answer, then the address
// lower-cased (local parts are matched case-insensitively, as in the other rules).
std::string cacheKey(const LookupSettings& s, const std::string& address) {
  std::string k = s.method + " " + s.url + "\n";
  for (char c : address) k += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  return k;
}

}  // namespace

std::string_view lookupAnswerName(LookupAnswer a) {
  switch (a) {
    case LookupAnswer::kExists:
      return "exists";
    case LookupAnswer::kUnknown:
      return "unknown";
    case LookupAnswer::kFailed:
      return "failed";
  }
  return "?";
}

CachingRecipientLookup::CachingRecipientLookup(RecipientLookup& backend, const Clock& clock, size_t max_pending)
    : backend_(backend), clock_(clock), max_pending_(max_pending) {}

void CachingRecipientLookup::lookup(const std::string& tenant, const LookupSettings& settings,
                                    const std::string& address, LookupCallback done) {
  std::string key = cacheKey(settings, address);
  std::string pending_key = tenant + "\n" + key;
  {
    std::unique_lock lock(mu_);
    auto c = caches_.find(tenant);
    if (c != caches_.end()) {
      auto e = c->second.entries.find(key);
      if (e != c->second.entries.end()) {
        if (clock_.monotonic() < e->second.expires) {
          c->second.lru.splice(c->second.lru.begin(), c->second.lru, e->second.lru);
          const LookupAnswer a = e->second.exists ? LookupAnswer::kExists : LookupAnswer::kUnknown;
          ++stats_.hits;
          lock.unlock();
          done(a);
          return;
        }
        c->second.lru.erase(e->second.lru);
        c->second.entries.erase(e);
      }
    }
    auto p = pending_.find(pending_key);
    if (p != pending_.end()) {
      ++stats_.coalesced;
      p->second.push_back(std::move(done));
      return;
    }
    if (pending_.size() >= max_pending_) {
      ++stats_.overflows;
      lock.unlock();
      done(LookupAnswer::kFailed);
      return;
    }
    ++stats_.misses;
    pending_[pending_key].push_back(std::move(done));
  }
  // Outside the lock: the backend may answer before it returns.
  backend_.lookup(tenant, settings, address, [this, tenant, key = std::move(key), settings](LookupAnswer a) {
    answered(tenant, key, settings, a);
  });
}

void CachingRecipientLookup::answered(const std::string& tenant, const std::string& key, const LookupSettings& settings,
                                      LookupAnswer a) {
  std::vector<LookupCallback> waiters;
  {
    std::lock_guard lock(mu_);
    auto p = pending_.find(tenant + "\n" + key);
    if (p != pending_.end()) {
      waiters = std::move(p->second);
      pending_.erase(p);
    }
    const Millis ttl = a == LookupAnswer::kExists ? settings.positive_ttl : settings.negative_ttl;
    if (a == LookupAnswer::kFailed) {
      ++stats_.failures;  // never cached: the next question asks again
    } else if (settings.cache_size != 0 && ttl.count() > 0) {
      TenantCache& c = caches_[tenant];
      auto [it, inserted] = c.entries.try_emplace(key);
      if (inserted) {
        c.lru.push_front(key);
      } else {
        c.lru.splice(c.lru.begin(), c.lru, it->second.lru);
      }
      it->second.lru = c.lru.begin();
      it->second.exists = a == LookupAnswer::kExists;
      it->second.expires = clock_.monotonic() + ttl;
      while (c.entries.size() > settings.cache_size) {
        c.entries.erase(c.lru.back());
        c.lru.pop_back();
        ++stats_.evictions;
      }
    }
  }
  for (auto& w : waiters) w(a);
}

LookupCacheStats CachingRecipientLookup::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::string CachingRecipientLookup::renderMetrics() const {
  const LookupCacheStats s = stats();
  std::string out;
  const char* name = "mxgate_recipient_lookups_total";
  prometheus::family(out, name, "counter", "Recipient lookups ([tenant.recipients] rule = \"lookup\") by outcome");
  prometheus::labelled(out, name, "result=\"hit\"", static_cast<double>(s.hits));
  prometheus::labelled(out, name, "result=\"miss\"", static_cast<double>(s.misses));
  prometheus::labelled(out, name, "result=\"coalesced\"", static_cast<double>(s.coalesced));
  prometheus::labelled(out, name, "result=\"failed\"", static_cast<double>(s.failures));
  prometheus::labelled(out, name, "result=\"overflow\"", static_cast<double>(s.overflows));
  prometheus::counter(out, "mxgate_recipient_lookup_cache_evictions_total",
                      "Cached lookup answers dropped for recipients.cache_size", s.evictions);
  return out;
}

}  // namespace mx::policy
