// policy/rate_limits/rate_limit_config.h — the configuration the rate limits own
// (config_table.h): [rate_limits] (which counter backend, Redis, what to do when it cannot
// decide) and [[rate_limit]] (one limit each: what is counted, per which key, how many per
// interval). The defaults are the structs' defaults. checkRateLimit() holds the cross-field
// rules the per-key checks cannot express (exactly one quantity, a key the quantity's stage
// knows); src/app reports its findings with the key and the line.
//
// Trust: operator input, checked for type, range and choices at load (never trusted to be
// consistent: see checkRateLimit()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config_table.h"

namespace mx::policy {

struct RateLimitsSettings {
  std::string backend = "local";  // "local" | "redis"
  std::string redis_url = "redis://127.0.0.1:6379/0";
  std::string redis_password;  // secret; AUTH after connecting when set
  std::string redis_prefix = "mxgate:rl:";
  Millis redis_timeout{250};                   // per decision; then on_backend_error applies
  std::string on_backend_error = "fail_open";  // "fail_open" | "fail_closed"
  uint64_t local_max_keys = 100'000;           // counters the local backend keeps (idle ones go first)
};

// What a limit counts. Exactly one per [[rate_limit]].
enum class RateQuantity : uint8_t { kConnections, kMessages, kRecipients, kBytes };
// Whose count it is.
enum class RateKey : uint8_t { kClientIp, kClientNet, kSenderDomain, kRecipientDomain, kTenant, kUser };

struct RateLimitConfig {
  std::string name;
  std::string key = "client_ip";
  uint32_t connections = 0;
  uint32_t messages = 0;
  uint32_t recipients = 0;
  uint64_t bytes = 0;
  Millis per{60'000};
  int line = 0;  // where the entry starts in the file (0: environment)
};

const config::Table<RateLimitsSettings>& rateLimitsTable();
const config::Table<RateLimitConfig>& rateLimitTable();

// A checked limit, ready for the decorator and the limiters.
struct RateLimit {
  std::string name;
  RateKey key = RateKey::kClientIp;
  RateQuantity quantity = RateQuantity::kMessages;
  uint64_t limit = 0;  // per `per`
  Millis per{60'000};
};

struct RateLimitProblem {
  std::string key;  // the field at fault ("messages", "key", "per")
  std::string message;
};
// The cross-field rules of one [[rate_limit]]: exactly one of connections / messages /
// recipients / bytes (> 0), per > 0, and a key the quantity can be counted by (connections
// are counted at connect, when only client_ip and client_net are known).
std::vector<RateLimitProblem> checkRateLimit(const RateLimitConfig& c);
// The limit checkRateLimit() accepted (call it only then).
RateLimit toRateLimit(const RateLimitConfig& c);

// redis_url: "redis://host[:port][/db]" (port 6379, db 0 by default; a host in [] for
// IPv6). Returns "" or what the URL must be.
struct RedisEndpoint {
  std::string host;
  uint16_t port = 6379;
  uint32_t db = 0;
};
std::string parseRedisUrl(std::string_view url, RedisEndpoint* out);

std::string_view rateKeyName(RateKey k);
std::string_view rateQuantityName(RateQuantity q);

}  // namespace mx::policy
