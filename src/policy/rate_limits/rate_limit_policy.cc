// policy/rate_limits/rate_limit_policy.cc — see rate_limit_policy.h.
#include "policy/rate_limits/rate_limit_policy.h"

#include <algorithm>
#include <utility>

#include "core/prometheus.h"

namespace mx::policy {

using smtp::ReplyId;
using smtp::Verdict;

// What the decision needs from the Query, copied: the wrapped policy may answer after
// check() has returned (policy.h).
struct RateLimitPolicy::Facts {
  Stage stage = Stage::kConnect;
  std::string client_ip, sender, user, recipient, tenant;
  std::vector<std::string> recipients;
  std::vector<std::string> tenants;  // end of data: each tenant of the message once
  uint64_t size = 0;
  MonoTime now{};
};

Stage RateLimitPolicy::stageOf(const RateLimit& l) {
  switch (l.quantity) {
    case RateQuantity::kConnections:
      return Stage::kConnect;
    case RateQuantity::kRecipients:
      return Stage::kRcptTo;
    case RateQuantity::kBytes:
      return Stage::kEndOfData;
    case RateQuantity::kMessages:
      // The recipients' domain and tenant are known only once the recipients are.
      return l.key == RateKey::kRecipientDomain || l.key == RateKey::kTenant ? Stage::kEndOfData : Stage::kMailFrom;
  }
  return Stage::kMailFrom;
}

RateLimitPolicy::RateLimitPolicy(Policy& inner, RateLimiterPtr limiter, std::vector<RateLimit> limits)
    : inner_(inner), limiter_(std::move(limiter)), state_(std::make_shared<State>()) {
  state_->counters = std::make_unique<Counters[]>(limits.size());
  for (const auto& l : limits) any_at_[static_cast<size_t>(stageOf(l))] = true;
  state_->limits = std::move(limits);
}

void RateLimitPolicy::appendChecks(const State& s, const Facts& f, std::vector<RateCheck>* checks,
                                   std::vector<size_t>* owners) {
  for (size_t i = 0; i < s.limits.size(); ++i) {
    const RateLimit& l = s.limits[i];
    if (stageOf(l) != f.stage) continue;
    std::vector<std::string> values;
    switch (l.key) {
      case RateKey::kClientIp:
        if (!f.client_ip.empty()) values.push_back(f.client_ip);
        break;
      case RateKey::kClientNet:
        if (!f.client_ip.empty()) values.push_back(clientNetwork(f.client_ip));
        break;
      case RateKey::kSenderDomain:
        if (!f.sender.empty()) values.push_back(addressDomain(f.sender));  // <> has no domain
        break;
      case RateKey::kRecipientDomain:
        if (f.stage == Stage::kRcptTo) {
          values.push_back(addressDomain(f.recipient));
        } else {
          // End of data: each recipient domain of the message once.
          for (const auto& r : f.recipients) values.push_back(addressDomain(r));
          std::sort(values.begin(), values.end());
          values.erase(std::unique(values.begin(), values.end()), values.end());
        }
        break;
      case RateKey::kTenant:
        if (f.stage == Stage::kEndOfData) {
          // A message for several tenants is one message for each of them.
          for (const auto& t : f.tenants) {
            if (!t.empty()) values.push_back(t);
          }
        } else if (!f.tenant.empty()) {
          values.push_back(f.tenant);
        }
        break;
      case RateKey::kUser:
        if (!f.user.empty()) values.push_back(f.user);
        break;
    }
    const uint64_t cost = l.quantity == RateQuantity::kBytes ? f.size : 1;
    for (auto& v : values) {
      checks->push_back(RateCheck{l.name, std::move(v), l.limit, l.per, cost});
      owners->push_back(i);
    }
  }
}

void RateLimitPolicy::check(const Query& q, VerdictCallback done) {
  if (!any_at_[static_cast<size_t>(q.stage)]) {
    inner_.check(q, std::move(done));
    return;
  }
  auto f = std::make_shared<Facts>();
  f->stage = q.stage;
  f->client_ip = q.envelope.client_ip;
  f->sender = q.stage == Stage::kMailFrom ? std::string(q.argument) : q.envelope.mail_from;
  f->user = q.envelope.auth_user;
  if (q.stage == Stage::kRcptTo) f->recipient = std::string(q.argument);
  f->tenant = q.envelope.tenant;
  if (q.stage == Stage::kEndOfData) {
    f->recipients = q.envelope.rcpt_to;
    f->tenants = tenantsOf(q.envelope);
  }
  f->size = q.message_size;
  f->now = q.now;
  inner_.check(q, [limiter = limiter_, state = state_, f, done = std::move(done)](Verdict v) mutable {
    if (!v.accepted()) {
      done(std::move(v));
      return;
    }
    // RCPT: the tenant is the one the wrapped policy routed this recipient to.
    if (f->stage == Stage::kRcptTo && !v.tenant().empty()) f->tenant = v.tenant();
    std::vector<RateCheck> checks;
    std::vector<size_t> owners;
    appendChecks(*state, *f, &checks, &owners);
    if (checks.empty()) {
      done(std::move(v));
      return;
    }
    // Each limit once per decision (a limit can have several keys: recipient domains).
    std::vector<size_t> involved = owners;
    involved.erase(std::unique(involved.begin(), involved.end()), involved.end());
    for (size_t o : involved) state->counters[o].decisions.fetch_add(1, std::memory_order_relaxed);
    const Stage stage = f->stage;
    limiter->decide(
        std::move(checks), f->now,
        [state, owners = std::move(owners), involved = std::move(involved), stage, v = std::move(v),
         done = std::move(done)](RateDecision d) mutable {
          if (d.backend_error || d.fallback) {
            for (size_t o : involved) {
              state->counters[o].backend_errors.fetch_add(1, std::memory_order_relaxed);
            }
          }
          if (d.backend_error) {
            done(Verdict::refuse(stage == Stage::kConnect ? ReplyId::kRateLimitUnavailableClose
                                                          : ReplyId::kRateLimitUnavailable));
            return;
          }
          if (d.refused >= 0 && static_cast<size_t>(d.refused) < owners.size()) {
            state->counters[owners[d.refused]].refusals.fetch_add(1, std::memory_order_relaxed);
            done(Verdict::refuse(stage == Stage::kConnect ? ReplyId::kConnectionRateLimited : ReplyId::kRateLimited));
            return;
          }
          done(std::move(v));
        });
  });
}

std::string RateLimitPolicy::renderMetrics() const {
  std::string out;
  const State& s = *state_;
  auto family = [&](const char* name, const char* help, std::atomic<uint64_t> Counters::*member) {
    prometheus::family(out, name, "counter", help);
    for (size_t i = 0; i < s.limits.size(); ++i) {
      prometheus::labelled(out, name, "limit=\"" + prometheus::escapeLabel(s.limits[i].name) + "\"",
                           static_cast<double>((s.counters[i].*member).load(std::memory_order_relaxed)));
    }
  };
  family("mxgate_rate_limit_decisions_total", "Rate-limit decisions that involved the limit", &Counters::decisions);
  family("mxgate_rate_limit_refusals_total", "Refusals because the limit was exceeded (421 4.7.0 / 451 4.7.1)",
         &Counters::refusals);
  family("mxgate_rate_limit_backend_errors_total",
         "Decisions the shared backend could not make (answered per rate_limits.on_backend_error)",
         &Counters::backend_errors);
  limiter_->renderMetrics(out);
  return out;
}

}  // namespace mx::policy
