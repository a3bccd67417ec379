// aws/credential_sources.cc — the network steps of the chain (credentials.h 3–5):
//  - web identity: STS AssumeRoleWithWebIdentity, a Query API POST (Action, Version
//    2011-06-15, RoleArn, RoleSessionName, WebIdentityToken), unsigned; the token file is
//    re-read at every refresh (EKS rotates it);
//  - ECS: GET the container endpoint with the Authorization token (the token file re-read at
//    every refresh); JSON answer;
//  - IMDSv2: PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds), then GET
//    /latest/meta-data/iam/security-credentials/ for the role name and GET …/<role> for the
//    JSON, each with X-aws-ec2-metadata-token.
// Errors name the step and the HTTP status (and STS's error Code), never a body or secret.
#include <cctype>
#include <fstream>
#include <sstream>

#include "aws/credential_sources.h"
#include "aws/sigv4.h"

namespace mx::aws {
namespace {

using Done = std::function<void(Result<Credentials>)>;

Error transient(std::string msg) { return Error(ErrorClass::kTransientBackend, std::move(msg)); }

std::optional<std::string> readSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) return std::nullopt;
  std::string out;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > 64 * 1024) return std::nullopt;  // no token is that long
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) out.pop_back();
  return out;
}

// STS's <Code> from an ErrorResponse: letters only, so it can be shown.
std::string stsErrorCode(const std::string& body) {
  size_t b = body.find("<Code>");
  if (b == std::string::npos) return "";
  b += 6;
  size_t e = body.find("</Code>", b);
  if (e == std::string::npos || e - b > 64) return "";
  std::string code = body.substr(b, e - b);
  for (char c : code) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_') return "";
  }
  return code;
}

class WebIdentityProvider final : public RefreshingProvider {
 public:
  WebIdentityProvider(http::HttpClient& http, const CredentialChainOptions& o, std::string url, std::string role_arn,
                      std::string session, std::string token_file)
      : RefreshingProvider("web-identity", o),
        http_(http),
        timeout_(o.http_timeout),
        url_(std::move(url)),
        role_arn_(std::move(role_arn)),
        session_(std::move(session)),
        token_file_(std::move(token_file)) {}

 protected:
  void fetch(Done done) override {
    auto token = readSmallFile(token_file_);
    if (!token || token->empty()) return done(transient("web identity token file cannot be read: " + token_file_));
    http::Request req;
    req.method = "POST";
    req.url = url_;
    req.timeout = timeout_;
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}, {"Accept", "text/xml"}};
    req.body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + uriEncode(role_arn_, true) +
               "&RoleSessionName=" + uriEncode(session_, true) + "&WebIdentityToken=" + uriEncode(*token, true);
    http_.send(std::move(req), [done = std::move(done)](Result<http::Response> r) {
      if (!r.ok()) return done(transient("STS AssumeRoleWithWebIdentity: " + r.error().message()));
      if (r->status != 200) {
        std::string code = stsErrorCode(r->body);
        return done(transient("STS AssumeRoleWithWebIdentity: HTTP " + std::to_string(r->status) +
                              (code.empty() ? "" : " " + code)));
      }
      done(parseStsCredentialsXml(r->body));
    });
  }

 private:
  http::HttpClient& http_;
  Millis timeout_;
  std::string url_, role_arn_, session_, token_file_;
};

class EcsProvider final : public RefreshingProvider {
 public:
  EcsProvider(http::HttpClient& http, const CredentialChainOptions& o, std::string url, std::string token,
              std::string token_file)
      : RefreshingProvider("ecs", o),
        http_(http),
        timeout_(o.http_timeout),
        url_(std::move(url)),
        token_(std::move(token)),
        token_file_(std::move(token_file)) {}

 protected:
  void fetch(Done done) override {
    http::Request req;
    req.url = url_;
    req.timeout = timeout_;
    req.headers = {{"Accept", "application/json"}};
    std::string token = token_;
    if (!token_file_.empty()) {
      auto t = readSmallFile(token_file_);
      if (!t) return done(transient("ECS authorization token file cannot be read: " + token_file_));
      token = *t;
    }
    if (!token.empty()) {
      if (token.find_first_of("\r\n") != std::string::npos) return done(transient("ECS authorization token holds a line break"));
      req.headers.push_back({"Authorization", token});
    }
    http_.send(std::move(req), [done = std::move(done)](Result<http::Response> r) {
      if (!r.ok()) return done(transient("ECS credentials endpoint: " + r.error().message()));
      if (r->status != 200) return done(transient("ECS credentials endpoint: HTTP " + std::to_string(r->status)));
      done(parseCredentialsJson(r->body));
    });
  }

 private:
  http::HttpClient& http_;
  Millis timeout_;
  std::string url_, token_, token_file_;
};

class ImdsProvider final : public RefreshingProvider {
 public:
  ImdsProvider(http::HttpClient& http, const CredentialChainOptions& o, std::string endpoint)
      : RefreshingProvider("imds", o), http_(http), timeout_(o.http_timeout), endpoint_(std::move(endpoint)) {}

 protected:
  void fetch(Done done) override {
    http::Request req;
    req.method = "PUT";
    req.url = endpoint_ + "/latest/api/token";
    req.timeout = timeout_;
    req.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    std::weak_ptr<RefreshingProvider> weak = weak_from_this();
    http_.send(std::move(req), [this, weak, done = std::move(done)](Result<http::Response> r) mutable {
      auto self = weak.lock();
      if (!self) return;
      if (!r.ok()) return done(transient("IMDS token: " + r.error().message()));
      if (r->status != 200 || r->body.empty() || r->body.size() > 4096) {
        return done(transient("IMDS token: HTTP " + std::to_string(r->status)));
      }
      roleName(std::move(r->body), std::move(done));
    });
  }

 private:
  void roleName(std::string token, Done done) {
    http::Request req;
    req.url = endpoint_ + "/latest/meta-data/iam/security-credentials/";
    req.timeout = timeout_;
    req.headers = {{"X-aws-ec2-metadata-token", token}};
    std::weak_ptr<RefreshingProvider> weak = weak_from_this();
    http_.send(std::move(req), [this, weak, token, done = std::move(done)](Result<http::Response> r) mutable {
      auto self = weak.lock();
      if (!self) return;
      if (!r.ok()) return done(transient("IMDS role name: " + r.error().message()));
      if (r->status == 404) return done(transient("IMDS: the instance has no instance profile (HTTP 404)"));
      if (r->status != 200) return done(transient("IMDS role name: HTTP " + std::to_string(r->status)));
      std::string role = r->body.substr(0, r->body.find('\n'));
      while (!role.empty() && (role.back() == '\r' || role.back() == ' ')) role.pop_back();
      // A role name is [\w+=,.@-]{1,64}: anything else is not put into a URL.
      bool ok = !role.empty() && role.size() <= 64;
      for (char c : role) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("_+=,.@-").find(c) == std::string_view::npos) ok = false;
      }
      if (!ok) return done(transient("IMDS role name malformed"));
      credentials(std::move(token), std::move(role), std::move(done));
    });
  }

  void credentials(std::string token, std::string role, Done done) {
    http::Request req;
    req.url = endpoint_ + "/latest/meta-data/iam/security-credentials/" + role;
    req.timeout = timeout_;
    req.headers = {{"X-aws-ec2-metadata-token", std::move(token)}};
    http_.send(std::move(req), [done = std::move(done)](Result<http::Response> r) {
      if (!r.ok()) return done(transient("IMDS credentials: " + r.error().message()));
      if (r->status != 200) return done(transient("IMDS credentials: HTTP " + std::to_string(r->status)));
      done(parseCredentialsJson(r->body));
    });
  }

  http::HttpClient& http_;
  Millis timeout_;
  std::string endpoint_;
};

}  // namespace

std::shared_ptr<RefreshingProvider> makeWebIdentityProvider(http::HttpClient& http, const CredentialChainOptions& options,
                                                            std::string sts_url, std::string role_arn,
                                                            std::string session_name, std::string token_file) {
  return std::make_shared<WebIdentityProvider>(http, options, std::move(sts_url), std::move(role_arn),
                                               std::move(session_name), std::move(token_file));
}

std::shared_ptr<RefreshingProvider> makeEcsProvider(http::HttpClient& http, const CredentialChainOptions& options,
                                                    std::string url, std::string auth_token, std::string auth_token_file) {
  return std::make_shared<EcsProvider>(http, options, std::move(url), std::move(auth_token), std::move(auth_token_file));
}

std::shared_ptr<RefreshingProvider> makeImdsProvider(http::HttpClient& http, const CredentialChainOptions& options,
                                                     std::string endpoint) {
  return std::make_shared<ImdsProvider>(http, options, std::move(endpoint));
}

}  // namespace mx::aws
