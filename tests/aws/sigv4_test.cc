// tests/aws/sigv4_test.cc — aws::Signer against botocore: every vector in
// tests/aws/data/sigv4_vectors.json (written by botocore_vectors.py; the ctest
// aws.botocore_vectors regenerates and diffs it) must give the same canonical request, string
// to sign, added headers (x-amz-date, x-amz-security-token, x-amz-content-sha256,
// Authorization) and presigned URL. Plus the encoder and the signing-key cache.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aws/sigv4.h"

namespace mx::aws {
namespace {

using nlohmann::json;

json loadVectors() {
  const char* src = std::getenv("MXGATE_SOURCE_DIR");
  std::string dir = src != nullptr ? src : ".";
  std::ifstream in(dir + "/tests/aws/data/sigv4_vectors.json");
  EXPECT_TRUE(in.good()) << "cannot open sigv4_vectors.json under " << dir;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

Credentials credsOf(const json& v) {
  Credentials c;
  c.access_key_id = v["access_key_id"];
  c.secret_access_key = v["secret_access_key"];
  c.session_token = v["session_token"];
  return c;
}

WallTime timeOf(const json& v) { return WallTime{std::chrono::seconds{v["time"].get<int64_t>()}}; }

Signer signerOf(const json& v) {
  return Signer(SignerOptions{v["region"], v["service"], v["s3"].get<bool>()});
}

TEST(SigV4, BotocoreVectors) {
  json doc = loadVectors();
  int signs = 0, presigns = 0;
  for (const json& v : doc["vectors"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    Signer signer = signerOf(v);
    Credentials creds = credsOf(v);
    if (v["kind"] == "presign") {
      EXPECT_EQ(signer.presign(v["method"].get<std::string>(), v["url"].get<std::string>(), creds, timeOf(v),
                               v["expires"].get<int>()),
                v["presigned_url"].get<std::string>());
      ++presigns;
      continue;
    }
    http::Request req;
    req.method = v["method"];
    req.url = v["url"];
    req.body = v["body"];
    for (const json& h : v["headers"]) req.headers.push_back({h[0], h[1]});
    if (v.contains("raw_key")) {
      // The URL's path is what the S3 store builds: "/bucket/" + uriEncode(key, false).
      std::string path = "/mail/" + uriEncode(v["raw_key"].get<std::string>(), false);
      EXPECT_NE(req.url.find(path), std::string::npos) << path;
    }
    const std::string payload = v["payload"];

    http::Request signed_req = req;
    signer.sign(signed_req, creds, timeOf(v), payload);
    http::Headers added(signed_req.headers.begin() + static_cast<long>(req.headers.size()), signed_req.headers.end());
    ASSERT_EQ(added.size(), v["added_headers"].size());
    for (size_t i = 0; i < added.size(); ++i) {
      EXPECT_EQ(added[i].name, v["added_headers"][i][0].get<std::string>());
      EXPECT_EQ(added[i].value, v["added_headers"][i][1].get<std::string>());
    }

    // The canonical request and string to sign of the request as sign() saw it (with its
    // x-amz-* headers, before Authorization).
    http::Request before_auth = signed_req;
    before_auth.headers.pop_back();
    std::string canonical = signer.canonicalRequest(before_auth, payload);
    EXPECT_EQ(canonical, v["canonical_request"].get<std::string>());
    EXPECT_EQ(signer.stringToSign(canonical, timeOf(v)), v["string_to_sign"].get<std::string>());
    ++signs;
  }
  EXPECT_GE(signs, 20);
  EXPECT_GE(presigns, 3);
}

TEST(SigV4, SigningTwiceReplacesTheFirstSignature) {
  Signer signer({"eu-west-1", "s3", true});
  http::Request req;
  req.method = "PUT";
  req.url = "http://127.0.0.1:9000/mail/x";
  req.body = "b";
  Credentials creds{"AKID", "secret", "tok", std::nullopt};
  signer.sign(req, creds, WallTime{std::chrono::seconds{1'700'000'000}});
  http::Request once = req;
  signer.sign(req, creds, WallTime{std::chrono::seconds{1'700'000'000}});
  EXPECT_EQ(req.headers.size(), once.headers.size());
  EXPECT_EQ(*req.header("authorization"), *once.header("authorization"));
  // A different day derives a new key (the cache is keyed on the date and the secret).
  signer.sign(req, creds, WallTime{std::chrono::seconds{1'700'000'000 + 86'400}});
  EXPECT_NE(*req.header("authorization"), *once.header("authorization"));
  signer.sign(req, Credentials{"AKID", "other", "", std::nullopt}, WallTime{std::chrono::seconds{1'700'000'000}});
  EXPECT_NE(*req.header("authorization"), *once.header("authorization"));
  EXPECT_EQ(req.header("x-amz-security-token"), nullptr);
}

TEST(SigV4, UriEncode) {
  EXPECT_EQ(uriEncode("AZaz09-_.~", true), "AZaz09-_.~");
  EXPECT_EQ(uriEncode("a b+c=d/e", true), "a%20b%2Bc%3Dd%2Fe");
  EXPECT_EQ(uriEncode("a b+c=d/e", false), "a%20b%2Bc%3Dd/e");
  EXPECT_EQ(uriEncode("\xc3\xa9", true), "%C3%A9");
  EXPECT_EQ(uriEncode(std::string_view("\0\xff", 2), true), "%00%FF");
}

TEST(SigV4, SecretNeverInOutput) {
  Signer signer({"eu-west-1", "sqs", false});
  http::Request req;
  req.method = "POST";
  req.url = "https://sqs.eu-west-1.amazonaws.com/";
  Credentials creds{"AKID", "SUPERSECRETVALUE", "", std::nullopt};
  signer.sign(req, creds, WallTime{});
  for (const auto& h : req.headers) EXPECT_EQ(h.value.find("SUPERSECRETVALUE"), std::string::npos);
  EXPECT_EQ(signer.presign("GET", req.url, creds, WallTime{}, 60).find("SUPERSECRETVALUE"), std::string::npos);
}

}  // namespace
}  // namespace mx::aws
