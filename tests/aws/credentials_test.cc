// tests/aws/credentials_test.cc — the credential chain: the choice of step (config,
// environment, web identity, ECS, IMDS), each network step against a fake served by this
// process on 127.0.0.1 (the IMDS fake refuses requests without the session token; the ECS
// fake requires the Authorization header), refresh ahead of expiry on a ManualClock, old
// credentials kept through failed refreshes, and no secret in any error message.
// SAFETY: the environment is injected (never the real one); every test sets the endpoints
// to its loopback fake or disables IMDS, so nothing here can reach 169.254.x.x or AWS.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "../http/test_server.h"
#include "aws/credential_sources.h"
#include "aws/credentials.h"
#include "core/time_format.h"
#include "http/beast_client.h"

namespace mx::aws {
namespace {

using mx::testing::TestReply;
using mx::testing::TestRequest;
using mx::testing::TestServer;
using namespace std::chrono_literals;

constexpr const char* kSecret = "SECRETwJalrXUtnFEMIK7MDENGbPxRfiCY";
constexpr const char* kToken = "TOKENIQoJb3JpZ2luX2VjEXAMPLE";

using Env = std::map<std::string, std::string>;

CredentialChainOptions optionsWith(Env env, const Clock* clock = nullptr) {
  CredentialChainOptions o;
  // Never the process environment; IMDS off unless a test points it at its fake.
  if (!env.count("AWS_EC2_METADATA_SERVICE_ENDPOINT") && !env.count("AWS_EC2_METADATA_DISABLED")) {
    env["AWS_EC2_METADATA_DISABLED"] = "true";
  }
  o.getenv = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  o.ecs_base_url = "http://127.0.0.1:1";  // never 169.254.170.2
  o.sts_endpoint = "http://127.0.0.1:1/";
  o.clock = clock;
  o.poll_interval = 10ms;
  o.http_timeout = 5000ms;
  return o;
}

Result<Credentials> getAndWait(CredentialsProvider& p) {
  std::promise<Result<Credentials>> promise;
  p.get([&](Result<Credentials> r) { promise.set_value(std::move(r)); });
  return promise.get_future().get();
}

// Polls `pred` for up to 20 s (a hang guard, not a timing assertion).
template <typename F>
bool eventually(F pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

std::string credsJson(const std::string& akid, WallTime expiration) {
  return std::string(R"({"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":")") +
         akid + R"(","SecretAccessKey":")" + kSecret + R"(","Token":")" + kToken + R"(","Expiration":")" +
         formatRfc3339(expiration) + R"("})";
}

class Chain : public ::testing::Test {
 protected:
  std::unique_ptr<http::BeastClient> http_ = http::BeastClient::create({}).value();
};

TEST_F(Chain, StaticConfigComesFirst) {
  auto o = optionsWith({{"AWS_ACCESS_KEY_ID", "ENVKEY"}, {"AWS_SECRET_ACCESS_KEY", "envsecret"}});
  o.static_credentials = {"CFGKEY", "cfgsecret", "", std::nullopt};
  auto p = makeCredentialChain(*http_, o);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ((*p)->source(), "config");
  EXPECT_EQ((*p)->current()->access_key_id, "CFGKEY");
  auto g = getAndWait(**p);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->secret_access_key, "cfgsecret");
}

TEST_F(Chain, Environment) {
  auto p = makeCredentialChain(*http_, optionsWith({{"AWS_ACCESS_KEY_ID", "ENVKEY"},
                                                     {"AWS_SECRET_ACCESS_KEY", "envsecret"},
                                                     {"AWS_SESSION_TOKEN", "envtoken"}}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->source(), "environment");
  auto c = (*p)->current();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ENVKEY");
  EXPECT_EQ(c->secret_access_key, "envsecret");
  EXPECT_EQ(c->session_token, "envtoken");
  EXPECT_FALSE(c->expiration.has_value());
}

TEST_F(Chain, ConfigErrors) {
  auto half = makeCredentialChain(*http_, optionsWith({{"AWS_ACCESS_KEY_ID", "ENVKEY"}}));
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().errorClass(), ErrorClass::kConfig);
  auto none = makeCredentialChain(*http_, optionsWith({}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().errorClass(), ErrorClass::kConfig);
  EXPECT_NE(none.error().message().find("AWS_EC2_METADATA_DISABLED"), std::string::npos);
  auto bad_file = makeCredentialChain(*http_, optionsWith({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"},
                                                            {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r"}}));
  ASSERT_FALSE(bad_file.ok());
  EXPECT_EQ(bad_file.error().errorClass(), ErrorClass::kConfig);
  auto remote_http = makeCredentialChain(*http_, optionsWith({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://198.51.100.7/creds"}}));
  ASSERT_FALSE(remote_http.ok());
  EXPECT_EQ(remote_http.error().errorClass(), ErrorClass::kConfig);
}

TEST_F(Chain, EcsFullUriSendsAuthorization) {
  std::atomic<int> unauthorized{0};
  const WallTime exp = RealClock().wall() + 6h;
  TestServer ecs([&](const TestRequest& r) {
    if (r.header("authorization") != "Bearer ecs-token") {
      ++unauthorized;
      return TestReply{401, "no"};
    }
    return TestReply{200, credsJson("ECSKEY", exp)};
  });
  auto p = makeCredentialChain(*http_, optionsWith({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url("/v2/credentials/abc")},
                                                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer ecs-token"}}));
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ((*p)->source(), "ecs");
  auto c = getAndWait(**p);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->access_key_id, "ECSKEY");
  EXPECT_EQ(c->secret_access_key, kSecret);
  EXPECT_EQ(c->session_token, kToken);
  ASSERT_TRUE(c->expiration.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(*c->expiration - exp).count(), 0);
  EXPECT_EQ(unauthorized.load(), 0);
}

TEST_F(Chain, EcsRelativeUriAndTokenFile) {
  auto dir = std::filesystem::temp_directory_path() / ("mx_aws_ecs_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "token") << "file-token\n"; }
  std::string seen_target;
  std::mutex mu;
  TestServer ecs([&](const TestRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    seen_target = r.target;
    if (r.header("authorization") != "file-token") return TestReply{401, "no"};
    return TestReply{200, credsJson("RELKEY", RealClock().wall() + 6h)};
  });
  auto o = optionsWith({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/rel"},
                        {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", (dir / "token").string()}});
  o.ecs_base_url = "http://127.0.0.1:" + std::to_string(ecs.port());
  auto p = makeCredentialChain(*http_, o);
  ASSERT_TRUE(p.ok()) << p.error().message();
  auto c = getAndWait(**p);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->access_key_id, "RELKEY");
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen_target, "/v2/credentials/rel");
  std::filesystem::remove_all(dir);
}

// IMDSv2: the token first, then the role, then its credentials; every GET must carry the
// token (the fake answers 401 otherwise, as IMDS does with IMDSv1 disabled).
class FakeImds {
 public:
  explicit FakeImds(const Clock& clock) : clock_(clock), server_([this](const TestRequest& r) { return handle(r); }) {}
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::atomic<int> calls{0}, unauthorized{0}, served{0};
  std::atomic<bool> failing{false};
  std::atomic<bool> leak_secret_in_bad_json{false};
  Millis lifetime = 1h;

 private:
  TestReply handle(const TestRequest& r) {
    ++calls;
    if (r.method == "PUT" && r.target == "/latest/api/token") {
      if (r.header("x-aws-ec2-metadata-token-ttl-seconds").empty()) return TestReply{400, "ttl required"};
      return TestReply{200, "IMDSSESSIONTOKEN"};
    }
    if (r.header("x-aws-ec2-metadata-token") != "IMDSSESSIONTOKEN") {
      ++unauthorized;
      return TestReply{401, ""};
    }
    if (failing) return TestReply{500, "boom"};
    if (r.target == "/latest/meta-data/iam/security-credentials/") return TestReply{200, "mxgate-node-role\n"};
    if (r.target == "/latest/meta-data/iam/security-credentials/mxgate-node-role") {
      if (leak_secret_in_bad_json) {
        return TestReply{200, std::string(R"({"Code":"Success","AccessKeyId":"AK","SecretAccessKey":12,"Token":")") + kToken + "\"}"};
      }
      int n = ++served;
      return TestReply{200, credsJson("IMDSKEY" + std::to_string(n), clock_.wall() + lifetime)};
    }
    return TestReply{404, ""};
  }
  const Clock& clock_;
  TestServer server_;
};

TEST_F(Chain, ImdsV2WithTokenAndRefreshAheadOfExpiry) {
  ManualClock clock(RealClock().wall());
  FakeImds imds(clock);
  auto o = optionsWith({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint()}}, &clock);
  o.refresh_before = 5min;
  auto p = makeCredentialChain(*http_, o);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ((*p)->source(), "imds");
  auto c = getAndWait(**p);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->access_key_id, "IMDSKEY1");
  EXPECT_EQ(c->session_token, kToken);
  EXPECT_EQ(imds.unauthorized.load(), 0);

  // Not due yet: the poller leaves it alone.
  clock.advance(50min);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(imds.served.load(), 1);
  // Inside refresh_before: the background thread refreshes; current() never waits.
  clock.advance(6min);
  EXPECT_EQ((*p)->current()->access_key_id.substr(0, 7), "IMDSKEY");
  ASSERT_TRUE(eventually([&] { return (*p)->current().ok() && (*p)->current()->access_key_id == "IMDSKEY2"; }));
  EXPECT_EQ(imds.unauthorized.load(), 0);
}

TEST_F(Chain, ImdsFakeRequiresTheToken) {
  ManualClock clock;
  FakeImds imds(clock);
  auto r = http::sendAndWait(*http_, http::Request{"GET", imds.endpoint() + "/latest/meta-data/iam/security-credentials/", {}, "", 0ms});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
}

TEST_F(Chain, FailedRefreshKeepsOldCredentialsUntilExpiry) {
  ManualClock clock(RealClock().wall());
  FakeImds imds(clock);
  auto o = optionsWith({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint()}}, &clock);
  o.refresh_before = 5min;
  o.retry_backoff = 1000ms;
  auto p = makeCredentialChain(*http_, o);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(getAndWait(**p).ok());
  imds.failing = true;
  const int calls_before = imds.calls.load();
  clock.advance(57min);  // in the refresh window
  ASSERT_TRUE(eventually([&] { return imds.calls.load() > calls_before; }));
  auto still = (*p)->current();
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->access_key_id, "IMDSKEY1");
  // Past expiry with refreshes still failing: an error, transient, without any secret.
  clock.advance(4min);
  // (A refresh may still be on the wire when the clock passes expiry: wait for its error.)
  ASSERT_TRUE(eventually([&] {
    auto r = (*p)->current();
    return !r.ok() && r.error().message().find("HTTP 500") != std::string::npos;
  }));
  auto expired = (*p)->current();
  EXPECT_EQ(expired.error().errorClass(), ErrorClass::kTransientBackend);
  EXPECT_NE(expired.error().message().find("HTTP 500"), std::string::npos) << expired.error().message();
  EXPECT_EQ(expired.error().message().find(kSecret), std::string::npos);
  // The endpoint heals: after the backoff the next attempt succeeds.
  imds.failing = false;
  clock.advance(2min);
  ASSERT_TRUE(eventually([&] { return (*p)->current().ok(); }));
  EXPECT_EQ((*p)->current()->access_key_id, "IMDSKEY2");
}

TEST_F(Chain, NoSecretInParseErrors) {
  ManualClock clock(RealClock().wall());
  FakeImds imds(clock);
  imds.leak_secret_in_bad_json = true;
  auto p = makeCredentialChain(*http_, optionsWith({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint()}}, &clock));
  ASSERT_TRUE(p.ok());
  auto c = getAndWait(**p);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message().find(kToken), std::string::npos) << c.error().message();
  EXPECT_NE(c.error().message().find("SecretAccessKey"), std::string::npos) << c.error().message();
}

TEST_F(Chain, WebIdentityAgainstFakeSts) {
  auto dir = std::filesystem::temp_directory_path() / ("mx_aws_wi_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "token") << "eyJ.jwt.sig\n"; }
  std::string body;
  std::mutex mu;
  TestServer sts([&](const TestRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    body = r.body;
    return TestReply{200, std::string("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                                      "<AssumeRoleWithWebIdentityResult><Credentials><SessionToken>") + kToken +
                              "</SessionToken><SecretAccessKey>" + kSecret +
                              "</SecretAccessKey><Expiration>2099-01-01T00:00:00Z</Expiration>"
                              "<AccessKeyId>ASIAWEBID</AccessKeyId></Credentials></AssumeRoleWithWebIdentityResult>"
                              "</AssumeRoleWithWebIdentityResponse>"};
  });
  auto o = optionsWith({{"AWS_WEB_IDENTITY_TOKEN_FILE", (dir / "token").string()},
                        {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/mxgate"},
                        {"AWS_ROLE_SESSION_NAME", "node-1"}});
  o.sts_endpoint = sts.url("/");
  auto p = makeCredentialChain(*http_, o);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ((*p)->source(), "web-identity");
  auto c = getAndWait(**p);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->access_key_id, "ASIAWEBID");
  EXPECT_EQ(c->secret_access_key, kSecret);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(body,
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fmxgate"
            "&RoleSessionName=node-1&WebIdentityToken=eyJ.jwt.sig");
  std::filesystem::remove_all(dir);
}

TEST_F(Chain, StsErrorShowsCodeNotBody) {
  auto dir = std::filesystem::temp_directory_path() / ("mx_aws_wie_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "token") << "eyJ.jwt.sig"; }
  TestServer sts([&](const TestRequest&) {
    return TestReply{400, std::string("<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                                      "<Message>token ") + kToken + " is bad</Message></Error></ErrorResponse>"};
  });
  auto o = optionsWith({{"AWS_WEB_IDENTITY_TOKEN_FILE", (dir / "token").string()},
                        {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/mxgate"}});
  o.sts_endpoint = sts.url("/");
  auto p = makeCredentialChain(*http_, o);
  ASSERT_TRUE(p.ok());
  auto c = getAndWait(**p);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("InvalidIdentityToken"), std::string::npos) << c.error().message();
  EXPECT_EQ(c.error().message().find(kToken), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(CredentialParse, Iso8601) {
  auto t = parseIso8601("2026-12-07T11:18:39Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count(), 1796642319);
  auto frac = parseIso8601("2026-12-07T11:18:39.250Z");
  ASSERT_TRUE(frac);
  EXPECT_EQ(unixMillis(*frac), 1796642319250);
  auto off = parseIso8601("2026-12-07T12:18:39+01:00");
  ASSERT_TRUE(off);
  EXPECT_EQ(*off, *t);
  for (const char* bad : {"", "2026-12-07", "2026-12-07T11:18:39", "2026-13-07T11:18:39Z", "2026-12-07T11:18:39Zjunk",
                          "2026-12-07T11:18:39.Z", "x026-12-07T11:18:39Z"}) {
    EXPECT_FALSE(parseIso8601(bad)) << bad;
  }
}

TEST(CredentialParse, StsXmlNeedsAllFieldsAndDecodesEntities) {
  auto c = parseStsCredentialsXml("<r><Credentials><AccessKeyId>ASIA</AccessKeyId><SecretAccessKey>a&amp;b</SecretAccessKey>"
                                  "<SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></r>");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->secret_access_key, "a&b");
  EXPECT_FALSE(parseStsCredentialsXml("<r><AccessKeyId>X</AccessKeyId></r>").ok());
  EXPECT_FALSE(parseStsCredentialsXml(std::string(70 * 1024, 'x')).ok());
  EXPECT_FALSE(parseStsCredentialsXml("<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
                                      "<SessionToken>t</SessionToken><Expiration>soon</Expiration></Credentials>").ok());
}

TEST(CredentialParse, JsonRejectsWrongShapes) {
  EXPECT_FALSE(parseCredentialsJson("not json").ok());
  EXPECT_FALSE(parseCredentialsJson("[1,2]").ok());
  EXPECT_FALSE(parseCredentialsJson(R"({"Code":"Failure","AccessKeyId":"A","SecretAccessKey":"s"})").ok());
  EXPECT_FALSE(parseCredentialsJson(R"({"AccessKeyId":"A B","SecretAccessKey":"s"})").ok());
  auto ok = parseCredentialsJson(R"({"AccessKeyId":"A","SecretAccessKey":"s"})");
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok->expiration.has_value());
  std::string deep(60000, '[');
  EXPECT_FALSE(parseCredentialsJson(deep).ok());
}

}  // namespace
}  // namespace mx::aws
