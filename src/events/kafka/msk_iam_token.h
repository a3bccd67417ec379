// events/kafka/msk_iam_token.h — the Amazon MSK IAM authentication token for SASL/OAUTHBEARER
// (RFC 7628), built exactly as AWS's aws-msk-iam-sasl-signer libraries (Python, Go) build it:
//
//   1. a SigV4 presigned URL (query-string authentication; AWS General Reference "Create a
//      signed AWS API request", aws/sigv4.h Signer::presign) for
//        GET https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect
//      with service "kafka-cluster", X-Amz-Expires=900, only the host header signed, and
//      X-Amz-Security-Token when the credentials carry a session token;
//   2. "&User-Agent=<agent>" appended after signing (form-encoded; it is not signed);
//   3. the URL's bytes base64url-encoded (RFC 4648 §5) without '=' padding.
// The token's lifetime ends at the signing time + 900 s (what the libraries report to the
// client as the expiry, in milliseconds since the epoch).
//
// tests/events/msk_iam_vectors.py builds the same token with botocore's SigV4QueryAuth the way
// aws-msk-iam-sasl-signer-python does; tests/events/msk_iam_token_test.cc compares.
// Threads: a pure function. Errors: none (empty keys give a token MSK will refuse; the sink
// checks for credentials before calling). Trust: inputs are ours (credentials, config region).
#pragma once

#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "core/clock.h"

namespace mx::events {

inline constexpr int kMskIamTokenExpirySeconds = 900;

struct MskIamToken {
  std::string token;  // base64url, no padding
  WallTime expires;   // signing time (whole seconds) + 900 s
};

// The token for `credentials` in `region`, signed at `now` (truncated to whole seconds, as
// X-Amz-Date is). `user_agent` is appended unsigned, as the AWS libraries add theirs.
MskIamToken buildMskIamToken(const aws::Credentials& credentials, std::string_view region, WallTime now,
                             std::string_view user_agent);

}  // namespace mx::events
