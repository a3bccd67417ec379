// aws/credentials.cc — the provider chain of credentials.h: the choice of step, the static
// providers (config, environment), and RefreshingProvider, which the web identity, ECS and
// IMDS steps share: it keeps the last good credentials, refreshes them `refresh_before`
// ahead of expiry from a background thread (on the injected clock), never blocks current(),
// keeps the old credentials through failed refreshes until they expire, and retries with
// doubling backoff. The network steps' requests are in credential_sources.cc.
// Safety: the only addresses contacted are those the environment names, or the fixed ECS
// and IMDS link-local addresses when it names none (tests always override both).
#include "aws/credentials.h"

#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "aws/credential_sources.h"

namespace mx::aws {
namespace {

const Clock& defaultClock() {
  static const RealClock clock;
  return clock;
}

class StaticProvider final : public CredentialsProvider {
 public:
  StaticProvider(Credentials c, std::string source) : creds_(std::move(c)), source_(std::move(source)) {}
  // CredentialsProvider
  Result<Credentials> current() override { return creds_; }
  void get(std::function<void(Result<Credentials>)> done) override { done(creds_); }
  std::string_view source() const override { return source_; }

 private:
  Credentials creds_;
  std::string source_;
};

bool envTrue(const std::optional<std::string>& v) {
  if (!v) return false;
  std::string l;
  for (char c : *v) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return l == "true" || l == "1";
}

}  // namespace

RefreshingProvider::RefreshingProvider(std::string source, const CredentialChainOptions& options)
    : source_(std::move(source)),
      clock_(options.clock != nullptr ? *options.clock : defaultClock()),
      refresh_before_(options.refresh_before),
      poll_interval_(options.poll_interval),
      backoff_min_(options.retry_backoff),
      backoff_max_(options.retry_backoff_max),
      backoff_(options.retry_backoff) {}

RefreshingProvider::~RefreshingProvider() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

void RefreshingProvider::start() {
  maybeFetch();
  poller_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, poll_interval_, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      maybeFetch();
      lock.lock();
    }
  });
}

bool RefreshingProvider::validLocked(WallTime now) const {
  return creds_ && (!creds_->expiration || now < *creds_->expiration);
}

bool RefreshingProvider::dueLocked(WallTime now) const {
  if (fetching_ || stopping_ || now < next_attempt_) return false;
  if (!creds_) return true;
  return creds_->expiration && now + refresh_before_ >= *creds_->expiration;
}

void RefreshingProvider::maybeFetch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!dueLocked(clock_.wall())) return;
    fetching_ = true;
  }
  // A weak reference only: the poller thread must never own the provider (its destructor
  // joins that thread).
  std::weak_ptr<RefreshingProvider> weak = weak_from_this();
  fetch([weak](Result<Credentials> r) {
    if (auto self = weak.lock()) self->onFetched(std::move(r));
  });
}

void RefreshingProvider::onFetched(Result<Credentials> r) {
  std::vector<std::function<void(Result<Credentials>)>> waiters;
  Result<Credentials> answer = Error(ErrorClass::kTransientBackend, "");
  {
    std::lock_guard<std::mutex> lock(mu_);
    fetching_ = false;
    const WallTime now = clock_.wall();
    if (r.ok()) {
      creds_ = std::move(r.value());
      last_error_.clear();
      backoff_ = backoff_min_;
      next_attempt_ = WallTime{};
    } else {
      last_error_ = r.error().message();
      next_attempt_ = now + backoff_;
      backoff_ = std::min(backoff_ * 2, backoff_max_);
    }
    waiters.swap(waiters_);
    answer = validLocked(now) ? Result<Credentials>(*creds_) : Result<Credentials>(errorLocked());
  }
  for (auto& w : waiters) w(answer);
}

Error RefreshingProvider::errorLocked() const {
  std::string msg = "AWS credentials (" + source_ + ") not available";
  if (creds_) msg = "AWS credentials (" + source_ + ") expired";
  if (!last_error_.empty()) msg += ": " + last_error_;
  return Error(ErrorClass::kTransientBackend, msg);
}

Result<Credentials> RefreshingProvider::current() {
  Result<Credentials> out = Error(ErrorClass::kTransientBackend, "");
  {
    std::lock_guard<std::mutex> lock(mu_);
    const WallTime now = clock_.wall();
    out = validLocked(now) ? Result<Credentials>(*creds_) : Result<Credentials>(errorLocked());
  }
  maybeFetch();  // starts a refresh when one is due; never waits for it
  return out;
}

void RefreshingProvider::get(std::function<void(Result<Credentials>)> done) {
  Result<Credentials> now_answer = Error(ErrorClass::kTransientBackend, "");
  bool wait = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const WallTime now = clock_.wall();
    if (validLocked(now)) {
      now_answer = *creds_;
    } else if (fetching_ || dueLocked(now)) {
      waiters_.push_back(std::move(done));
      wait = true;
    } else {
      now_answer = errorLocked();  // backing off after a failure: answer at once
    }
  }
  maybeFetch();
  if (!wait) done(std::move(now_answer));
}

Result<CredentialsProviderPtr> makeCredentialChain(http::HttpClient& http, CredentialChainOptions options) {
  if (!options.getenv) {
    options.getenv = [](const std::string& name) -> std::optional<std::string> {
      const char* v = std::getenv(name.c_str());
      if (v == nullptr) return std::nullopt;
      return std::string(v);
    };
  }
  auto env = [&](const char* name) -> std::string { return options.getenv(name).value_or(""); };

  // 1. config
  if (!options.static_credentials.access_key_id.empty()) {
    if (options.static_credentials.secret_access_key.empty()) {
      return Error(ErrorClass::kConfig, "access_key_id is set without secret_access_key");
    }
    return CredentialsProviderPtr(std::make_shared<StaticProvider>(options.static_credentials, "config"));
  }
  // 2. environment
  const std::string akid = env("AWS_ACCESS_KEY_ID"), secret = env("AWS_SECRET_ACCESS_KEY");
  if (!akid.empty() || !secret.empty()) {
    if (akid.empty() || secret.empty()) {
      return Error(ErrorClass::kConfig, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    }
    return CredentialsProviderPtr(
        std::make_shared<StaticProvider>(Credentials{akid, secret, env("AWS_SESSION_TOKEN"), std::nullopt}, "environment"));
  }
  if (options.region.empty()) options.region = env("AWS_REGION");
  if (options.region.empty()) options.region = env("AWS_DEFAULT_REGION");

  std::shared_ptr<RefreshingProvider> provider;
  // 3. web identity
  const std::string token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE"), role_arn = env("AWS_ROLE_ARN");
  if (!token_file.empty() && !role_arn.empty()) {
    std::ifstream probe(token_file);
    if (!probe.good()) return Error(ErrorClass::kConfig, "AWS_WEB_IDENTITY_TOKEN_FILE cannot be read: " + token_file);
    std::string endpoint = options.sts_endpoint;
    if (endpoint.empty()) {
      endpoint = options.region.empty() ? "https://sts.amazonaws.com/"
                                        : "https://sts." + options.region + ".amazonaws.com/";
    }
    std::string session = env("AWS_ROLE_SESSION_NAME");
    if (session.empty()) session = "mxgate-" + std::to_string(unixMillis((options.clock ? *options.clock : defaultClock()).wall()));
    provider = makeWebIdentityProvider(http, options, endpoint, role_arn, session, token_file);
  }
  // 4. ECS container endpoint
  if (!provider) {
    const std::string rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel.empty() || !full.empty()) {
      std::string url;
      if (!rel.empty()) {
        if (rel.front() != '/') return Error(ErrorClass::kConfig, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with /");
        url = options.ecs_base_url + rel;
      } else {
        url = full;
        auto parsed = http::parseUrl(full);
        if (!parsed.ok()) return Error(ErrorClass::kConfig, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL");
        // As the SDKs: plain http only to loopback or the ECS/EKS agent addresses, so a
        // token is never sent in the clear across a network.
        const std::string& h = parsed->host;
        const bool allowed = parsed->tls() || h == "localhost" || h.rfind("127.", 0) == 0 || h == "::1" ||
                             h == "169.254.170.2" || h == "169.254.170.23" || h == "fd00:ec2::23";
        if (!allowed) {
          return Error(ErrorClass::kConfig,
                       "AWS_CONTAINER_CREDENTIALS_FULL_URI over http must name a loopback or the ECS/EKS agent address");
        }
      }
      std::string auth_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
      if (!auth_file.empty()) {
        std::ifstream probe(auth_file);
        if (!probe.good()) {
          return Error(ErrorClass::kConfig, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE cannot be read: " + auth_file);
        }
      }
      provider = makeEcsProvider(http, options, url, env("AWS_CONTAINER_AUTHORIZATION_TOKEN"), auth_file);
    }
  }
  // 5. IMDSv2
  if (!provider) {
    if (envTrue(options.getenv("AWS_EC2_METADATA_DISABLED"))) {
      return Error(ErrorClass::kConfig,
                   "no AWS credentials: none in config or the environment, no web identity, no ECS endpoint, "
                   "and IMDS is disabled (AWS_EC2_METADATA_DISABLED)");
    }
    std::string endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (endpoint.empty()) endpoint = "http://169.254.169.254";
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    provider = makeImdsProvider(http, options, endpoint);
  }
  provider->start();
  return CredentialsProviderPtr(provider);
}

}  // namespace mx::aws
