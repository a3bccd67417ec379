// policy/rate_limits/redis/redis_rate_limiter.cc — see redis_rate_limiter.h.
#include "policy/rate_limits/redis/redis_rate_limiter.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <unordered_map>

#include "core/prometheus.h"
#include "policy/rate_limits/redis/asio_hiredis.h"

namespace mx::policy {
namespace {

namespace asio = boost::asio;

// KEYS[i]: the counter hash of check i; ARGV[3i-2..3i]: its limit, window (ms) and cost.
// Returns 0 when every check is within its limit (then all are charged), else the 1-based
// index of the first that is not (nothing charged). The same maths as SlidingWindow.
constexpr std::string_view kScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rows = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i - 2])
  local win = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local idx = math.floor(now / win)
  local v = redis.call('HMGET', KEYS[i], 'w', 'c', 'p')
  local w = tonumber(v[1]) or idx
  local c = tonumber(v[2]) or 0
  local p = tonumber(v[3]) or 0
  if w ~= idx then
    if w == idx - 1 then p = c else p = 0 end
    c = 0
  end
  local est = p * (win - (now - idx * win)) / win + c
  if est + math.min(cost, limit) > limit then return i end
  rows[i] = {idx, c + cost, p, win}
end
for i = 1, #KEYS do
  local r = rows[i]
  redis.call('HSET', KEYS[i], 'w', r[1], 'c', r[2], 'p', r[3])
  redis.call('PEXPIRE', KEYS[i], 2 * r[4])
end
return 0
)lua";

}  // namespace

class RedisRateLimiter::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(RedisRateLimiterOptions o, RateLimiterPtr fallback)
      : o_(std::move(o)),
        fallback_(std::move(fallback)),
        work_(asio::make_work_guard(ioc_)),
        deadline_timer_(ioc_),
        reconnect_timer_(ioc_),
        watchdog_(ioc_) {}

  asio::io_context ioc_;
  std::atomic<bool> up_{false};
  std::atomic<uint64_t> decisions_{0}, fallbacks_{0}, errors_{0}, timeouts_{0}, reconnects_{0}, noscript_{0};

  void start() {
    asio::post(ioc_, [self = shared_from_this()] { self->connect(); });
  }

  void submit(std::vector<RateCheck> checks, MonoTime now, RateDecisionCallback done) {
    asio::post(ioc_, [self = shared_from_this(), checks = std::move(checks), now, done = std::move(done)]() mutable {
      self->send(std::move(checks), now, std::move(done));
    });
  }

  // On the loop: answers every pending decision and drops the connection.
  void stop() {
    stopping_ = true;
    deadline_timer_.cancel();
    reconnect_timer_.cancel();
    watchdog_.cancel();
    teardown("stopping");
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : pending) fail(p);
    work_.reset();
  }

 private:
  struct Pending {
    std::vector<RateCheck> checks;
    MonoTime now;
    RateDecisionCallback done;
  };
  enum class State : uint8_t { kDisconnected, kConnecting, kUp, kDegraded };

  static Impl* of(const redisAsyncContext* ac) { return static_cast<Impl*>(ac->data); }

  // ---- connection ----------------------------------------------------------------------
  void connect() {
    if (stopping_) return;
    redisAsyncContext* ac = redisAsyncConnect(o_.endpoint.host.c_str(), o_.endpoint.port);
    if (ac == nullptr || ac->err != 0) {
      std::string why = ac ? ac->errstr : "out of memory";
      if (ac) redisAsyncFree(ac);
      down("connect: " + why);
      scheduleReconnect();
      return;
    }
    ac->data = this;
    redis::attachAsio(ioc_, ac);
    ac_ = ac;
    state_ = State::kConnecting;
    redisAsyncSetConnectCallback(ac, &Impl::onConnect);
    redisAsyncSetDisconnectCallback(ac, &Impl::onDisconnect);
    // Queued now, written once connected: AUTH, SELECT, then the script.
    if (!o_.password.empty()) {
      const char* argv[] = {"AUTH", o_.password.c_str()};
      const size_t len[] = {4, o_.password.size()};
      redisAsyncCommandArgv(ac, &Impl::onSetupReply, nullptr, 2, argv, len);
    }
    if (o_.endpoint.db != 0) {
      std::string db = std::to_string(o_.endpoint.db);
      const char* argv[] = {"SELECT", db.c_str()};
      const size_t len[] = {6, db.size()};
      redisAsyncCommandArgv(ac, &Impl::onSetupReply, nullptr, 2, argv, len);
    }
    loadScript();
    armWatchdog();
  }

  void loadScript() {
    const char* argv[] = {"SCRIPT", "LOAD", kScript.data()};
    const size_t len[] = {6, 4, kScript.size()};
    redisAsyncCommandArgv(ac_, &Impl::onScriptLoaded, nullptr, 3, argv, len);
  }

  static void onConnect(const redisAsyncContext* ac, int status) {
    Impl* self = of(ac);
    if (status == REDIS_OK || self->ac_ != ac) return;
    // hiredis frees the context after this callback.
    self->ac_ = nullptr;
    self->down(std::string("connect: ") + ac->errstr);
    self->scheduleReconnect();
  }

  static void onDisconnect(const redisAsyncContext* ac, int /*status*/) {
    Impl* self = of(ac);
    if (self->ac_ != ac) return;  // our own teardown
    self->ac_ = nullptr;
    self->down(std::string("connection lost: ") + (ac->errstr[0] != '\0' ? ac->errstr : "closed"));
    self->scheduleReconnect();
  }

  static void onSetupReply(redisAsyncContext* ac, void* r, void* /*privdata*/) {
    auto* reply = static_cast<redisReply*>(r);
    Impl* self = of(ac);
    if (reply == nullptr || self->ac_ != ac) return;
    if (reply->type == REDIS_REPLY_ERROR) {
      self->down("setup: " + std::string(reply->str, reply->len));
      self->teardown("setup failed");
      self->scheduleReconnect();
    }
  }

  static void onScriptLoaded(redisAsyncContext* ac, void* r, void* /*privdata*/) {
    auto* reply = static_cast<redisReply*>(r);
    Impl* self = of(ac);
    if (reply == nullptr || self->ac_ != ac) return;
    if (reply->type != REDIS_REPLY_STRING) {
      if (self->state_ == State::kConnecting) {
        self->down("SCRIPT LOAD: " + std::string(reply->str ? reply->str : "unexpected answer", reply->len));
        self->teardown("script not loaded");
        self->scheduleReconnect();
      }
      return;
    }
    self->sha_.assign(reply->str, reply->len);
    if (self->state_ == State::kConnecting) self->becomeUp();
  }

  static void onPong(redisAsyncContext* ac, void* r, void* /*privdata*/) {
    Impl* self = of(ac);
    if (r == nullptr || self->ac_ != ac || self->state_ != State::kDegraded) return;
    if (static_cast<redisReply*>(r)->type == REDIS_REPLY_ERROR) return;
    self->becomeUp();
  }

  void becomeUp() {
    state_ = State::kUp;
    backoff_ = Millis(0);
    watchdog_.cancel();
    if (!up_.exchange(true, std::memory_order_acq_rel)) {
      log("redis rate-limit backend up (" + o_.endpoint.host + ":" + std::to_string(o_.endpoint.port) +
          "): shared limits in force");
    }
  }

  // Not up any more (logged once per transition).
  void down(const std::string& why) {
    if (up_.exchange(false, std::memory_order_acq_rel)) {
      log("redis rate-limit backend down (" + why + "): " +
          (fallback_ ? "deciding with this node's local counters (fail_open)"
                     : "refusing with 451 4.7.1 (fail_closed)") +
          " until it is back");
    }
  }

  void teardown(const char* /*why*/) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    state_ = State::kDisconnected;
    // Pending replies' callbacks run with a null reply: their decisions stay pending until
    // answered below or by their deadline.
    if (ac != nullptr) redisAsyncFree(ac);
  }

  void scheduleReconnect() {
    state_ = State::kDisconnected;
    if (stopping_) return;
    backoff_ = backoff_.count() == 0 ? o_.reconnect_min : std::min(o_.reconnect_max, backoff_ * 2);
    reconnects_.fetch_add(1, std::memory_order_relaxed);
    reconnect_timer_.expires_after(backoff_);
    reconnect_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && self->ac_ == nullptr) self->connect();
    });
  }

  // Connecting or degraded for a whole probe interval: start over.
  Millis probeInterval() const { return std::max(Millis(1000), o_.timeout * 4); }
  void armWatchdog() {
    watchdog_.expires_after(probeInterval());
    watchdog_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->stopping_) return;
      if (self->state_ == State::kConnecting || self->state_ == State::kDegraded) {
        self->down("no answer within " + std::to_string(self->probeInterval().count()) + " ms");
        self->teardown("unresponsive");
        self->scheduleReconnect();
      }
    });
  }

  // ---- decisions -----------------------------------------------------------------------
  void send(std::vector<RateCheck> checks, MonoTime now, RateDecisionCallback done) {
    decisions_.fetch_add(1, std::memory_order_relaxed);
    Pending p{std::move(checks), now, std::move(done)};
    if (p.checks.empty()) {
      p.done(RateDecision{});
      return;
    }
    if (state_ != State::kUp || ac_ == nullptr || pending_.size() >= o_.max_pending) {
      fail(p);
      return;
    }
    const uint64_t id = ++next_id_;
    if (!command(p, id, /*eval=*/false)) {
      fail(p);
      return;
    }
    pending_.emplace(id, std::move(p));
    deadlines_.emplace_back(std::chrono::steady_clock::now() + o_.timeout, id);
    if (deadlines_.size() == 1) armDeadline();
  }

  bool command(const Pending& p, uint64_t id, bool eval) {
    std::vector<std::string> args;
    args.reserve(3 + p.checks.size() * 4);
    args.emplace_back(eval ? "EVAL" : "EVALSHA");
    args.emplace_back(eval ? std::string(kScript) : sha_);
    args.push_back(std::to_string(p.checks.size()));
    for (const auto& c : p.checks) args.push_back(o_.prefix + c.name + ":" + c.key);
    for (const auto& c : p.checks) {
      args.push_back(std::to_string(c.limit));
      args.push_back(std::to_string(std::max<int64_t>(1, c.window.count())));
      args.push_back(std::to_string(c.cost));
    }
    std::vector<const char*> argv;
    std::vector<size_t> len;
    for (const auto& a : args) {
      argv.push_back(a.data());
      len.push_back(a.size());
    }
    // The id travels as the callback's privdata (an integer, never dereferenced).
    return redisAsyncCommandArgv(ac_, &Impl::onDecision, reinterpret_cast<void*>(static_cast<uintptr_t>(id)),
                                 static_cast<int>(argv.size()), argv.data(), len.data()) == REDIS_OK;
  }

  static void onDecision(redisAsyncContext* ac, void* r, void* privdata) {
    Impl* self = of(ac);
    const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(privdata));
    auto it = self->pending_.find(id);
    if (it == self->pending_.end()) return;  // answered already (its deadline passed)
    auto* reply = static_cast<redisReply*>(r);
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
        std::string_view(reply->str, reply->len).starts_with("NOSCRIPT") && self->ac_ == ac) {
      // A restarted or flushed Redis: this decision by EVAL, and the script loaded again.
      self->noscript_.fetch_add(1, std::memory_order_relaxed);
      if (self->command(it->second, id, /*eval=*/true)) {
        self->loadScript();
        return;
      }
    }
    Pending p = std::move(it->second);
    self->pending_.erase(it);
    if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER && reply->integer >= 0 &&
        static_cast<size_t>(reply->integer) <= p.checks.size()) {
      RateDecision d;
      d.refused = static_cast<int>(reply->integer) - 1;
      p.done(d);
      return;
    }
    // A null reply: the connection went away before the answer (not Redis's fault).
    if (reply != nullptr) self->errors_.fetch_add(1, std::memory_order_relaxed);
    self->fail(p);
  }

  void armDeadline() {
    deadline_timer_.expires_at(deadlines_.front().first);
    deadline_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->onDeadline();
    });
  }

  void onDeadline() {
    const auto now = std::chrono::steady_clock::now();
    std::vector<Pending> expired;
    while (!deadlines_.empty() && deadlines_.front().first <= now) {
      auto it = pending_.find(deadlines_.front().second);
      deadlines_.pop_front();
      if (it == pending_.end()) continue;
      expired.push_back(std::move(it->second));
      pending_.erase(it);
    }
    if (!expired.empty() && state_ == State::kUp) {
      // Slow: stop sending decisions (before answering these, so that no caller sees the
      // backend up after its fallback answer); one PING tells when it answers again.
      down("no answer within redis_timeout (" + std::to_string(o_.timeout.count()) + " ms)");
      state_ = State::kDegraded;
      redisAsyncCommand(ac_, &Impl::onPong, nullptr, "PING");
      armWatchdog();
    }
    for (auto& p : expired) {
      timeouts_.fetch_add(1, std::memory_order_relaxed);
      fail(p);
    }
    if (!deadlines_.empty()) armDeadline();
  }

  void fail(Pending& p) {
    if (fallback_) {
      fallbacks_.fetch_add(1, std::memory_order_relaxed);
      fallback_->decide(std::move(p.checks), p.now, [done = std::move(p.done)](RateDecision d) {
        d.fallback = true;
        done(d);
      });
      return;
    }
    RateDecision d;
    d.backend_error = true;
    p.done(d);
  }

  void log(const std::string& line) const {
    if (o_.log) o_.log(line);
  }

  const RedisRateLimiterOptions o_;
  const RateLimiterPtr fallback_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer deadline_timer_, reconnect_timer_, watchdog_;
  redisAsyncContext* ac_ = nullptr;
  State state_ = State::kDisconnected;
  std::string sha_;
  Millis backoff_{0};
  bool stopping_ = false;
  uint64_t next_id_ = 0;
  std::unordered_map<uint64_t, Pending> pending_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> deadlines_;
};

RedisRateLimiter::RedisRateLimiter(RedisRateLimiterOptions options, RateLimiterPtr fallback)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(fallback))) {
  impl_->start();
  thread_ = std::thread([impl = impl_] { impl->ioc_.run(); });
}

RedisRateLimiter::~RedisRateLimiter() {
  asio::post(impl_->ioc_, [impl = impl_] { impl->stop(); });
  thread_.join();
}

bool RedisRateLimiter::up() const { return impl_->up_.load(std::memory_order_acquire); }

std::string_view RedisRateLimiter::script() { return kScript; }

void RedisRateLimiter::decide(std::vector<RateCheck> checks, MonoTime now, RateDecisionCallback done) {
  impl_->submit(std::move(checks), now, std::move(done));
}

void RedisRateLimiter::renderMetrics(std::string& out) const {
  const Impl& i = *impl_;
  prometheus::gauge(out, "mxgate_rate_limit_backend_up",
                    "1 while the shared rate-limit backend (Redis) is connected and answering", up() ? 1 : 0);
  prometheus::counter(out, "mxgate_rate_limit_backend_decisions_total", "Decisions sent to the shared backend",
                      i.decisions_.load(std::memory_order_relaxed));
  prometheus::counter(out, "mxgate_rate_limit_backend_fallback_total",
                      "Decisions made by the local fallback because Redis could not (fail_open)",
                      i.fallbacks_.load(std::memory_order_relaxed));
  prometheus::counter(out, "mxgate_rate_limit_backend_timeouts_total",
                      "Decisions Redis did not answer within rate_limits.redis_timeout",
                      i.timeouts_.load(std::memory_order_relaxed));
  prometheus::counter(out, "mxgate_rate_limit_backend_bad_answers_total",
                      "Unexpected Redis answers to a decision (error replies, wrong types)",
                      i.errors_.load(std::memory_order_relaxed));
  prometheus::counter(out, "mxgate_rate_limit_backend_reconnects_total", "Reconnect attempts to Redis",
                      i.reconnects_.load(std::memory_order_relaxed));
  prometheus::counter(out, "mxgate_rate_limit_backend_noscript_total",
                      "NOSCRIPT answers (a restarted or flushed Redis): resent with EVAL",
                      i.noscript_.load(std::memory_order_relaxed));
}

}  // namespace mx::policy
