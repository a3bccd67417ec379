// policy/local_policy.h — the policy that needs no service: the tenant directory decides
// recipients (relay protection, the tenants' recipient rules; recipients of several tenants
// may share a transaction: the driver commits one copy per tenant), the storage guard defers
// recipients while the spool's filesystem is low, and passwords are checked against the
// configured crypt(3) hashes on a worker thread (slow on purpose, so never on an event
// loop). The tenants' size limits answer at MAIL (a declared SIZE= no tenant accepts), at
// RCPT (SIZE= over that recipient's tenant's limit) and at end of data (the octets
// received): 552 5.3.4. Connect and HELO are accepted: the shared rate limits are a
// further Policy chained in front. A tenant with rule = "lookup" asks its application
// through the RecipientLookup for what its list does not know: the answer (200 / 404 /
// failure) arrives on the lookup's thread and the driver resumes the session on its loop.
//
// Standards: RFC 1870 section 6 (552 5.3.4), RFC 3463 X.3.1 (storage), RFC 4954 section 6 (535 5.7.8).
// Threads: check() may be called from any thread; RCPT answers before check() returns,
// except a lookup (the lookup's thread, or at once from its cache); AUTH answers on the
// worker thread. setDirectory() swaps the directory for later queries
// (SIGHUP) and is thread-safe.
// Trust: as policy.h. Passwords are wiped from the worker's copy after use.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "policy/policy.h"
#include "policy/recipient_lookup.h"
#include "policy/storage_guard.h"
#include "policy/tenants.h"

namespace mx::policy {

class LocalPolicy final : public Policy {
 public:
  // `storage` may be null (no free-space check); `lookup` may be null (a tenant with rule =
  // "lookup" then answers its on_failure for what its list does not know). Both must
  // outlive the policy.
  LocalPolicy(DirectoryPtr directory, StorageGuard* storage, RecipientLookup* lookup = nullptr);
  ~LocalPolicy() override;  // finishes queued password checks, then joins the worker

  void setDirectory(DirectoryPtr directory);
  DirectoryPtr directory() const;

  // Policy
  void check(const Query& query, VerdictCallback done) override;

 private:
  smtp::Verdict mailFrom(const Query& q) const;
  void recipient(const Query& q, VerdictCallback done) const;
  smtp::Verdict endOfData(const Query& q) const;
  void authenticate(const Query& q, VerdictCallback done);
  void runWorker();

  StorageGuard* const storage_;
  RecipientLookup* const lookup_;
  mutable std::mutex directory_mu_;
  DirectoryPtr directory_;

  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace mx::policy
