// policy/rate_limits/rate_limit_config.cc — see rate_limit_config.h.
#include "policy/rate_limits/rate_limit_config.h"

namespace mx::policy {
namespace {

constexpr std::string_view kKeyNames[] = {"client_ip",        "client_net", "sender_domain",
                                          "recipient_domain", "tenant",     "user"};

RateKey keyFromName(std::string_view name) {
  for (size_t i = 0; i < std::size(kKeyNames); ++i) {
    if (kKeyNames[i] == name) return static_cast<RateKey>(i);
  }
  return RateKey::kClientIp;  // unreachable after the table's choice check
}

}  // namespace

std::string_view rateKeyName(RateKey k) { return kKeyNames[static_cast<size_t>(k)]; }

std::string_view rateQuantityName(RateQuantity q) {
  switch (q) {
    case RateQuantity::kConnections:
      return "connections";
    case RateQuantity::kMessages:
      return "messages";
    case RateQuantity::kRecipients:
      return "recipients";
    case RateQuantity::kBytes:
      return "bytes";
  }
  return "?";
}

const config::Table<RateLimitsSettings>& rateLimitsTable() {
  static const config::Table<RateLimitsSettings> t = [] {
    config::Table<RateLimitsSettings> t("rate_limits", "where the [[rate_limit]] counters live (docs/limits.md)");
    t.add("backend", &RateLimitsSettings::backend,
          "`local`: counters in this process (each node counts alone); `redis`: counters shared by every node "
          "through one Redis",
          config::Check::oneOf({"local", "redis"}));
    t.add("redis_url", &RateLimitsSettings::redis_url,
          "the Redis server (backend = \"redis\"): `redis://host:port/db` (plain TCP; hiredis 0.14 has no TLS)");
    t.secret(
        "redis_password", [](RateLimitsSettings& s) -> std::string& { return s.redis_password; },
        "sent with AUTH after each connect (empty: no AUTH)");
    t.add("redis_prefix", &RateLimitsSettings::redis_prefix,
          "prefix of every Redis key (each key also expires two intervals after its last use)",
          config::Check::nonEmpty());
    t.add("redis_timeout", &RateLimitsSettings::redis_timeout,
          "how long one decision may wait for Redis before on_backend_error applies",
          config::Check::between(1, 60'000));
    t.add("on_backend_error", &RateLimitsSettings::on_backend_error,
          "when Redis cannot decide (down, slow): `fail_open` decides with this node's local counters, "
          "`fail_closed` answers `451 4.7.1` (`421 4.7.1` at connect)",
          config::Check::oneOf({"fail_open", "fail_closed"}));
    t.add("local_max_keys", &RateLimitsSettings::local_max_keys,
          "most counters the local backend (and the fail_open fallback) keeps; idle keys are evicted first, "
          "then the least recently used",
          config::Check::between(16, 100'000'000));
    return t;
  }();
  return t;
}

const config::Table<RateLimitConfig>& rateLimitTable() {
  static const config::Table<RateLimitConfig> t = [] {
    config::Table<RateLimitConfig> t("rate_limit",
                                     "one rate limit, addressed by `name` (a metric label); set exactly one of "
                                     "`connections`, `messages`, `recipients`, `bytes`",
                                     /*array=*/true);
    t.add("key", &RateLimitConfig::key,
          "whose count: the client address, its network (IPv4 /24, IPv6 /64), the MAIL FROM domain, the "
          "RCPT TO domain, the recipient's tenant, or the authenticated user (unauthenticated sessions and "
          "the null sender are not counted by `user` and `sender_domain` limits)",
          config::Check::oneOf({std::begin(kKeyNames), std::end(kKeyNames)}));
    t.add("connections", &RateLimitConfig::connections,
          "connections per interval (counted at connect; refused with `421 4.7.0`); key client_ip or client_net");
    t.add("messages", &RateLimitConfig::messages,
          "messages per interval (counted at MAIL FROM, or at end of data for recipient_domain and tenant; "
          "refused with `451 4.7.1`)");
    t.add("recipients", &RateLimitConfig::recipients,
          "accepted recipients per interval (counted at RCPT TO; refused with `451 4.7.1`)");
    t.add("bytes", &RateLimitConfig::bytes,
          "message bytes per interval (counted at end of data; refused with `451 4.7.1`); a message larger "
          "than the whole budget passes only into an empty window");
    t.add("per", &RateLimitConfig::per, "the interval (a sliding window)", config::Check::atLeast(1));
    return t;
  }();
  return t;
}

std::vector<RateLimitProblem> checkRateLimit(const RateLimitConfig& c) {
  std::vector<RateLimitProblem> out;
  int set = (c.connections > 0) + (c.messages > 0) + (c.recipients > 0) + (c.bytes > 0);
  if (set != 1) {
    out.push_back({set == 0 ? "messages" : "connections",
                   set == 0 ? "one of connections, messages, recipients or bytes is needed (and > 0)"
                            : "set exactly one of connections, messages, recipients or bytes"});
  }
  if (c.per.count() <= 0) out.push_back({"per", "must be longer than 0"});
  bool known = false;
  for (auto n : kKeyNames) known = known || n == c.key;
  if (!known) {
    out.push_back({"key", "must be one of client_ip, client_net, sender_domain, recipient_domain, tenant, user"});
  } else if (c.connections > 0 && c.key != "client_ip" && c.key != "client_net") {
    out.push_back({"key", "connections are counted at connect, where only client_ip and client_net are known"});
  }
  return out;
}

std::string parseRedisUrl(std::string_view url, RedisEndpoint* out) {
  constexpr std::string_view kScheme = "redis://";
  const std::string_view must = "must be redis://host[:port][/db] (a password goes in redis_password)";
  if (!url.starts_with(kScheme)) return std::string(must);
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find('@') != std::string_view::npos) return std::string(must);
  std::string_view hostport = rest.substr(0, rest.find('/'));
  std::string_view db = rest.size() > hostport.size() ? rest.substr(hostport.size() + 1) : std::string_view();
  std::string_view port;
  if (hostport.starts_with('[')) {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return std::string(must);
    out->host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return std::string(must);
    if (!after.empty()) port = after.substr(1);
  } else {
    const size_t colon = hostport.find(':');
    out->host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) port = hostport.substr(colon + 1);
  }
  if (out->host.empty()) return std::string(must);
  auto number = [](std::string_view s, uint64_t max, uint64_t* v) {
    if (s.empty() || s.size() > 10) return false;
    *v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      *v = *v * 10 + static_cast<uint64_t>(c - '0');
    }
    return *v <= max;
  };
  uint64_t v = 0;
  if (!port.empty()) {
    if (!number(port, 65535, &v) || v == 0) return std::string(must);
    out->port = static_cast<uint16_t>(v);
  }
  if (!db.empty()) {
    if (!number(db, 1'000'000, &v)) return std::string(must);
    out->db = static_cast<uint32_t>(v);
  }
  return {};
}

RateLimit toRateLimit(const RateLimitConfig& c) {
  RateLimit l;
  l.name = c.name;
  l.key = keyFromName(c.key);
  l.per = c.per;
  if (c.connections > 0) {
    l.quantity = RateQuantity::kConnections;
    l.limit = c.connections;
  } else if (c.messages > 0) {
    l.quantity = RateQuantity::kMessages;
    l.limit = c.messages;
  } else if (c.recipients > 0) {
    l.quantity = RateQuantity::kRecipients;
    l.limit = c.recipients;
  } else {
    l.quantity = RateQuantity::kBytes;
    l.limit = c.bytes;
  }
  return l;
}

}  // namespace mx::policy
