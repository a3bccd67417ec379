// Tests for events::buildMskIamToken against botocore: every vector of
// tests/events/data/msk_iam_vectors.json (written by msk_iam_vectors.py the way
// aws-msk-iam-sasl-signer-python builds its token; the ctest events.msk_iam_vectors regenerates
// and diffs it) must give the same token and expiry. Plus the token's own shape: base64url
// without padding that decodes to the presigned URL, and an expiry of signing second + 900 s.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "events/kafka/msk_iam_token.h"

namespace mx::events {
namespace {

using nlohmann::json;

json loadVectors() {
  const char* src = std::getenv("MXGATE_SOURCE_DIR");
  std::ifstream in(std::string(src != nullptr ? src : ".") + "/tests/events/data/msk_iam_vectors.json");
  EXPECT_TRUE(in.good()) << "cannot open msk_iam_vectors.json (MXGATE_SOURCE_DIR)";
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// RFC 4648 §5 decoding, for checking the token's content independently of the encoder.
std::string base64UrlDecode(const std::string& s) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const size_t v = alphabet.find(c);
    EXPECT_NE(v, std::string::npos) << "not base64url: " << c;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

TEST(MskIamToken, EqualsBotocoreBuiltTokens) {
  const json doc = loadVectors();
  int n = 0;
  for (const json& v : doc["vectors"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    aws::Credentials c;
    c.access_key_id = v["access_key_id"];
    c.secret_access_key = v["secret_access_key"];
    c.session_token = v["session_token"];
    const WallTime now{std::chrono::milliseconds(v["time_ms"].get<int64_t>())};
    MskIamToken t = buildMskIamToken(c, v["region"].get<std::string>(), now, v["user_agent"].get<std::string>());
    EXPECT_EQ(t.token, v["token"].get<std::string>());
    EXPECT_EQ(unixMillis(t.expires), v["expires_ms"].get<int64_t>());
    EXPECT_EQ(base64UrlDecode(t.token), v["url"].get<std::string>());
    EXPECT_EQ(t.token.find('='), std::string::npos);
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(MskIamToken, DependsOnEveryInput) {
  aws::Credentials c{"AKIDEXAMPLE", "secret", "", std::nullopt};
  const WallTime now{std::chrono::seconds(1796642319)};
  const std::string base = buildMskIamToken(c, "eu-west-1", now, "mxgate/1").token;
  EXPECT_NE(buildMskIamToken(c, "eu-west-2", now, "mxgate/1").token, base);
  EXPECT_NE(buildMskIamToken(c, "eu-west-1", now + std::chrono::seconds(1), "mxgate/1").token, base);
  EXPECT_EQ(buildMskIamToken(c, "eu-west-1", now + std::chrono::milliseconds(999), "mxgate/1").token, base);
  aws::Credentials other = c;
  other.secret_access_key = "secret2";
  EXPECT_NE(buildMskIamToken(other, "eu-west-1", now, "mxgate/1").token, base);
  other = c;
  other.session_token = "tok";
  const std::string url = base64UrlDecode(buildMskIamToken(other, "eu-west-1", now, "mxgate/1").token);
  EXPECT_NE(url.find("&X-Amz-Security-Token=tok&"), std::string::npos) << url;
  EXPECT_EQ(base64UrlDecode(base).find("X-Amz-Security-Token"), std::string::npos);
  EXPECT_EQ(base64UrlDecode(base).rfind("https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect&", 0),
            0u);
}

}  // namespace
}  // namespace mx::events
