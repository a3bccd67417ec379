// policy/local_policy.cc — see local_policy.h.
#include "policy/local_policy.h"

#include <algorithm>
#include <string>

namespace mx::policy {

using smtp::ReplyId;
using smtp::Verdict;

LocalPolicy::LocalPolicy(DirectoryPtr directory, StorageGuard* storage, RecipientLookup* lookup)
    : storage_(storage), lookup_(lookup), directory_(std::move(directory)), worker_([this] { runWorker(); }) {}

LocalPolicy::~LocalPolicy() {
  {
    std::lock_guard lock(jobs_mu_);
    stopping_ = true;
  }
  jobs_cv_.notify_all();
  worker_.join();
}

void LocalPolicy::setDirectory(DirectoryPtr directory) {
  std::lock_guard lock(directory_mu_);
  directory_ = std::move(directory);
}

DirectoryPtr LocalPolicy::directory() const {
  std::lock_guard lock(directory_mu_);
  return directory_;
}

void LocalPolicy::check(const Query& q, VerdictCallback done) {
  switch (q.stage) {
    case Stage::kRcptTo:
      recipient(q, std::move(done));
      return;
    case Stage::kAuth:
      authenticate(q, std::move(done));
      return;
    case Stage::kMailFrom:
      done(mailFrom(q));
      return;
    case Stage::kEndOfData:
      done(endOfData(q));
      return;
    case Stage::kConnect:
    case Stage::kHelo:
      done(Verdict::accept());
      return;
  }
  done(Verdict::refuse(ReplyId::kPolicyTempFail));
}

Verdict LocalPolicy::mailFrom(const Query& q) const {
  // RFC 1870 section 6.1: a declared size no tenant accepts is refused before any RCPT.
  // With one tenant this is that tenant's limit; with several, RCPT checks each.
  const uint64_t largest = directory()->largestMessageSize();
  if (largest != 0 && q.envelope.declared_size > largest) return Verdict::refuse(ReplyId::kSizeExceedsLimit);
  return Verdict::accept();
}

void LocalPolicy::recipient(const Query& q, VerdictCallback done) const {
  const DirectoryPtr dir = directory();
  RecipientRoute route = dir->routeRecipient(q.argument, q.envelope.auth_user);
  if (!route.accepted) return done(Verdict::refuse(route.refusal));
  // RFC 1870 section 6.2 lets a server refuse a recipient whose own limit the declared
  // size exceeds: the client then keeps the message for the other recipients.
  const TenantPolicy* tenant = dir->tenant(route.tenant);
  if (tenant != nullptr && tenant->max_message_size != 0 && q.envelope.declared_size > tenant->max_message_size) {
    return done(Verdict::refuse(ReplyId::kSizeExceedsLimit));
  }
  // The tenant's recipient rule, for its own domains (an authenticated submitter's outside
  // recipients are not the tenant's to know). Refused here, nobody gets a bounce later.
  const RecipientCheck check =
      route.local && tenant != nullptr ? Directory::checkRecipient(*tenant, q.argument) : RecipientCheck::kKnown;
  if (check == RecipientCheck::kUnknown) return done(Verdict::refuse(ReplyId::kUnknownRecipient));
  // Before the body is sent, not after: the client keeps the message and retries. Also
  // before a lookup: no request for a recipient that would be deferred anyway.
  if (storage_ != nullptr && !storage_->hasRoom(q.now)) return done(Verdict::refuse(ReplyId::kInsufficientStorage));
  if (check == RecipientCheck::kKnown) return done(Verdict::acceptRecipient(std::move(route.tenant)));
  // rule = "lookup": the customer's application decides. Its answer comes on the lookup's
  // thread (or at once from the cache); the driver resumes the session on its own loop.
  const bool accept_on_failure = tenant->lookup.accept_on_failure;
  if (lookup_ == nullptr) {
    return done(accept_on_failure ? Verdict::acceptRecipient(std::move(route.tenant))
                                  : Verdict::refuse(ReplyId::kPolicyTempFail));
  }
  lookup_->lookup(
      route.tenant, tenant->lookup, Directory::mailboxOf(*tenant, q.argument),
      [done = std::move(done), name = route.tenant, accept_on_failure](LookupAnswer a) {
        switch (a) {
          case LookupAnswer::kExists:
            return done(Verdict::acceptRecipient(name));
          case LookupAnswer::kUnknown:
            return done(Verdict::refuse(ReplyId::kUnknownRecipient));
          case LookupAnswer::kFailed:
            break;
        }
        // RFC 5321 4.2.2 / RFC 3463 X.3.0: try again later, unless the tenant
        // prefers accepting to delaying (on_failure = "accept").
        done(accept_on_failure ? Verdict::acceptRecipient(name) : Verdict::refuse(ReplyId::kPolicyTempFail));
      });
}

Verdict LocalPolicy::endOfData(const Query& q) const {
  // The octets received against the limit of each tenant of the transaction (RFC 1870
  // section 6.1: 552 5.3.4). Without SIZE= this is the first point the size is known. One
  // reply answers every recipient after the data, so a message over one of its tenants'
  // limits is refused as a whole.
  const DirectoryPtr dir = directory();
  for (const auto& name : tenantsOf(q.envelope)) {
    const TenantPolicy* tenant = dir->tenant(name);
    if (tenant != nullptr && tenant->max_message_size != 0 && q.message_size > tenant->max_message_size) {
      return Verdict::refuse(ReplyId::kMessageTooBig);
    }
  }
  return Verdict::accept();
}

void LocalPolicy::authenticate(const Query& q, VerdictCallback done) {
  // Copy what the check needs: the worker runs after check() has returned.
  std::string user = q.auth->authcid, password = q.auth->password, authz = q.auth->authzid;
  DirectoryPtr dir = directory();
  auto job = [dir = std::move(dir), user = std::move(user), password = std::move(password),
              authz = std::move(authz), done = std::move(done)]() mutable {
    // RFC 4616: an authorization identity other than the user's own is not supported.
    bool ok = (authz.empty() || authz == user) && dir->authenticate(user, password).has_value();
    std::fill(password.begin(), password.end(), '\0');
    done(ok ? Verdict::accept() : Verdict::refuse(ReplyId::kAuthFailed));
  };
  {
    std::lock_guard lock(jobs_mu_);
    jobs_.push_back(std::move(job));
  }
  jobs_cv_.notify_one();
}

void LocalPolicy::runWorker() {
  std::unique_lock lock(jobs_mu_);
  for (;;) {
    jobs_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and every queued check has answered
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace mx::policy
