// policy/recipient_lookup.h — asking the customer's own application whether a recipient
// exists ([tenant.recipients] rule = "lookup"), so that an unknown address is refused at RCPT
// (550 5.1.1) instead of bouncing later (backscatter). The policy knows only this interface:
// the HTTP implementation is its own library (policy/lookup/http_recipient_lookup.h, named
// by src/app only), so mx_policy links no HTTP client.
//
// CachingRecipientLookup sits in front of any backend: answers are kept per tenant for the
// tenant's positive_ttl ("exists") and negative_ttl ("unknown"), at most cache_size entries
// per tenant (least recently used first out), never a failure; concurrent questions about
// one address share one backend request; and at most `max_pending` distinct questions wait
// on the backend at once — beyond that a question fails at once (the tenant's on_failure
// then decides), so a flood of random addresses cannot queue without bound.
//
// Threads: lookup() may be called from any thread; `done` runs exactly once, before
// lookup() returns (cache hit, overflow) or on the backend's thread. Never blocks.
// Trust: the address is client text (the policy passes only a routed, syntax-checked path);
// answers come from the customer's service and are trusted only as exists/unknown/failed.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"

namespace mx::policy {

// How one tenant's lookup is made (the [tenant.recipients] keys of rule = "lookup").
struct LookupSettings {
  std::string url;                 // http:// or https://
  std::string method = "GET";      // "GET" (?address=&tenant=) | "POST" (a JSON body)
  std::string authorization;       // the Authorization header's value; empty: none
  Millis timeout{2'000};           // the whole exchange, connect included
  Millis positive_ttl{600'000};    // how long "exists" is kept
  Millis negative_ttl{60'000};     // how long "unknown" is kept
  bool accept_on_failure = false;  // on_failure = "accept" (else 451 4.3.0)
  uint32_t cache_size = 10'000;    // answers kept for this tenant; 0: none
};

enum class LookupAnswer : uint8_t { kExists, kUnknown, kFailed };
std::string_view lookupAnswerName(LookupAnswer a);  // "exists", "unknown", "failed"

using LookupCallback = std::function<void(LookupAnswer)>;

class RecipientLookup {
 public:
  virtual ~RecipientLookup() = default;
  // Asks whether `address` (the mailbox: local part without a +detail, "@", domain) is a
  // recipient of `tenant`. `done` is called exactly once; see the file comment for threads.
  virtual void lookup(const std::string& tenant, const LookupSettings& settings, const std::string& address,
                      LookupCallback done) = 0;
};

struct LookupCacheStats {
  uint64_t hits = 0;       // answered from the cache
  uint64_t misses = 0;     // sent to the backend
  uint64_t coalesced = 0;  // joined a question already on its way
  uint64_t failures = 0;   // the backend answered kFailed
  uint64_t overflows = 0;  // failed at once: max_pending questions already waiting
  uint64_t evictions = 0;  // entries dropped for cache_size
};

class CachingRecipientLookup final : public RecipientLookup {
 public:
  // `backend` and `clock` must outlive this object (and every answer still on its way).
  CachingRecipientLookup(RecipientLookup& backend, const Clock& clock, size_t max_pending = 1024);

  // RecipientLookup
  void lookup(const std::string& tenant, const LookupSettings& settings, const std::string& address,
              LookupCallback done) override;

  LookupCacheStats stats() const;
  // Prometheus text: mxgate_recipient_lookups_total{result="hit|miss|coalesced|failed|overflow"}
  // and mxgate_recipient_lookup_cache_evictions_total.
  std::string renderMetrics() const;

 private:
  struct Entry {
    bool exists = false;
    MonoTime expires{};
    std::list<std::string>::iterator lru;  // position in TenantCache::lru (front: newest)
  };
  struct TenantCache {
    std::unordered_map<std::string, Entry> entries;
    std::list<std::string> lru;
  };
  void answered(const std::string& tenant, const std::string& key, const LookupSettings& settings, LookupAnswer a);

  RecipientLookup& backend_;
  const Clock& clock_;
  const size_t max_pending_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, TenantCache> caches_;                   // by tenant
  std::unordered_map<std::string, std::vector<LookupCallback>> pending_;  // by tenant + key
  LookupCacheStats stats_;
};

}  // namespace mx::policy
