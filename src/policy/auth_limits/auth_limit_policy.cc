// policy/auth_limits/auth_limit_policy.cc — see auth_limit_policy.h.
#include "policy/auth_limits/auth_limit_policy.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace mx::policy {
namespace {

using smtp::ReplyId;
using smtp::Verdict;

// Failures of one key within the window, and its lock-out.
struct Counter {
  uint32_t failures = 0;
  MonoTime window_start{};
  MonoTime locked_until{};
};

// Counters by key, bounded: when full, expired entries go first, then the oldest window.
class CounterMap {
 public:
  explicit CounterMap(uint64_t max) : max_(max) {}

  Counter* find(const std::string& key, MonoTime now, Millis window) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    Counter& c = it->second;
    if (now - c.window_start >= window) {
      c.failures = 0;  // the window has passed (a lock-out runs its own course)
      c.window_start = now;
    }
    return &c;
  }

  Counter& at(const std::string& key, MonoTime now, Millis window) {
    if (Counter* c = find(key, now, window)) return *c;
    if (map_.size() >= max_) evict(now, window);
    Counter& c = map_[key];
    c.window_start = now;
    return c;
  }

  void erase(const std::string& key) { map_.erase(key); }
  size_t size() const { return map_.size(); }
  size_t locked(MonoTime now) const {
    return static_cast<size_t>(
        std::count_if(map_.begin(), map_.end(), [&](const auto& kv) { return kv.second.locked_until > now; }));
  }

 private:
  void evict(MonoTime now, Millis window) {
    for (auto it = map_.begin(); it != map_.end();) {
      const Counter& c = it->second;
      it = (now - c.window_start >= window && c.locked_until <= now) ? map_.erase(it) : std::next(it);
    }
    if (map_.size() < max_) return;
    auto oldest = std::min_element(map_.begin(), map_.end(), [](const auto& a, const auto& b) {
      return a.second.window_start < b.second.window_start;
    });
    if (oldest != map_.end()) map_.erase(oldest);
  }

  uint64_t max_;
  std::unordered_map<std::string, Counter> map_;
};

Millis delayOf(const AuthLimitsSettings& s, uint32_t failures) {
  if (failures == 0 || s.delay_base.count() <= 0) return Millis(0);
  Millis d = s.delay_base;
  for (uint32_t i = 1; i < failures && d < s.delay_max; ++i) d *= 2;
  return std::min(d, s.delay_max);
}

}  // namespace

struct AuthLimitPolicy::State {
  State(AuthLimitsSettings s, LogFn l, NowFn n)
      : settings(s),
        log(std::move(l)),
        now(n ? std::move(n) : [] { return std::chrono::steady_clock::now(); }),
        by_ip(s.max_keys),
        by_user(s.max_keys),
        by_pair(s.max_keys),
        timer([this] { runTimer(); }) {}

  ~State() {
    {
      std::lock_guard l(timer_mu);
      stopping = true;
    }
    timer_cv.notify_all();
    timer.join();
  }

  // Calls `fn` after `d` on the timer thread (at once, on this thread, when d is 0).
  void after(Millis d, std::function<void()> fn) {
    if (d.count() <= 0) {
      fn();
      return;
    }
    {
      std::lock_guard l(timer_mu);
      due.emplace(std::chrono::steady_clock::now() + d, std::move(fn));
    }
    timer_cv.notify_all();
  }

  void runTimer() {
    std::unique_lock l(timer_mu);
    for (;;) {
      if (due.empty()) {
        if (stopping) return;
        timer_cv.wait(l, [this] { return stopping || !due.empty(); });
        continue;
      }
      auto first = due.begin();
      // Stopping: answer what is waiting now rather than leave a session parked.
      if (!stopping && std::chrono::steady_clock::now() < first->first) {
        timer_cv.wait_until(l, first->first);
        continue;
      }
      auto fn = std::move(first->second);
      due.erase(first);
      l.unlock();
      fn();
      l.lock();
    }
  }

  static std::string pairKey(const std::string& ip, const std::string& user) { return user + "\n" + ip; }

  // Under mu. The lock-out reply, if this attempt is refused outright.
  bool locked(const std::string& ip, const std::string& user, MonoTime t) {
    const Millis w = settings.window;
    if (Counter* c = by_ip.find(ip, t, w); c != nullptr && c->locked_until > t) return true;
    // A user name under attack: every address that failed for it (in the window) is refused.
    Counter* cu = by_user.find(user, t, w);
    if (cu == nullptr || cu->locked_until <= t) return false;
    Counter* cp = by_pair.find(pairKey(ip, user), t, w);
    return cp != nullptr && cp->failures > 0;
  }

  Millis delay(const std::string& ip, const std::string& user, MonoTime t) {
    const Millis w = settings.window;
    uint32_t n = 0;
    if (Counter* c = by_ip.find(ip, t, w)) n = std::max(n, c->failures);
    if (Counter* c = by_user.find(user, t, w)) n = std::max(n, c->failures);
    return delayOf(settings, n);
  }

  // Under mu: a failed attempt. Returns the log line of a new lock-out, if any.
  std::string failed(const std::string& ip, const std::string& user, MonoTime t) {
    const Millis w = settings.window;
    std::string line;
    Counter& ci = by_ip.at(ip, t, w);
    ++ci.failures;
    ++by_pair.at(pairKey(ip, user), t, w).failures;
    Counter& cu = by_user.at(user, t, w);
    ++cu.failures;
    if (ci.failures >= settings.max_failures && ci.locked_until <= t) {
      ci.locked_until = t + settings.lockout;
      lockouts_address.fetch_add(1, std::memory_order_relaxed);
      line = "client " + ip + " locked out of AUTH for " + std::to_string(settings.lockout.count() / 1000) +
             " s after " + std::to_string(ci.failures) + " failures (last user name \"" + user + "\")";
    }
    if (cu.failures >= settings.user_max_failures && cu.locked_until <= t) {
      // The name is under attack: every address that failed for it is locked out for it.
      cu.locked_until = t + settings.lockout;
      lockouts_user.fetch_add(1, std::memory_order_relaxed);
      if (!line.empty()) line += "; ";
      line += "user name \"" + user + "\" has " + std::to_string(cu.failures) +
              " failures: every address that failed for it is locked out of AUTH for it for " +
              std::to_string(settings.lockout.count() / 1000) + " s (last " + ip + ")";
    }
    return line;
  }

  void succeeded(const std::string& ip, const std::string& user) {
    by_ip.erase(ip);
    by_pair.erase(pairKey(ip, user));
  }

  const AuthLimitsSettings settings;
  const LogFn log;
  const NowFn now;

  std::mutex mu;
  CounterMap by_ip, by_user, by_pair;

  std::atomic<uint64_t> failures{0}, refusals{0}, delayed{0}, lockouts_address{0}, lockouts_user{0};

  std::mutex timer_mu;
  std::condition_variable timer_cv;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> due;
  bool stopping = false;
  std::thread timer;
};

AuthLimitPolicy::AuthLimitPolicy(Policy& inner, AuthLimitsSettings settings, LogFn log, NowFn now)
    : inner_(inner), state_(std::make_unique<State>(settings, std::move(log), std::move(now))) {}

AuthLimitPolicy::~AuthLimitPolicy() = default;

void AuthLimitPolicy::check(const Query& q, VerdictCallback done) {
  if (q.stage != Stage::kAuth || q.auth == nullptr || !state_->settings.enabled) {
    inner_.check(q, std::move(done));
    return;
  }
  State& st = *state_;
  std::string ip = q.envelope.client_ip;
  std::string user = q.auth->authcid;
  Millis d{0};
  {
    std::lock_guard l(st.mu);
    const MonoTime t = st.now();
    if (st.locked(ip, user, t)) {
      st.refusals.fetch_add(1, std::memory_order_relaxed);
      done(Verdict::refuse(ReplyId::kAuthLockedOut));
      return;
    }
    d = st.delay(ip, user, t);
  }
  if (d.count() > 0) st.delayed.fetch_add(1, std::memory_order_relaxed);
  inner_.check(q, [&st, ip = std::move(ip), user = std::move(user), d, done = std::move(done)](Verdict v) mutable {
    if (!v.accepted() && v.reply() == ReplyId::kAuthFailed) {
      st.failures.fetch_add(1, std::memory_order_relaxed);
      std::string line;
      {
        std::lock_guard l(st.mu);
        line = st.failed(ip, user, st.now());
      }
      if (!line.empty() && st.log) st.log(line);
    } else if (v.accepted()) {
      std::lock_guard l(st.mu);
      st.succeeded(ip, user);
    }
    st.after(d, [done = std::move(done), v = std::move(v)]() mutable { done(std::move(v)); });
  });
}

Millis AuthLimitPolicy::delayFor(const std::string& ip, const std::string& user) {
  std::lock_guard l(state_->mu);
  return state_->delay(ip, user, state_->now());
}

bool AuthLimitPolicy::lockedOut(const std::string& ip, const std::string& user) {
  std::lock_guard l(state_->mu);
  return state_->locked(ip, user, state_->now());
}

std::string AuthLimitPolicy::renderMetrics() const {
  State& st = *state_;
  size_t locked = 0;
  {
    std::lock_guard l(st.mu);
    locked = st.by_ip.locked(st.now());
  }
  auto counter = [](std::string& out, const char* name, const char* help, const std::string& labels, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
    out += name + labels + " " + std::to_string(v) + "\n";
  };
  std::string out;
  counter(out, "mxgate_auth_limit_failures_total", "AUTH attempts refused for wrong credentials", "",
          st.failures.load());
  counter(out, "mxgate_auth_limit_refusals_total", "AUTH attempts refused with 454 4.7.0 by a lock-out", "",
          st.refusals.load());
  counter(out, "mxgate_auth_limit_delayed_total", "AUTH answers delayed after earlier failures", "", st.delayed.load());
  const std::string lockouts = "mxgate_auth_limit_lockouts_total";
  out += "# HELP " + lockouts + " Lock-outs begun, by scope (address; user: an address for a user name)\n";
  out += "# TYPE " + lockouts + " counter\n";
  out += lockouts + "{scope=\"address\"} " + std::to_string(st.lockouts_address.load()) + "\n";
  out += lockouts + "{scope=\"user\"} " + std::to_string(st.lockouts_user.load()) + "\n";
  const std::string locked_now = "mxgate_auth_limit_locked_addresses";
  out += "# HELP " + locked_now + " Client addresses locked out of AUTH now\n";
  out += "# TYPE " + locked_now + " gauge\n";
  out += locked_now + " " + std::to_string(locked) + "\n";
  return out;
}

}  // namespace mx::policy
