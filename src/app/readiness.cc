// app/readiness.cc — see readiness.h.
#include "app/readiness.h"

namespace mx::app {

Readiness::Readiness(policy::StorageGuard& guard, std::function<CommitOutcomes()> outcomes)
    : guard_(guard), outcomes_(std::move(outcomes)) {
  last_ = outcomes_();
}

std::string Readiness::check(MonoTime now) {
  if (stopping_.load()) return "stopping: draining sessions";
  CommitOutcomes current = outcomes_();
  bool commits_failing;
  {
    std::lock_guard lock(mu_);
    commits_failing = current.failed > last_.failed && current.accepted == last_.accepted;
    last_ = current;
  }
  if (!guard_.hasRoom(now)) return "spool filesystem below spool.min_free or read-only";
  if (commits_failing) return "commits failing: messages answered 451 and none accepted since the last probe";
  return "";
}

}  // namespace mx::app
