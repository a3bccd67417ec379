// app/sink_context.cc — makeSinkContext (backends.h): the HTTP clients and the AWS
// credential chain that sink backends share (webhook and SQS sinks need a client; SQS and
// Kafka's MSK IAM need credentials). One client per CA file, one credential chain per
// region, each created on first use and kept for the life of the process.
// Trust: the Config has passed validateConfig().
#include <map>
#include <mutex>

#include "app/backends.h"
#include "http/beast_client.h"

namespace mx::app {
namespace {

class RealSinkContext final : public SinkContext {
 public:
  explicit RealSinkContext(const Config& c) {
    uint32_t in_flight = 16;
    for (const auto& s : c.sinks) in_flight += s.concurrency;
    in_flight_ = in_flight;
  }
  ~RealSinkContext() override {
    // The chains use the clients: they go first.
    credentials_.clear();
    clients_.clear();
  }

  Result<http::HttpClient*> http(const std::string& ca_file) override {
    std::lock_guard l(mu_);
    auto it = clients_.find(ca_file);
    if (it != clients_.end()) return it->second.get();
    http::ClientOptions o;
    o.threads = 1;
    o.max_in_flight = in_flight_;
    o.max_idle_per_endpoint = in_flight_;
    o.ca_file = ca_file;
    o.max_response_bytes = 1ull << 20;  // sinks' answers are small
    auto client = http::BeastClient::create(o);
    if (!client.ok()) return Error(ErrorClass::kConfig, "ca_file: " + client.error().message());
    http::HttpClient* raw = client->get();
    clients_.emplace(ca_file, std::move(*client));
    return raw;
  }

  Result<aws::CredentialsProvider*> credentials(const std::string& region) override {
    auto client = http("");
    if (!client.ok()) return client.error();
    std::lock_guard l(mu_);
    auto it = credentials_.find(region);
    if (it != credentials_.end()) return it->second.get();
    aws::CredentialChainOptions cc;
    cc.region = region;
    auto chain = aws::makeCredentialChain(**client, std::move(cc));
    if (!chain.ok()) return Error(ErrorClass::kConfig, "AWS credentials: " + chain.error().message());
    aws::CredentialsProvider* raw = chain->get();
    credentials_.emplace(region, std::move(*chain));
    return raw;
  }

 private:
  std::mutex mu_;
  uint32_t in_flight_ = 16;
  std::map<std::string, http::HttpClientPtr> clients_;
  std::map<std::string, aws::CredentialsProviderPtr> credentials_;
};

}  // namespace

std::unique_ptr<SinkContext> makeSinkContext(const Config& config) { return std::make_unique<RealSinkContext>(config); }

}  // namespace mx::app
