// aws/credentials.h — AWS credentials and the provider chain, in the order the AWS SDKs use:
//   1. static keys from mxgate's config (e.g. [store.s3] access_key_id / secret_access_key);
//   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
//   3. web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
//      (+ AWS_ROLE_SESSION_NAME) → STS AssumeRoleWithWebIdentity (unsigned, token re-read
//      from the file at every refresh);
//   4. the ECS container endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
//      http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI, with
//      AWS_CONTAINER_AUTHORIZATION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
//   5. EC2 IMDSv2: PUT /latest/api/token, then the instance profile's role, then its
//      credentials; AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the address and
//      AWS_EC2_METADATA_DISABLED=true skips the step.
// The first step whose inputs are present is chosen once, at creation (as the SDKs do); a
// chosen step that then fails to answer is an error, not a fall-through.
//
// Temporary credentials are refreshed in the background before they expire (refresh_before),
// so current() never waits on the network once the first credentials arrived.
// Threads: every member is thread-safe. Callbacks run on the HttpClient's threads.
// Errors: kTransientBackend while credentials cannot be had yet or a refresh keeps failing
// (an endpoint down); kConfig for inputs that can never work (an unreadable token file, a
// relative URI without the ECS host). Messages never contain a secret.
// Trust: endpoint answers are untrusted JSON/XML: parsed with bounds, fields checked.
// JSON goes through nlohmann-json (Debian nlohmann-json3-dev, already a build dependency)
// with exceptions off (parse(..., allow_exceptions=false)), on at most 64 KiB: a well-kept
// parser beats a hand-written one for the ECS/IMDS objects. The STS answer is XML; a small
// bounded extractor reads the four elements we need (no general XML parser is linked).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "http/client.h"

namespace mx::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;  // secret: never logged
  std::string session_token;      // empty for long-term keys; secret: never logged
  std::optional<WallTime> expiration;
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;

  // The current credentials without waiting: the cached ones, or an error while none has been
  // obtained yet (the background fetch is then started if it is not running).
  virtual Result<Credentials> current() = 0;

  // Valid credentials, fetching or refreshing first if needed; `done` runs once, possibly
  // inline when cached credentials are valid.
  virtual void get(std::function<void(Result<Credentials>)> done) = 0;

  // Which step supplies them: "config", "environment", "web-identity", "ecs", "imds".
  virtual std::string_view source() const = 0;
};
using CredentialsProviderPtr = std::shared_ptr<CredentialsProvider>;

struct CredentialChainOptions {
  Credentials static_credentials;  // step 1 when access_key_id is non-empty
  // The environment, injectable for tests; default: ::getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::string region;               // for the regional STS endpoint
  std::string sts_endpoint;         // override (tests: moto); empty: https://sts.{region}.amazonaws.com
  Millis refresh_before{5 * 60 * 1000};
  const Clock* clock = nullptr;     // default: a RealClock
  // Where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is resolved (tests: a loopback server; the
  // SAFETY rule is that no test ever reaches 169.254.170.2 or 169.254.169.254).
  std::string ecs_base_url = "http://169.254.170.2";
  Millis http_timeout{5'000};       // each request to STS, ECS or IMDS
  // How often the background thread checks whether a refresh is due (on `clock`); a failed
  // refresh is retried after retry_backoff, doubling up to retry_backoff_max.
  Millis poll_interval{1'000};
  Millis retry_backoff{1'000};
  Millis retry_backoff_max{60'000};
};

// Parsers of the credential endpoints' answers, exposed for tests. Each takes untrusted
// text (bounded to 64 KiB), and returns kTransientBackend with a message that names the
// missing or malformed field but never quotes a value.
// STS AssumeRoleWithWebIdentity XML (…<Credentials><AccessKeyId>… inside the Result element).
Result<Credentials> parseStsCredentialsXml(std::string_view xml);
// The ECS / IMDS JSON object: AccessKeyId, SecretAccessKey, Token, Expiration.
Result<Credentials> parseCredentialsJson(std::string_view json);
// ISO 8601 / RFC 3339 UTC times as these endpoints write them: 2026-12-07T12:18:39Z, with
// optional fractional seconds or a numeric offset.
std::optional<WallTime> parseIso8601(std::string_view s);

// Chooses the chain's step and returns its provider (which fetches its first credentials in
// the background at once). `http` must outlive the provider.
Result<CredentialsProviderPtr> makeCredentialChain(http::HttpClient& http, CredentialChainOptions options);

}  // namespace mx::aws
