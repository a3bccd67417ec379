// store/s3/s3_factory.cc — makeS3BlobStore: [store.s3] → S3BlobStore with a BeastClient and
// the AWS credential chain (see s3_blob_store.h). The only place the s3 backend names the
// concrete HTTP client.
#include "http/beast_client.h"
#include "store/s3/s3_blob_store.h"
#include "store/store_config.h"

namespace mx::store {

Result<std::unique_ptr<S3BlobStore>> makeS3BlobStore(const S3Settings& s, std::function<void(std::string_view)> log) {
  http::ClientOptions co;
  co.threads = 1;  // the work per request is small (a copy, a TLS write); uploads wait on S3
  // Every upload has at most one request on the wire at a time; leave room for aborts and
  // get()/exists() beside a full set of uploads.
  co.max_in_flight = s.max_in_flight + 8;
  co.max_idle_per_endpoint = s.max_in_flight + 8;
  co.connect_timeout = s.connect_timeout;
  co.request_timeout = s.request_timeout;
  co.ca_file = s.ca_file;
  co.max_response_bytes = 64ull << 20;
  auto client = http::BeastClient::create(co);
  if (!client.ok()) return Error(ErrorClass::kConfig, "ca_file: " + client.error().message());
  http::HttpClientPtr http = std::move(*client);

  aws::CredentialChainOptions cc;
  cc.static_credentials.access_key_id = s.access_key_id;
  cc.static_credentials.secret_access_key = s.secret_access_key;
  cc.static_credentials.session_token = s.session_token;
  cc.region = s.region;
  auto creds = aws::makeCredentialChain(*http, std::move(cc));
  if (!creds.ok()) return Error(ErrorClass::kConfig, "credentials: " + creds.error().message());

  S3BlobStoreOptions o;
  o.bucket = s.bucket;
  o.region = s.region;
  o.endpoint = s.endpoint;
  o.path_style = s.addressing == "path";
  o.sse = s.sse;
  o.kms_key_id = s.kms_key_id;
  o.max_in_flight = s.max_in_flight;
  o.multipart_threshold = s.multipart_threshold;
  o.part_size = s.part_size;
  o.max_retries = s.max_retries;
  o.retry_backoff_base = s.retry_backoff_base;
  o.retry_backoff_cap = s.retry_backoff_cap;
  o.log = std::move(log);
  // The client owns the HTTP exchange timeout (request_timeout); the store keeps it per attempt.
  o.request_timeout = s.request_timeout;
  return std::make_unique<S3BlobStore>(std::move(o), std::move(http), std::move(*creds));
}

}  // namespace mx::store
