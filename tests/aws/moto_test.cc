// tests/aws/moto_test.cc — our Signer and BeastClient against moto (the image's pyenv
// python3 -m moto.server on 127.0.0.1, one server for the whole binary, stopped at the end
// and killed with the test process if it dies: PR_SET_PDEATHSIG). With signature enforcement
// (INITIAL_NO_AUTH_ACTION_COUNT / POST /moto-api/reset-auth) the first three calls create an
// IAM user, its policy and an access key; then S3 CreateBucket/PutObject/GetObject succeed
// with that secret and get 403 with a wrong one. Also the web identity step against moto's
// STS (AssumeRoleWithWebIdentity is unsigned). Skips, saying so, when moto is not importable.
// Registered with plain add_test (not gtest discovery) so that one process starts one moto.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "http/beast_client.h"

namespace mx::aws {
namespace {

using namespace std::chrono_literals;

uint16_t freePort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

class Moto {
 public:
  static Moto& get() {
    static Moto m;
    return m;
  }
  bool up() const { return pid_ > 0 && ready_; }
  const std::string& why() const { return why_; }
  std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  http::BeastClient& http() { return *http_; }

  void start() {
    if (std::system("python3 -c 'import moto.server' >/dev/null 2>&1") != 0) {
      why_ = "moto is not importable by python3 (use the image's pyenv python3)";
      return;
    }
    port_ = freePort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the test process
      ::setenv("INITIAL_NO_AUTH_ACTION_COUNT", "3", 1);
      std::string port = std::to_string(port_);
      std::freopen("/dev/null", "w", stdout);
      std::freopen("/dev/null", "w", stderr);
      ::execlp("python3", "python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", port.c_str(), nullptr);
      ::_exit(127);
    }
    http_ = http::BeastClient::create({}).value();
    for (int i = 0; i < 600 && !ready_; ++i) {  // up to 30 s on a loaded machine
      http::Request req{"GET", url("/moto-api/"), {}, "", 1000ms};
      auto r = http::sendAndWait(*http_, req);
      ready_ = r.ok() && r->status == 200;
      if (!ready_) std::this_thread::sleep_for(50ms);
    }
    if (!ready_) why_ = "moto did not answer on " + url("/moto-api/");
  }

  void stop() {
    http_.reset();
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  // The number of unauthenticated calls moto allows from now on.
  void resetAuth(const std::string& count) {
    http::Request req{"POST", url("/moto-api/reset-auth"), {{"Content-Type", "text/plain"}}, count, 5000ms};
    auto r = http::sendAndWait(*http_, req);
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.error().message());
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  bool ready_ = false;
  std::string why_;
  std::unique_ptr<http::BeastClient> http_;
};

class MotoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { Moto::get().start(); }
  void TearDown() override { Moto::get().stop(); }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new MotoEnvironment);

std::string xmlField(const std::string& xml, const std::string& tag) {
  size_t b = xml.find("<" + tag + ">");
  size_t e = xml.find("</" + tag + ">");
  if (b == std::string::npos || e == std::string::npos) return "";
  b += tag.size() + 2;
  return xml.substr(b, e - b);
}

Result<http::Response> signedSend(const Signer& signer, const Credentials& creds, http::Request req) {
  signer.sign(req, creds, RealClock().wall());
  return http::sendAndWait(Moto::get().http(), std::move(req));
}

http::Request iamCall(const std::string& body) {
  return http::Request{"POST", Moto::get().url("/"), {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
                       body + "&Version=2010-05-08", 10000ms};
}

class MotoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Moto::get().up()) GTEST_SKIP() << Moto::get().why();
  }
};

TEST_F(MotoTest, S3WithEnforcedSignatures) {
  Moto& moto = Moto::get();
  moto.resetAuth("3");
  // The three unauthenticated calls: a user, an allow-all inline policy, an access key.
  Signer iam({"us-east-1", "iam", false});
  Credentials bootstrap{"AKIDBOOTSTRAP", "anything", "", std::nullopt};
  auto user = signedSend(iam, bootstrap, iamCall("Action=CreateUser&UserName=mxgate"));
  ASSERT_TRUE(user.ok() && user->status == 200) << (user.ok() ? user->body : user.error().message());
  const std::string policy = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
  auto put_policy = signedSend(iam, bootstrap,
                               iamCall("Action=PutUserPolicy&UserName=mxgate&PolicyName=all&PolicyDocument=" + uriEncode(policy, true)));
  ASSERT_TRUE(put_policy.ok() && put_policy->status == 200) << (put_policy.ok() ? put_policy->body : "");
  auto key = signedSend(iam, bootstrap, iamCall("Action=CreateAccessKey&UserName=mxgate"));
  ASSERT_TRUE(key.ok() && key->status == 200) << (key.ok() ? key->body : "");
  Credentials good{xmlField(key->body, "AccessKeyId"), xmlField(key->body, "SecretAccessKey"), "", std::nullopt};
  ASSERT_FALSE(good.access_key_id.empty());
  ASSERT_FALSE(good.secret_access_key.empty());

  Signer s3({"us-east-1", "s3", true});
  auto create = signedSend(s3, good, http::Request{"PUT", moto.url("/mx-bucket"), {}, "", 10000ms});
  ASSERT_TRUE(create.ok());
  EXPECT_EQ(create->status, 200) << create->body;

  // A key that needs encoding. Only characters moto round-trips: moto recomputes the
  // signature from werkzeug's request.url, which decodes %2B, %3D, %2F, %28/%29 and UTF-8 that S3 and
  // botocore sign encoded; those keys are covered byte for byte by the botocore vectors.
  const std::string key_name = "acme/attachments/01J/1-my file v2~final.eml";
  const std::string object_url = moto.url("/mx-bucket/" + uriEncode(key_name, false));
  const std::string body = "Subject: moto\r\n\r\nsigned body\r\n";
  auto put = signedSend(s3, good, http::Request{"PUT", object_url, {{"Content-Type", "message/rfc822"}}, body, 10000ms});
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->status, 200) << put->body;
  auto got = signedSend(s3, good, http::Request{"GET", object_url, {}, "", 10000ms});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(got->body, body);

  // A listing with a prefix that needs encoding in the query. (Not a prefix with '/': moto
  // recomputes the signature from werkzeug's request.url, which decodes %2F, so it expects
  // an unencoded '/' there that real S3 and botocore encode.)
  const std::string second = moto.url("/mx-bucket/" + uriEncode("top level 1.eml", false));
  auto put2 = signedSend(s3, good, http::Request{"PUT", second, {{"Content-Type", "message/rfc822"}}, "two", 10000ms});
  ASSERT_TRUE(put2.ok());
  EXPECT_EQ(put2->status, 200) << put2->body;
  auto list = signedSend(s3, good,
                         http::Request{"GET", moto.url("/mx-bucket?list-type=2&prefix=" + uriEncode("top level", true)),
                                       {}, "", 10000ms});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->status, 200) << list->body;
  EXPECT_NE(list->body.find("<KeyCount>1</KeyCount>"), std::string::npos) << list->body;

  Credentials wrong = good;
  wrong.secret_access_key = "not-the-secret";
  auto denied = signedSend(s3, wrong, http::Request{"GET", object_url, {}, "", 10000ms});
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ(denied->status, 403) << denied->body;
  auto denied_put = signedSend(s3, wrong, http::Request{"PUT", object_url, {{"Content-Type", "message/rfc822"}}, "x", 10000ms});
  ASSERT_TRUE(denied_put.ok());
  EXPECT_EQ(denied_put->status, 403);
}

TEST_F(MotoTest, WebIdentityFromMotoSts) {
  Moto& moto = Moto::get();
  moto.resetAuth("inf");  // the STS call is unsigned: no enforcement for it
  auto dir = std::filesystem::temp_directory_path() / ("mx_aws_moto_wi_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "token") << "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJteGdhdGUifQ.c2ln\n"; }
  std::map<std::string, std::string> env{{"AWS_WEB_IDENTITY_TOKEN_FILE", (dir / "token").string()},
                                         {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/mxgate"},
                                         {"AWS_ROLE_SESSION_NAME", "mxgate-test"},
                                         {"AWS_EC2_METADATA_DISABLED", "true"}};
  CredentialChainOptions o;
  o.getenv = [env](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  o.sts_endpoint = moto.url("/");
  o.ecs_base_url = "http://127.0.0.1:1";
  o.region = "us-east-1";
  auto p = makeCredentialChain(moto.http(), o);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ((*p)->source(), "web-identity");
  std::promise<Result<Credentials>> promise;
  (*p)->get([&](Result<Credentials> r) { promise.set_value(std::move(r)); });
  auto c = promise.get_future().get();
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_FALSE(c->access_key_id.empty());
  EXPECT_FALSE(c->secret_access_key.empty());
  EXPECT_FALSE(c->session_token.empty());
  ASSERT_TRUE(c->expiration.has_value());
  EXPECT_GT(*c->expiration, RealClock().wall());
  p->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mx::aws
