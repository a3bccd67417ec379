// store/store_config.cc — see store_config.h.
#include "store/store_config.h"

#include <arpa/inet.h>

#include <cctype>

namespace mx::store {
namespace {

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Amazon S3 general purpose bucket naming rules.
std::string bucketProblem(const std::string& b) {
  if (b.empty()) return "is required with store.backend = \"s3\"";
  if (b.size() < 3 || b.size() > 63) return "must be 3 to 63 characters long";
  for (char c : b) {
    if (!isLowerAlnum(c) && c != '.' && c != '-') return "may hold only lower-case letters, digits, '.' and '-'";
  }
  if (!isLowerAlnum(b.front()) || !isLowerAlnum(b.back())) return "must start and end with a letter or digit";
  if (b.find("..") != std::string::npos) return "must not hold two adjacent periods";
  in_addr a;
  if (::inet_pton(AF_INET, b.c_str(), &a) == 1) return "must not be formatted as an IP address";
  return {};
}

// "eu-west-1", "us-gov-west-1", "auto" (R2), "garage": lower-case words joined by '-'.
std::string regionProblem(const std::string& r) {
  if (r.empty())
    return "is required with store.backend = \"s3\" (e.g. \"eu-west-1\"; S3-compatible stores often take "
           "\"us-east-1\")";
  if (r.size() > 32) return "must be at most 32 characters";
  bool prev_dash = true;  // no leading dash
  for (char c : r) {
    if (c == '-') {
      if (prev_dash) return "must be lower-case letters and digits joined by '-' (e.g. \"eu-west-1\")";
      prev_dash = true;
    } else if (isLowerAlnum(c)) {
      prev_dash = false;
    } else {
      return "must be lower-case letters and digits joined by '-' (e.g. \"eu-west-1\")";
    }
  }
  if (prev_dash) return "must not end with '-'";
  return {};
}

// scheme://host[:port][/] — no userinfo, path, query or fragment.
std::string endpointProblem(const std::string& e) {
  static const std::string want =
      "must be an http:// or https:// URL with a host and an optional port (e.g. \"http://127.0.0.1:9000\")";
  size_t p;
  if (e.rfind("http://", 0) == 0)
    p = 7;
  else if (e.rfind("https://", 0) == 0)
    p = 8;
  else
    return want;
  std::string rest = e.substr(p);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string::npos) return want;
  std::string host = rest, port;
  if (rest.front() == '[') {  // [IPv6]:port
    size_t close = rest.find(']');
    if (close == std::string::npos || close == 1) return want;
    host = rest.substr(0, close + 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return want;
      port = rest.substr(close + 2);
      if (port.empty()) return want;
    }
  } else if (size_t colon = rest.find(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return want;
  }
  if (host.empty()) return want;
  if (!port.empty()) {
    if (port.size() > 5) return want;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return want;
    }
    unsigned long n = std::stoul(port);
    if (n == 0 || n > 65535) return "port must be 1..65535";
  }
  return {};
}

}  // namespace

const config::Table<StoreSettings>& storeTable() {
  static const config::Table<StoreSettings> t = [] {
    config::Table<StoreSettings> t("store",
                                   "where raw messages, parsed JSON and attachments go (same keys on every backend)");
    t.add("backend", &StoreSettings::backend, "the store backend, by name (`mxgate check-config` lists this build's)",
          config::Check::nonEmpty());
    t.add("dir", &StoreSettings::dir, "root of the local store", config::Check::nonEmpty());
    t.add("sync", &StoreSettings::sync,
          "how the pipeline makes a batch of objects durable on the local store: `\"filesystem\"` = one "
          "`syncfs` before and one after the renames (fast; also flushes other writers on that "
          "filesystem), `\"file\"` = `fdatasync` per object and `fsync` per directory (touches nothing else)",
          config::Check::oneOf({"filesystem", "file"}));
    return t;
  }();
  return t;
}

const config::Table<S3Settings>& s3Table() {
  static const config::Table<S3Settings> t = [] {
    config::Table<S3Settings> t("store.s3",
                                "the S3 (or S3-compatible: MinIO, R2, Ceph) bucket used with `store.backend = \"s3\"`; "
                                "objects under the same keys as the local store, with `prefix` in front");
    t.add("bucket", &S3Settings::bucket,
          "bucket name (3-63 lower-case letters, digits, '.' and '-'; starts and ends with a letter or digit; "
          "not an IP address)");
    t.add("region", &S3Settings::region, "the bucket's region, signed into every request (e.g. `\"eu-west-1\"`)");
    t.add("endpoint", &S3Settings::endpoint,
          "`\"\"`: AWS (`https://{bucket}.s3.{region}.amazonaws.com`); else the store's base URL, "
          "`\"http(s)://host[:port]\"` (e.g. `\"http://127.0.0.1:9000\"` for MinIO)");
    t.add("addressing", &S3Settings::addressing,
          "where the bucket goes in the URL: `\"virtual\"` = `{bucket}.{host}/{key}`, `\"path\"` = "
          "`{host}/{bucket}/{key}` "
          "(most S3-compatible stores)",
          config::Check::oneOf({"virtual", "path"}));
    t.add("prefix", &S3Settings::prefix, "prepended to every object key: `{prefix}/{tenant}/raw/...`; `\"\"`: none");
    t.add("sse", &S3Settings::sse,
          "server-side encryption requested with each upload: `\"\"` = the bucket's default, `\"AES256\"` = SSE-S3, "
          "`\"aws:kms\"` = SSE-KMS (with `kms_key_id`)",
          config::Check::oneOf({"", "AES256", "aws:kms"}));
    t.add("kms_key_id", &S3Settings::kms_key_id,
          "the KMS key (id, ARN or alias) for `sse = \"aws:kms\"`; `\"\"`: the AWS managed key `aws/s3`");
    t.add("max_in_flight", &S3Settings::max_in_flight,
          "object uploads in progress at once; the pipeline waits for a slot beyond it",
          config::Check::between(1, 4096));
    t.add("multipart_threshold", &S3Settings::multipart_threshold,
          "objects larger than this are sent as a multipart upload (at least `part_size`)");
    t.add("part_size", &S3Settings::part_size,
          "size of each part of a multipart upload (5MiB to 5GiB; an object has at most 10,000 parts); a file "
          "is read one part at a time");
    t.add("ack_after", &S3Settings::ack_after,
          "when SMTP answers 250: `\"spool\"` = once the local spool is durable (fdatasync), `\"store\"` = once "
          "S3 has acknowledged the raw message (a node then holds nothing S3 does not have)",
          config::Check::oneOf({"spool", "store"}));
    t.secret(
        "access_key_id", [](S3Settings& s) -> std::string& { return s.access_key_id; },
        "static access key id; `\"\"`: the AWS credential chain (environment, web identity, ECS, IMDSv2)");
    t.secret(
        "secret_access_key", [](S3Settings& s) -> std::string& { return s.secret_access_key; },
        "the secret of `access_key_id`");
    t.secret(
        "session_token", [](S3Settings& s) -> std::string& { return s.session_token; },
        "session token of temporary static credentials; `\"\"`: none");
    t.add("ca_file", &S3Settings::ca_file, "PEM CA bundle to verify an https endpoint; `\"\"`: the system's CA store");
    t.add("connect_timeout", &S3Settings::connect_timeout, "TCP (and TLS) connect timeout per attempt",
          config::Check::atLeast(1));
    t.add("request_timeout", &S3Settings::request_timeout, "whole-request timeout per attempt (one object or one part)",
          config::Check::atLeast(1));
    t.add("max_retries", &S3Settings::max_retries,
          "retries of one request after a transient failure (5xx, 429, SlowDown, RequestTimeout, InternalError, "
          "network); other 4xx are never retried",
          config::Check::between(0, 100));
    t.add("retry_backoff_base", &S3Settings::retry_backoff_base,
          "first retry delay bound; it doubles per retry (full jitter: a random delay up to the bound)",
          config::Check::atLeast(1));
    t.add("retry_backoff_cap", &S3Settings::retry_backoff_cap, "largest retry delay bound", config::Check::atLeast(1));
    return t;
  }();
  return t;
}

std::vector<SettingError> checkS3Settings(const S3Settings& s) {
  std::vector<SettingError> out;
  if (std::string p = bucketProblem(s.bucket); !p.empty()) out.push_back({"bucket", p});
  if (std::string p = regionProblem(s.region); !p.empty()) out.push_back({"region", p});
  if (!s.endpoint.empty()) {
    if (std::string p = endpointProblem(s.endpoint); !p.empty()) out.push_back({"endpoint", p});
  }
  if (s.part_size < kS3MinPartSize || s.part_size > kS3MaxPartSize) {
    out.push_back(
        {"part_size", "must be between 5MiB and 5GiB (S3's part size limits), is " + config::formatSize(s.part_size)});
  }
  if (s.multipart_threshold < s.part_size) {
    out.push_back({"multipart_threshold", "must be at least part_size (" + config::formatSize(s.part_size) + "), is " +
                                              config::formatSize(s.multipart_threshold)});
  }
  if (!s.kms_key_id.empty() && s.sse != "aws:kms") {
    out.push_back({"kms_key_id", "is only used with sse = \"aws:kms\" (sse is \"" + s.sse + "\")"});
  }
  if (s.retry_backoff_cap < s.retry_backoff_base) {
    out.push_back({"retry_backoff_cap",
                   "must be at least retry_backoff_base (" + config::formatDuration(s.retry_backoff_base) + ")"});
  }
  if (s.access_key_id.empty() != s.secret_access_key.empty()) {
    out.push_back({s.access_key_id.empty() ? "access_key_id" : "secret_access_key",
                   "access_key_id and secret_access_key go together (or neither: the AWS credential chain)"});
  }
  if (!s.session_token.empty() && s.access_key_id.empty()) {
    out.push_back({"session_token", "needs access_key_id and secret_access_key"});
  }
  return out;
}

}  // namespace mx::store
