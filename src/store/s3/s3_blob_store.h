// store/s3/s3_blob_store.h — BlobStore over an S3 bucket (AWS, or S3-compatible: MinIO, R2,
// Ceph), with the same keys as the local store (store/keys.h; the key prefix is the
// KeyLayout's, store.s3.prefix).
//
// Specs: Amazon S3 API Reference — PutObject, GetObject, HeadObject, CreateMultipartUpload,
// UploadPart, CompleteMultipartUpload, AbortMultipartUpload, "Error responses" (the XML
// <Error><Code/><Message/></Error> body; CompleteMultipartUpload may fail with 200 and that
// body), "Checking object integrity" (x-amz-checksum-sha256: base64 of the SHA-256, verified
// by S3; x-amz-checksum-algorithm on CreateMultipartUpload, ChecksumSHA256 per part),
// "Virtual hosting of buckets" (virtual-hosted vs path-style URLs), "Using server-side
// encryption" (x-amz-server-side-encryption[-aws-kms-key-id]); requests signed with SigV4
// (aws/sigv4.h, S3 rules), object keys URI-encoded with '/' kept. Retries: the AWS SDKs'
// "exponential backoff and full jitter" (delay uniform in [0, min(cap, base * 2^n)]).
//
// Every object carries Content-Type (by key: .eml message/rfc822, .json application/json,
// else application/octet-stream), x-amz-checksum-sha256 (S3 refuses the upload with
// BadDigest when the bytes it received differ) and x-amz-meta-sha256 (hex, for readers),
// plus the SSE headers when configured. Objects above multipart_threshold are sent as a
// multipart upload of part_size parts, one part at a time; a failed part aborts the upload.
//
// Durability (blob_store.h contract): an object is durable once S3 answered 200 to its
// PutObject or CompleteMultipartUpload. putUnsynced() copies the bytes and starts the upload
// at once; at most max_in_flight uploads run together, and putUnsynced() blocks while that
// many are running. sync() waits for every upload started since the previous sync() (by any
// thread) and returns the first error (the caller then puts them all again: same keys, same
// bytes, so retries are idempotent). put() = putUnsynced() + waiting for that one upload.
// putAsync() never blocks: beyond max_in_flight its upload waits in a FIFO.
//
// Errors: kTransientBackend — transport failures, 5xx, 429 and the S3 codes SlowDown,
// RequestTimeout and InternalError once max_retries retries (with backoff) failed too, or
// credentials not yet available; kPermanentBackend — any other 4xx (never retried), with
// S3's code and message: "s3 PUT inbound/x.eml: 403 SignatureDoesNotMatch: …";
// kNotFound — get() of a missing object (404 / NoSuchKey). Messages never hold a secret.
// Threads: thread-safe. HTTP callbacks run on the HttpClient's threads; retry delays and the
// reading of file parts run on the store's scheduler thread, never on the client's.
// Trust: keys pass validateKey(); S3's answers are untrusted: only the XML elements named
// above are read, by a bounded scan, and their text only ever ends up in error messages.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "core/clock.h"
#include "http/client.h"
#include "store/blob_store.h"
#include "store/s3/s3_metrics.h"

namespace mx::store {

// Runs a function after a delay, on a thread that is not the HTTP client's (retry backoff,
// reading file parts). after() may be called from any thread, also from inside fn.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual void after(Millis delay, std::function<void()> fn) = 0;
};
using SchedulerPtr = std::unique_ptr<Scheduler>;
// One thread and a timer queue. Its destructor runs the tasks still queued at once (their
// delays cut short), then joins.
SchedulerPtr makeTimerThread();

struct S3BlobStoreOptions {
  std::string bucket;
  std::string region;
  std::string endpoint;                        // "": AWS; else "http(s)://host[:port]"
  bool path_style = false;                     // addressing = "path"
  std::string sse;                             // "", "AES256", "aws:kms"
  std::string kms_key_id;                      // with sse = "aws:kms"
  uint32_t max_in_flight = 64;                 // object uploads at once
  uint64_t multipart_threshold = 16ull << 20;  // larger objects go multipart
  uint64_t part_size = 8ull << 20;             // S3 needs >= 5 MiB (checked by config, not here)
  uint32_t max_retries = 5;                    // per request, after the first attempt
  Millis retry_backoff_base{100};
  Millis retry_backoff_cap{5'000};
  Millis request_timeout{0};     // per attempt; 0: the client's default
  const Clock* clock = nullptr;  // signing time and latency; null: a RealClock
  // Uniform in [0, 1), for the jitter; null: a thread-safe PRNG.
  std::function<double()> random;
  // Multipart uploads whose abort failed too (their parts stay until a lifecycle rule
  // removes them), one line each. Null: silent. Failed uploads are not logged here: the
  // caller gets the error.
  std::function<void(std::string_view)> log;
};

// One object as GetObject returned it (getObject()).
struct S3Object {
  std::string body;
  std::optional<WallTime> last_modified;  // Last-Modified (second resolution); nullopt if absent or unreadable
  std::string etag;                       // ETag as sent (with its quotes)
  std::string version_id;                 // x-amz-version-id; empty when the bucket is not versioned
};

class S3BlobStore final : public BlobStore {
 public:
  // `http` and `credentials` are used for every request (the store owns them; the provider
  // is destroyed before the client). `scheduler` null: makeTimerThread().
  S3BlobStore(S3BlobStoreOptions options, http::HttpClientPtr http, aws::CredentialsProviderPtr credentials,
              SchedulerPtr scheduler = nullptr);
  // Waits for every upload in progress (retries stop being scheduled: pending ones fail).
  ~S3BlobStore() override;
  S3BlobStore(const S3BlobStore&) = delete;
  S3BlobStore& operator=(const S3BlobStore&) = delete;

  // BlobStore
  Status put(std::string_view key, std::string_view bytes) override;
  Status putFile(std::string_view key, const std::string& path) override;
  Result<std::string> get(std::string_view key) override;
  Result<bool> exists(std::string_view key) override;
  Status putUnsynced(std::string_view key, std::string_view bytes) override;
  Status sync() override;

  // Uploads `bytes` under `key` and calls `done` once S3 acknowledged it (ok: durable) or the
  // upload failed — on an HTTP client thread (or the caller's, for an invalid key), never
  // under a lock of the store. Never blocks: beyond max_in_flight the upload waits its turn.
  // Not covered by sync(). For ack_after = "store".
  void putAsync(std::string_view key, std::string bytes, std::function<void(Status)> done) override;

  // GetObject of any key of the bucket — not only this layout's: S3 allows any 1..1024 bytes
  // (the Lambda entry point reads what S3/SES events name) — optionally of one version
  // (`version_id` non-empty). Same errors and retries as get().
  Result<S3Object> getObject(std::string_view key, std::string_view version_id = {});

  // The object's URL (virtual-hosted or path-style, key URI-encoded with '/' kept).
  std::string urlOf(std::string_view key) const;
  // "text/plain"-style Content-Type chosen for a key.
  static std::string_view contentTypeOf(std::string_view key);

  const S3StoreMetrics& metrics() const { return metrics_; }

 private:
  struct Call;
  struct Upload;
  struct Group;
  using ResponseFn = std::function<void(Result<http::Response>)>;

  // One S3 request with signing, classification and retries; `done` gets a 2xx response or
  // the classified error.
  void execute(const std::shared_ptr<Call>& call, ResponseFn done);
  void attempt(const std::shared_ptr<Call>& call, uint32_t n, ResponseFn done);
  void onResponse(const std::shared_ptr<Call>& call, uint32_t n, Result<http::Response> r, ResponseFn done);
  Result<http::Response> executeAndWait(const std::shared_ptr<Call>& call);
  Millis backoff(uint32_t retry);

  // Upload state machine (single PutObject, or Create → parts → Complete | Abort).
  std::shared_ptr<Upload> makeUpload(std::string_view key, std::shared_ptr<const std::string> bytes);
  void admit(std::shared_ptr<Upload> u, bool wait_for_slot);
  void start(const std::shared_ptr<Upload>& u);
  void putObject(const std::shared_ptr<Upload>& u);
  void createMultipart(const std::shared_ptr<Upload>& u);
  void nextPart(const std::shared_ptr<Upload>& u);
  void sendPart(const std::shared_ptr<Upload>& u, std::shared_ptr<const std::string> owner, std::string_view body);
  void completeMultipart(const std::shared_ptr<Upload>& u);
  void abortMultipart(const std::shared_ptr<Upload>& u, Error error);
  void finish(std::shared_ptr<Upload> u, Status status);
  Status waitFor(std::shared_ptr<Group> g);

  std::string urlFor(std::string_view key, std::string_view query) const;
  void addSseHeaders(http::Headers& headers) const;

  const S3BlobStoreOptions options_;
  RealClock real_clock_;
  const Clock& clock_;
  // Destroyed in reverse: scheduler, then credentials, then the client they use.
  http::HttpClientPtr http_;
  aws::CredentialsProviderPtr credentials_;
  SchedulerPtr scheduler_;
  aws::Signer signer_;
  std::string base_scheme_, base_host_, base_path_;  // from endpoint/region, see urlOf()
  S3StoreMetrics metrics_;

  std::mutex mu_;
  std::condition_variable cv_;
  uint32_t in_flight_ = 0;                       // uploads started, not finished
  std::deque<std::shared_ptr<Upload>> waiting_;  // admitted beyond max_in_flight
  std::shared_ptr<Group> current_;               // putUnsynced() since the last sync()
  std::atomic<bool> stopping_{false};
};

// The first <tag>…</tag> text of an S3 XML document, entities decoded; nullopt if absent.
// Exposed for tests.
std::optional<std::string> s3XmlText(std::string_view xml, std::string_view tag);

}  // namespace mx::store

namespace mx::store {

struct S3Settings;

// The store as [store.s3] describes it: a BeastClient (ca_file, connect/request timeouts,
// requests in flight sized for max_in_flight uploads) and the AWS credential chain, its
// first step the config's static keys (aws::makeCredentialChain). `log` gets the store's
// own lines (failed operations, failed aborts); null: none.
// Errors: kConfig when ca_file cannot be loaded or the credential chain cannot work.
Result<std::unique_ptr<S3BlobStore>> makeS3BlobStore(const S3Settings& settings,
                                                     std::function<void(std::string_view)> log = nullptr);

}  // namespace mx::store
