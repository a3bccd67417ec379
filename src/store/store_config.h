// store/store_config.h — the [store] and [store.s3] sections, owned by the store module
// (config_table.h). Which backend names exist depends on the build; src/app's registry
// checks the name. [store.s3] is declared here, not in the s3 library, so that a build
// without MXGATE_WITH_STORE_S3 still parses (and documents) the same file.
//
// Specs for the [store.s3] checks: Amazon S3 User Guide "Bucket naming rules" (general
// purpose buckets), "Multipart upload limits" (5 MiB..5 GiB parts, 10,000 parts), and
// "Specifying server-side encryption" (x-amz-server-side-encryption: AES256 | aws:kms).
// Trust: the operator's values; every one is checked (checkS3Settings) before use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config_table.h"

namespace mx::store {

// [store.s3]: an S3 or S3-compatible bucket (MinIO, R2, Ceph). Used when backend = "s3".
struct S3Settings {
  std::string bucket;
  std::string region;                  // "eu-west-1"; S3-compatible stores often take "us-east-1"
  std::string endpoint;                // "": AWS; else "http(s)://host[:port]"
  std::string addressing = "virtual";  // virtual: {bucket}.host; path: host/{bucket}
  std::string prefix;                  // prepended to every key ("inbound" -> inbound/{tenant}/...)
  std::string sse;                     // "", "AES256", "aws:kms"
  std::string kms_key_id;              // only with sse = "aws:kms"; "": the bucket's AWS managed key
  uint32_t max_in_flight = 64;         // object uploads at once; putUnsynced waits beyond
  uint64_t multipart_threshold = 16ull << 20;
  uint64_t part_size = 8ull << 20;
  std::string ack_after = "spool";  // when SMTP says 250: spool (fdatasync) | store (S3 ack)
  std::string access_key_id;        // secret; empty: the AWS credential chain
  std::string secret_access_key;    // secret
  std::string session_token;        // secret
  std::string ca_file;              // PEM bundle for https; "": the system's CA store
  Millis connect_timeout{5'000};
  Millis request_timeout{60'000};
  uint32_t max_retries = 5;  // attempts after the first, per request
  Millis retry_backoff_base{100};
  Millis retry_backoff_cap{5'000};
};

struct StoreSettings {
  std::string backend = "local";    // the registry's name: local, memory, s3
  std::string dir = "var/store";    // root of the local store
  std::string sync = "filesystem";  // local: filesystem | file
  S3Settings s3;                    // [store.s3]
};

const config::Table<StoreSettings>& storeTable();
const config::Table<S3Settings>& s3Table();

// A problem with one [store.s3] key: `key` is the key within the section ("part_size").
struct SettingError {
  std::string key;
  std::string message;
};

// The cross-field and format checks of [store.s3] that the table's per-key checks cannot
// express (bucket naming, region form, part and threshold sizes, sse/kms_key_id, endpoint
// URL). Call when store.backend is "s3"; empty when the settings can be used.
std::vector<SettingError> checkS3Settings(const S3Settings& s);

// The S3 minimum and maximum part sizes (every part but the last) and the part count limit.
inline constexpr uint64_t kS3MinPartSize = 5ull << 20;
inline constexpr uint64_t kS3MaxPartSize = 5ull << 30;
inline constexpr uint32_t kS3MaxParts = 10'000;

}  // namespace mx::store
