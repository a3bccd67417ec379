// app/readiness.h — what GET /readyz answers: whether a load balancer should send this node
// new connections. Not ready (503, with the reason in the body) when
//   - the process is stopping: from the moment SIGTERM arrives, before the listeners close,
//     so an NLB or a Kubernetes Service stops routing here while sessions drain;
//   - the spool's filesystem is below spool.min_free or read-only (policy::StorageGuard:
//     every recipient would be deferred with 452 4.3.1 anyway);
//   - commits are failing: since the previous probe at least one message was answered 451
//     because the spool (or, with ack_after = "store", the object store) failed, and none
//     was accepted. A quiet period counts as healthy, so a node that was taken out comes
//     back when the cause is gone instead of staying out for want of traffic.
// /healthz is not this: it says the process answers at all (a restart is for liveness).
//
// Threads: check() runs on the HTTP status thread; stopping() from the signal loop. Trust:
// none needed (the inputs are our own counters).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "policy/storage_guard.h"

namespace mx::app {

// Cumulative outcomes of end-of-data commits: accepted (250) and failed (451).
struct CommitOutcomes {
  uint64_t accepted = 0;
  uint64_t failed = 0;
};

class Readiness {
 public:
  // `guard` and `outcomes` must outlive this object; `outcomes` is read at each check().
  Readiness(policy::StorageGuard& guard, std::function<CommitOutcomes()> outcomes);

  // SIGTERM arrived: not ready from now on. Thread-safe, idempotent.
  void stopping() { stopping_.store(true); }
  bool isStopping() const { return stopping_.load(); }

  // Empty when ready, else why not (one line). Thread-safe.
  std::string check(MonoTime now);

 private:
  policy::StorageGuard& guard_;
  const std::function<CommitOutcomes()> outcomes_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  CommitOutcomes last_;  // at the previous check
};

}  // namespace mx::app
