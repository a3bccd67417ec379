// aws/credential_sources.h — internal to mx_aws: RefreshingProvider (the shared refresh
// logic of the network steps) and the factories of the web identity (STS), ECS and IMDSv2
// steps. Only credentials.cc and tests include it.
// Threads: every RefreshingProvider member is thread-safe; fetch() results arrive on the
// HttpClient's threads and reach the provider through a weak_ptr, so a provider may be
// destroyed while a fetch is on the wire.
// Trust: as credentials.h. Errors never carry a secret or an endpoint's answer body.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aws/credentials.h"

namespace mx::aws {

class RefreshingProvider : public CredentialsProvider, public std::enable_shared_from_this<RefreshingProvider> {
 public:
  RefreshingProvider(std::string source, const CredentialChainOptions& options);
  ~RefreshingProvider() override;

  // Starts the first fetch and the background thread; called once, after construction
  // (shared_from_this() needs the shared_ptr).
  void start();

  // CredentialsProvider
  Result<Credentials> current() override;
  void get(std::function<void(Result<Credentials>)> done) override;
  std::string_view source() const override { return source_; }

 protected:
  // One attempt at new credentials; `done` runs once, on any thread.
  virtual void fetch(std::function<void(Result<Credentials>)> done) = 0;

 private:
  void maybeFetch();
  void onFetched(Result<Credentials> r);
  bool validLocked(WallTime now) const;
  bool dueLocked(WallTime now) const;
  Error errorLocked() const;

  const std::string source_;
  const Clock& clock_;
  const Millis refresh_before_, poll_interval_, backoff_min_, backoff_max_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool fetching_ = false;
  std::optional<Credentials> creds_;
  std::string last_error_;  // never holds a secret (fetchers' messages are built that way)
  WallTime next_attempt_{};
  Millis backoff_;
  std::vector<std::function<void(Result<Credentials>)>> waiters_;
  std::thread poller_;
};

std::shared_ptr<RefreshingProvider> makeWebIdentityProvider(http::HttpClient& http, const CredentialChainOptions& options,
                                                            std::string sts_url, std::string role_arn,
                                                            std::string session_name, std::string token_file);
std::shared_ptr<RefreshingProvider> makeEcsProvider(http::HttpClient& http, const CredentialChainOptions& options,
                                                    std::string url, std::string auth_token, std::string auth_token_file);
std::shared_ptr<RefreshingProvider> makeImdsProvider(http::HttpClient& http, const CredentialChainOptions& options,
                                                     std::string endpoint);

}  // namespace mx::aws
