// aws/sigv4.h — AWS Signature Version 4 request signing, our own code on core/sha256.h's
// HMAC-SHA256 (libcurl 7.88's --aws-sigv4 omits x-amz-content-sha256 for S3, leaves query
// parameters unsorted and mishandles a bare "?uploads": PLATFORM.md).
// Spec: AWS General Reference "Signature Version 4 signing process" (canonical request,
// string to sign, signing key, Authorization header) and the S3 variant (no double encoding
// of the path, x-amz-content-sha256 always sent, UNSIGNED-PAYLOAD allowed).
//
// Threads: a Signer is thread-safe (its signing-key cache is locked).
// Errors: none on the data path — signing a well-formed http::Request cannot fail; a URL
// that parseUrl() refuses is signed as best it can and will be refused by the client.
// Trust: the request is built by our own code; keys may contain any byte (object keys from
// client-chosen attachment names pass store::KeyLayout first).
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/credentials.h"
#include "core/clock.h"
#include "http/client.h"

namespace mx::aws {

// RFC 3986 unreserved characters pass; every other byte becomes %XX (upper-case hex).
// `encode_slash` false keeps '/' (S3 object keys in the path).
std::string uriEncode(std::string_view s, bool encode_slash);

struct SignerOptions {
  std::string region;   // "eu-west-1"
  std::string service;  // "s3", "sqs", "sts", "kafka-cluster", "execute-api"
  // S3 rules: the path is encoded once (not normalised or double-encoded) and
  // x-amz-content-sha256 is always sent.
  bool s3 = false;
};

class Signer {
 public:
  explicit Signer(SignerOptions options);

  // Adds x-amz-date, x-amz-content-sha256 (S3, or when payload_sha256_hex is given),
  // x-amz-security-token (temporary credentials) and Authorization to `request`.
  // `payload_sha256_hex`: the body's SHA-256 in hex, or "UNSIGNED-PAYLOAD"; empty: computed
  // from request.body. Every header already on the request is signed except the hop-by-hop
  // ones and User-Agent (botocore's list: connection, expect, keep-alive, proxy-*, te,
  // trailer, transfer-encoding, upgrade, user-agent, x-amzn-trace-id); "host" is signed from
  // the URL (http::Url::authority(), which the client sends) unless the request has one.
  // The URL must already be percent-encoded (uriEncode: keys with encode_slash false, query
  // names and values with true); the canonical form re-encodes it, so "%7e" and "~" sign
  // alike. Signing again (a retry) replaces the previous signature headers.
  void sign(http::Request& request, const Credentials& credentials, WallTime now,
            std::string_view payload_sha256_hex = {}) const;

  // A presigned URL (query-string authentication, X-Amz-Expires seconds) for `method` on
  // `url`, signing only the host header — as the MSK IAM token and S3 presigned GETs use.
  std::string presign(std::string_view method, std::string_view url, const Credentials& credentials,
                      WallTime now, int expires_seconds) const;

  // Exposed for tests (compared with botocore): the canonical request of `request` exactly as
  // it is (sign() builds it after adding its x-amz-* headers), with `payload_sha256_hex` or,
  // when empty, the x-amz-content-sha256 header or the body's hash; and the string to sign.
  std::string canonicalRequest(const http::Request& request, std::string_view payload_sha256_hex) const;
  std::string stringToSign(std::string_view canonical_request, WallTime now) const;

  const SignerOptions& options() const { return options_; }

 private:
  std::string signingKey(const Credentials& credentials, std::string_view date) const;

  SignerOptions options_;
  mutable std::mutex mu_;
  // One derived key per (date, secret access key): kDate/kRegion/kService/kSigning is four
  // HMACs, recomputed only when the day or the credentials change.
  mutable std::string cached_date_, cached_secret_, cached_key_;
};

}  // namespace mx::aws
