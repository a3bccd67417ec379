// tests/support/moto_server.h — moto (the image's pyenv `python3 -m moto.server`) on a free
// loopback port for one test binary, with signature enforcement (INITIAL_NO_AUTH_ACTION_COUNT,
// PLATFORM.md): bootstrapCredentials() spends the unauthenticated calls on an IAM user, an
// allow-all policy and an access key, after which every request must carry a valid SigV4
// signature of that key. The server dies with the test process (PR_SET_PDEATHSIG).
// Header-only; used by tests/events/sqs_moto_test.cc (tests/aws/moto_test.cc keeps its own
// copy of the start/stop part for now).
// Trust: test code; binds 127.0.0.1 only.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "core/clock.h"
#include "http/beast_client.h"

namespace mx::testing {

class MotoServer {
 public:
  ~MotoServer() { stop(); }

  // Starts moto; false (with why()) when it is not importable or does not answer in 30 s.
  bool start() {
    using namespace std::chrono_literals;
    if (std::system("python3 -c 'import moto.server' >/dev/null 2>&1") != 0) {
      why_ = "moto is not importable by python3 (use the image's pyenv python3)";
      return false;
    }
    {
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
      port_ = a.local_endpoint().port();
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      ::setenv("INITIAL_NO_AUTH_ACTION_COUNT", "3", 1);
      std::string port = std::to_string(port_);
      (void)std::freopen("/dev/null", "w", stdout);
      (void)std::freopen("/dev/null", "w", stderr);
      ::execlp("python3", "python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", port.c_str(), nullptr);
      ::_exit(127);
    }
    http_ = http::BeastClient::create({}).value();
    bool ready = false;
    for (int i = 0; i < 600 && !ready; ++i) {
      auto r = http::sendAndWait(*http_, http::Request{"GET", url("/moto-api/"), {}, "", 1000ms});
      ready = r.ok() && r->status == 200;
      if (!ready) std::this_thread::sleep_for(50ms);
    }
    if (!ready) why_ = "moto did not answer on " + url("/moto-api/");
    return ready;
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

  const std::string& why() const { return why_; }
  std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  http::BeastClient& http() { return *http_; }

  // The three unauthenticated calls: IAM CreateUser, PutUserPolicy (allow all), CreateAccessKey.
  // Returns the key, or an error naming the call that failed.
  Result<aws::Credentials> bootstrapCredentials() {
    aws::Signer iam({"us-east-1", "iam", false});
    aws::Credentials bootstrap{"AKIDBOOTSTRAP", "anything", "", std::nullopt};
    const std::string policy =
        R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
    const std::string calls[] = {
        "Action=CreateUser&UserName=mxgate",
        "Action=PutUserPolicy&UserName=mxgate&PolicyName=all&PolicyDocument=" + aws::uriEncode(policy, true),
        "Action=CreateAccessKey&UserName=mxgate"};
    std::string last;
    for (const std::string& call : calls) {
      http::Request req{"POST",
                        url("/"),
                        {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
                        call + "&Version=2010-05-08",
                        std::chrono::seconds(10)};
      iam.sign(req, bootstrap, RealClock().wall());
      auto r = http::sendAndWait(*http_, std::move(req));
      if (!r.ok() || r->status != 200) {
        return Error(ErrorClass::kTransientBackend, "moto IAM " + call.substr(0, 30) + ": " +
                                                        (r.ok() ? std::to_string(r->status) : r.error().message()));
      }
      last = r->body;
    }
    aws::Credentials c{aws::xmlElementText(last, "AccessKeyId").value_or(""),
                       aws::xmlElementText(last, "SecretAccessKey").value_or(""), "", std::nullopt};
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return Error(ErrorClass::kTransientBackend, "moto IAM CreateAccessKey: no key in the answer");
    }
    return c;
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string why_;
  std::unique_ptr<http::BeastClient> http_;
};

}  // namespace mx::testing
