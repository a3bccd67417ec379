// app/backends.h — the registry of store and event-sink backends, by their configuration
// name (store.backend, events.sink, rate_limits.backend): the only place that names concrete backends, as
// OpenSMTPD's queue_init() picks queue_fs/queue_ram/queue_null by name and Envoy's
// REGISTER_FACTORY maps an extension name to its factory. Each backend is its own library,
// built only when its MXGATE_WITH_<BACKEND> option is on (src/store, src/events
// CMakeLists); the tables list exactly what this build has. Adding a backend (s3, kafka,
// webhook) is: its library, its option, one row here.
// Errors: an unknown name is a ConfigError naming the key (and line) and listing the known
// names; a factory's runtime failure (a directory that cannot be created) names the key
// whose value is at fault.
// Trust: the Config has passed validateConfig().
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"
#include "aws/credentials.h"
#include "core/result.h"
#include "events/event_sink.h"
#include "http/client.h"
#include "policy/rate_limits/rate_limiter.h"
#include "store/blob_store.h"

namespace mx::app {

struct StoreBackend {
  std::string_view name;         // the store.backend value
  std::string_view description;  // for `mxgate check-config` and docs
  Result<store::BlobStorePtr> (*make)(const Config& config);
  // Optional: the backend's own /metrics lines (Prometheus text) for a store `make` built.
  std::string (*render_metrics)(const store::BlobStore& store) = nullptr;
  // Optional: the key prefix the pipeline's KeyLayout puts in front of every key.
  std::string (*key_prefix)(const Config& config) = nullptr;
};

// What sink factories share: one HTTP client and one AWS credential chain for every sink
// that needs them (created on first use, owned here, outliving the sinks).
class SinkContext {
 public:
  virtual ~SinkContext() = default;
  virtual Result<http::HttpClient*> http(const std::string& ca_file) = 0;
  virtual Result<aws::CredentialsProvider*> credentials(const std::string& region) = 0;
};

struct SinkBackend {
  std::string_view name;  // the [[sink]] kind (events.sink without [[sink]] entries)
  std::string_view description;
  Result<events::EventSinkPtr> (*make)(const Config& config, const events::SinkSettings& sink, SinkContext& ctx);
};

// [rate_limits] backend. `log` takes the backend's transition lines (Redis down / up).
using LogLineFn = std::function<void(std::string_view)>;
struct RateLimiterBackend {
  std::string_view name;  // the rate_limits.backend value
  std::string_view description;
  Result<policy::RateLimiterPtr> (*make)(const Config& config, const LogLineFn& log);
};

std::span<const StoreBackend> storeBackends();
std::span<const RateLimiterBackend> rateLimiterBackends();
std::span<const SinkBackend> sinkBackends();

// Appends an error for store.backend and for each sink kind that names no backend of this
// build.
void validateBackends(const Config& config, std::vector<ConfigError>* errors);

// The configured backends, built by their factories (validateBackends() first).
Result<store::BlobStorePtr> makeStore(const Config& config);
Result<events::EventSinkPtr> makeSink(const Config& config, const events::SinkSettings& sink, SinkContext& ctx);
// The configured rate limiter (rate_limits.backend), for the [[rate_limit]] entries.
Result<policy::RateLimiterPtr> makeRateLimiter(const Config& config, const LogLineFn& log);
// The SinkContext of a running mxgate (its HTTP client and credential chain).
std::unique_ptr<SinkContext> makeSinkContext(const Config& config);

// The configured store backend's /metrics lines ("" when it has none); `store` is what
// makeStore(config) returned.
std::string renderStoreMetrics(const Config& config, const store::BlobStore& store);
// The storage key prefix for store::KeyLayout (store.s3.prefix for s3; "" otherwise).
std::string storeKeyPrefix(const Config& config);

}  // namespace mx::app
