// policy/rate_limits/rate_limiter.h — the RateLimiter interface the rate-limit policy asks
// (one decision: several counters checked and charged together, all or nothing), the
// sliding-window maths every backend applies, and the client-network key (IPv4 /24, IPv6
// /64). Backends: local/ (in-process counters) and redis/ (counters shared through Redis,
// the same maths in a Lua script); src/app chooses one by name.
//
// The window: a limit of N per interval W keeps the count of the current fixed window and
// of the previous one, and estimates the last W as prev * (W - elapsed) / W + current (the
// sliding-window counter of Cloudflare's and KumoMTA's throttles): O(1) state per key, exact
// at window edges to within the previous window's shape. A check of cost c is allowed when
// estimate + min(c, N) <= N — so a single unit larger than the whole budget (a big message
// against a bytes limit) still passes into an empty window, rather than never. Refused
// checks charge nothing; an allowed decision charges every check's full cost.
//
// Threads: decide() may be called from any thread, concurrently; `done` runs exactly once,
// before decide() returns (local) or later on the backend's own thread (redis). It must not
// throw and must not call decide() of the same limiter recursively on a backend that holds
// a lock (none here does).
// Trust: keys carry client bytes (addresses, domains); backends use them only as opaque map
// or Redis key material (length-bounded by the SMTP session's path limits).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"

namespace mx::policy {

// One counter to check and charge: limit `limit` per `window` for `key` of limit `name`.
struct RateCheck {
  std::string name;  // the [[rate_limit]] name (counters of different limits never mix)
  std::string key;   // the key's value: "192.0.2.7", "example.com", ...
  uint64_t limit = 0;
  Millis window{60'000};
  uint64_t cost = 1;
};

struct RateDecision {
  // The index of the first refusing check in the decision, or -1 when all were allowed.
  int refused = -1;
  // The backend could not decide (and on_backend_error = "fail_closed"): nothing charged.
  bool backend_error = false;
  // Decided by the fail_open fallback because the shared backend could not.
  bool fallback = false;
  bool allowed() const { return refused < 0 && !backend_error; }
};

using RateDecisionCallback = std::function<void(RateDecision)>;

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Checks every entry of `checks` and, only if all are within their limits, charges each
  // its cost; answers through `done` (exactly once). `now` is the caller's monotonic time
  // (the local backend's clock; the Redis backend uses the Redis server's clock so that
  // every node agrees). An empty `checks` is allowed at once.
  virtual void decide(std::vector<RateCheck> checks, MonoTime now, RateDecisionCallback done) = 0;
  // This backend's own metrics in the Prometheus text format (none by default).
  virtual void renderMetrics(std::string& /*out*/) const {}
};
using RateLimiterPtr = std::shared_ptr<RateLimiter>;

// The sliding-window state of one counter, and its maths (shared by the local backend and,
// as a Lua transcription, by the Redis script; tests pin both to the same answers).
struct SlidingWindow {
  int64_t window_index = 0;  // now_ms / window_ms when `current` was last charged
  uint64_t current = 0;
  uint64_t previous = 0;

  // Moves the window to `now_ms` (a count older than one window is forgotten).
  void roll(int64_t now_ms, int64_t window_ms);
  // The estimated count over the last window at `now_ms` (after roll()).
  double estimate(int64_t now_ms, int64_t window_ms) const;
  // estimate + min(cost, limit) <= limit (after roll()).
  bool allows(int64_t now_ms, int64_t window_ms, uint64_t limit, uint64_t cost) const;
  // True when every count has aged out at `now_ms`: the state can be dropped losslessly.
  bool idle(int64_t now_ms, int64_t window_ms) const;
};

// The client-network key: "a.b.c.0/24" for IPv4 (and IPv4-mapped IPv6), "p:q:r:s::/64"
// for IPv6; the input unchanged when it is not an address.
std::string clientNetwork(std::string_view ip);

// The domain of an address (after the last '@'), lower-cased, without a trailing dot;
// the whole address lower-cased when it has no '@'.
std::string addressDomain(std::string_view address);

}  // namespace mx::policy
