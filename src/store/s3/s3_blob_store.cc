// store/s3/s3_blob_store.cc — see s3_blob_store.h.
#include "store/s3/s3_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "aws/xml.h"
#include "core/base64.h"
#include "core/sha256.h"
#include "core/time_format.h"

namespace mx::store {
namespace {

using SteadyClock = std::chrono::steady_clock;

class TimerThread final : public Scheduler {
 public:
  TimerThread() : thread_([this] { run(); }) {}
  ~TimerThread() override {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // Scheduler
  void after(Millis delay, std::function<void()> fn) override {
    {
      std::lock_guard lk(mu_);
      if (!stop_) {
        tasks_.emplace(SteadyClock::now() + delay, std::move(fn));
        cv_.notify_all();
        return;
      }
    }
    fn();  // shutting down: no more delays
  }

 private:
  void run() {
    std::unique_lock lk(mu_);
    for (;;) {
      if (tasks_.empty()) {
        if (stop_) return;
        cv_.wait(lk);
        continue;
      }
      auto due = tasks_.begin()->first;
      if (!stop_ && SteadyClock::now() < due) {
        cv_.wait_until(lk, due);
        continue;
      }
      auto fn = std::move(tasks_.begin()->second);
      tasks_.erase(tasks_.begin());
      lk.unlock();
      fn();
      lk.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<SteadyClock::time_point, std::function<void()>> tasks_;
  bool stop_ = false;
  std::thread thread_;
};

bool retryableCode(std::string_view code) {
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" || code == "ServiceUnavailable";
}

std::string xmlEscape(std::string_view s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

// A one-line excerpt of untrusted text for an error message.
std::string clip(std::string_view s, size_t max = 300) {
  std::string o;
  for (char c : s.substr(0, max)) o += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? ' ' : c;
  if (s.size() > max) o += "…";
  return o;
}

double defaultRandom() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

Status preadAll(int fd, char* p, size_t n, uint64_t off, const std::string& what) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error(ErrorClass::kTransientBackend, "store: read " + what + ": " + std::strerror(errno));
    if (r == 0) return Error(ErrorClass::kTransientBackend, "store: read " + what + ": file shrank");
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return okStatus();
}

}  // namespace

SchedulerPtr makeTimerThread() { return std::make_unique<TimerThread>(); }

std::optional<std::string> s3XmlText(std::string_view xml, std::string_view tag) {
  return aws::xmlElementText(xml, tag);
}

// One S3 request, kept for its retries.
struct S3BlobStore::Call {
  std::string method;
  std::string key;
  std::string query;  // encoded, without '?'
  http::Headers headers;
  std::shared_ptr<const std::string> owner;  // keeps `body` alive
  std::string_view body;
  std::string payload_hex;
  std::string what;  // "PUT inbound/x.eml", for errors
};

// Uploads started since a sync() (or one put()).
struct S3BlobStore::Group {
  size_t pending = 0;
  std::optional<Error> first;
};

struct S3BlobStore::Upload {
  std::string key;
  std::shared_ptr<const std::string> bytes;  // in memory; null when read from `fd`
  int fd = -1;                               // putFile(): owned by the caller
  std::string path;
  uint64_t size = 0;
  std::string sha256_hex, sha256_b64;
  std::shared_ptr<Group> group;      // put()/putUnsynced()/putFile()
  std::function<void(Status)> done;  // putAsync()
  MonoTime started{};
  // Multipart.
  std::string upload_id;
  uint32_t next = 0;
  struct Part {
    std::string etag, checksum_b64;
  };
  std::vector<Part> parts;
};

S3BlobStore::S3BlobStore(S3BlobStoreOptions options, http::HttpClientPtr http, aws::CredentialsProviderPtr credentials,
                         SchedulerPtr scheduler)
    : options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : real_clock_),
      http_(std::move(http)),
      credentials_(std::move(credentials)),
      scheduler_(scheduler ? std::move(scheduler) : makeTimerThread()),
      signer_(aws::SignerOptions{options_.region, "s3", true}),
      current_(std::make_shared<Group>()) {
  if (options_.endpoint.empty()) {
    base_scheme_ = "https";
    std::string aws_host = "s3." + options_.region + ".amazonaws.com";
    base_host_ = options_.path_style ? aws_host : options_.bucket + "." + aws_host;
  } else {
    std::string_view e = options_.endpoint;
    size_t sep = e.find("://");
    base_scheme_ = std::string(e.substr(0, sep));
    std::string_view hostport = sep == std::string_view::npos ? e : e.substr(sep + 3);
    while (!hostport.empty() && hostport.back() == '/') hostport.remove_suffix(1);
    base_host_ = options_.path_style ? std::string(hostport) : options_.bucket + "." + std::string(hostport);
  }
  if (options_.path_style) base_path_ = "/" + aws::uriEncode(options_.bucket, true);
}

S3BlobStore::~S3BlobStore() {
  stopping_ = true;
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this] { return in_flight_ == 0 && waiting_.empty(); });
}

std::string_view S3BlobStore::contentTypeOf(std::string_view key) {
  if (key.ends_with(".eml")) return "message/rfc822";
  if (key.ends_with(".json")) return "application/json";
  return "application/octet-stream";
}

std::string S3BlobStore::urlOf(std::string_view key) const { return urlFor(key, {}); }

std::string S3BlobStore::urlFor(std::string_view key, std::string_view query) const {
  std::string url = base_scheme_ + "://" + base_host_ + base_path_ + "/" + aws::uriEncode(key, false);
  if (!query.empty()) {
    url += '?';
    url += query;
  }
  return url;
}

void S3BlobStore::addSseHeaders(http::Headers& h) const {
  if (options_.sse.empty()) return;
  h.push_back({"x-amz-server-side-encryption", options_.sse});
  if (options_.sse == "aws:kms" && !options_.kms_key_id.empty())
    h.push_back({"x-amz-server-side-encryption-aws-kms-key-id", options_.kms_key_id});
}

Millis S3BlobStore::backoff(uint32_t retry) {
  uint64_t bound = static_cast<uint64_t>(options_.retry_backoff_base.count());
  for (uint32_t i = 0; i < retry && bound < static_cast<uint64_t>(options_.retry_backoff_cap.count()); ++i) bound *= 2;
  bound = std::min<uint64_t>(bound, static_cast<uint64_t>(options_.retry_backoff_cap.count()));
  double r = options_.random ? options_.random() : defaultRandom();
  return Millis(static_cast<int64_t>(r * static_cast<double>(bound)));
}

// ---- one request ------------------------------------------------------------------------

void S3BlobStore::execute(const std::shared_ptr<Call>& call, ResponseFn done) { attempt(call, 0, std::move(done)); }

void S3BlobStore::attempt(const std::shared_ptr<Call>& call, uint32_t n, ResponseFn done) {
  credentials_->get([this, call, n, done = std::move(done)](Result<aws::Credentials> creds) mutable {
    if (!creds.ok()) {
      onResponse(call, n, Error(creds.error().errorClass(), "credentials: " + creds.error().message()),
                 std::move(done));
      return;
    }
    http::Request req;
    req.method = call->method;
    req.url = urlFor(call->key, call->query);
    req.headers = call->headers;
    req.body.assign(call->body);
    req.timeout = options_.request_timeout;
    signer_.sign(req, *creds, clock_.wall(), call->payload_hex);
    S3StoreMetrics::bump(metrics_.requests);
    http_->send(std::move(req), [this, call, n, done = std::move(done)](Result<http::Response> r) mutable {
      onResponse(call, n, std::move(r), std::move(done));
    });
  });
}

void S3BlobStore::onResponse(const std::shared_ptr<Call>& call, uint32_t n, Result<http::Response> r, ResponseFn done) {
  bool retry = false;
  std::optional<Error> error;
  const std::string prefix = "s3 " + call->what + ": ";
  if (!r.ok()) {
    retry = r.error().transient();
    error.emplace(r.error().errorClass(), prefix + r.error().message());
  } else {
    const http::Response& resp = *r;
    bool failed = resp.status < 200 || resp.status > 299;
    // CompleteMultipartUpload (and CopyObject) may fail after their 200 header: the body is
    // then an <Error> document (S3 API Reference, CompleteMultipartUpload).
    if (!failed && call->method == "POST" && resp.body.find("<Error>") != std::string::npos) failed = true;
    if (failed) {
      std::string code = s3XmlText(resp.body, "Code").value_or("");
      std::string message = s3XmlText(resp.body, "Message").value_or("");
      std::string text = prefix + std::to_string(resp.status);
      if (!code.empty()) text += " " + clip(code, 64);
      if (!message.empty()) text += ": " + clip(message);
      if (resp.status == 404 && (call->method == "GET" || call->method == "HEAD") && code != "NoSuchBucket") {
        error.emplace(ErrorClass::kNotFound, text);
      } else {
        retry = resp.status >= 500 || resp.status == 429 || retryableCode(code);
        error.emplace(retry ? ErrorClass::kTransientBackend : ErrorClass::kPermanentBackend, text);
      }
    }
  }
  if (!error) {
    done(std::move(r));
    return;
  }
  if (retry && n < options_.max_retries && !stopping_) {
    S3StoreMetrics::bump(metrics_.retries);
    scheduler_->after(backoff(n),
                      [this, call, n, done = std::move(done)]() mutable { attempt(call, n + 1, std::move(done)); });
    return;
  }
  if (retry) {
    done(Error(ErrorClass::kTransientBackend,
               error->message() + " (gave up after " + std::to_string(n + 1) + " attempts)"));
    return;
  }
  done(std::move(*error));
}

Result<http::Response> S3BlobStore::executeAndWait(const std::shared_ptr<Call>& call) {
  std::promise<Result<http::Response>> p;
  auto f = p.get_future();
  execute(call, [&p](Result<http::Response> r) { p.set_value(std::move(r)); });
  return f.get();
}

// ---- uploads ----------------------------------------------------------------------------

std::shared_ptr<S3BlobStore::Upload> S3BlobStore::makeUpload(std::string_view key,
                                                             std::shared_ptr<const std::string> bytes) {
  auto u = std::make_shared<Upload>();
  u->key = std::string(key);
  u->size = bytes->size();
  Sha256Digest d = sha256(*bytes);
  u->sha256_hex = toHex(d);
  u->sha256_b64 = base64Encode(asBytes(d));
  u->bytes = std::move(bytes);
  return u;
}

void S3BlobStore::admit(std::shared_ptr<Upload> u, bool wait_for_slot) {
  std::unique_lock lk(mu_);
  if (wait_for_slot) cv_.wait(lk, [this] { return in_flight_ < options_.max_in_flight; });
  if (in_flight_ < options_.max_in_flight) {
    ++in_flight_;
    metrics_.in_flight.store(in_flight_, std::memory_order_relaxed);
    lk.unlock();
    start(u);
    return;
  }
  waiting_.push_back(std::move(u));
}

void S3BlobStore::start(const std::shared_ptr<Upload>& u) {
  u->started = clock_.monotonic();
  if (u->size > options_.multipart_threshold) {
    createMultipart(u);
  } else {
    putObject(u);
  }
}

void S3BlobStore::putObject(const std::shared_ptr<Upload>& u) {
  auto c = std::make_shared<Call>();
  c->method = "PUT";
  c->key = u->key;
  // x-amz-sdk-checksum-algorithm is what the AWS SDKs send beside x-amz-checksum-*: S3
  // ignores it; moto records the checksum only when it is present.
  c->headers = {{"Content-Type", std::string(contentTypeOf(u->key))},
                {"x-amz-checksum-sha256", u->sha256_b64},
                {"x-amz-sdk-checksum-algorithm", "SHA256"},
                {"x-amz-meta-sha256", u->sha256_hex}};
  addSseHeaders(c->headers);
  c->owner = u->bytes;
  c->body = *u->bytes;
  c->payload_hex = u->sha256_hex;
  c->what = "PUT " + u->key;
  execute(c, [this, u](const Result<http::Response>& r) { finish(u, r.ok() ? okStatus() : Status(r.error())); });
}

void S3BlobStore::createMultipart(const std::shared_ptr<Upload>& u) {
  auto c = std::make_shared<Call>();
  c->method = "POST";
  c->key = u->key;
  c->query = "uploads";
  c->headers = {{"Content-Type", std::string(contentTypeOf(u->key))},
                {"x-amz-checksum-algorithm", "SHA256"},
                {"x-amz-meta-sha256", u->sha256_hex}};
  addSseHeaders(c->headers);
  c->payload_hex = sha256Hex("");
  c->what = "CreateMultipartUpload " + u->key;
  execute(c, [this, u](const Result<http::Response>& r) {
    if (!r.ok()) {
      finish(u, r.error());
      return;
    }
    auto id = s3XmlText(r->body, "UploadId");
    if (!id || id->empty()) {
      finish(u, Error(ErrorClass::kTransientBackend,
                      "s3 CreateMultipartUpload " + u->key + ": no UploadId in the answer"));
      return;
    }
    u->upload_id = std::move(*id);
    uint64_t count = (u->size + options_.part_size - 1) / options_.part_size;
    u->parts.resize(count);
    u->next = 0;
    nextPart(u);
  });
}

void S3BlobStore::nextPart(const std::shared_ptr<Upload>& u) {
  if (u->next == u->parts.size()) {
    completeMultipart(u);
    return;
  }
  uint64_t off = static_cast<uint64_t>(u->next) * options_.part_size;
  size_t len = static_cast<size_t>(std::min<uint64_t>(options_.part_size, u->size - off));
  if (u->bytes) {
    sendPart(u, u->bytes, std::string_view(*u->bytes).substr(off, len));
    return;
  }
  // A file: read this part (only this part) on the scheduler's thread, not the client's.
  scheduler_->after(Millis(0), [this, u, off, len] {
    auto part = std::make_shared<std::string>(len, '\0');
    if (auto s = preadAll(u->fd, part->data(), len, off, u->path); !s.ok()) {
      abortMultipart(u, s.error());
      return;
    }
    sendPart(u, part, *part);
  });
}

void S3BlobStore::sendPart(const std::shared_ptr<Upload>& u, std::shared_ptr<const std::string> owner,
                           std::string_view body) {
  Sha256Digest d = sha256(body);
  uint32_t number = u->next + 1;
  auto c = std::make_shared<Call>();
  c->method = "PUT";
  c->key = u->key;
  c->query = "partNumber=" + std::to_string(number) + "&uploadId=" + aws::uriEncode(u->upload_id, true);
  std::string b64 = base64Encode(asBytes(d));
  c->headers = {{"Content-Type", "application/octet-stream"}, {"x-amz-checksum-sha256", b64}};
  c->owner = std::move(owner);
  c->body = body;
  c->payload_hex = toHex(d);
  c->what = "UploadPart " + std::to_string(number) + " " + u->key;
  execute(c, [this, u, b64](Result<http::Response> r) {
    if (!r.ok()) {
      abortMultipart(u, r.error());
      return;
    }
    const std::string* etag = r->header("ETag");
    if (!etag || etag->empty()) {
      abortMultipart(u, Error(ErrorClass::kTransientBackend, "s3 UploadPart " + std::to_string(u->next + 1) + " " +
                                                                 u->key + ": no ETag in the answer"));
      return;
    }
    u->parts[u->next] = {*etag, b64};
    ++u->next;
    nextPart(u);
  });
}

void S3BlobStore::completeMultipart(const std::shared_ptr<Upload>& u) {
  auto body =
      std::make_shared<std::string>("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
  for (size_t i = 0; i < u->parts.size(); ++i) {
    *body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + xmlEscape(u->parts[i].etag) +
             "</ETag><ChecksumSHA256>" + u->parts[i].checksum_b64 + "</ChecksumSHA256></Part>";
  }
  *body += "</CompleteMultipartUpload>";
  auto c = std::make_shared<Call>();
  c->method = "POST";
  c->key = u->key;
  c->query = "uploadId=" + aws::uriEncode(u->upload_id, true);
  c->headers = {{"Content-Type", "application/xml"}};
  c->owner = body;
  c->body = *body;
  c->payload_hex = sha256Hex(*body);
  c->what = "CompleteMultipartUpload " + u->key;
  execute(c, [this, u](const Result<http::Response>& r) {
    if (!r.ok()) {
      abortMultipart(u, r.error());
      return;
    }
    finish(u, okStatus());
  });
}

void S3BlobStore::abortMultipart(const std::shared_ptr<Upload>& u, Error error) {
  S3StoreMetrics::bump(metrics_.multipart_aborts);
  auto c = std::make_shared<Call>();
  c->method = "DELETE";
  c->key = u->key;
  c->query = "uploadId=" + aws::uriEncode(u->upload_id, true);
  c->headers = {{"Content-Type", "application/octet-stream"}};
  c->payload_hex = sha256Hex("");
  c->what = "AbortMultipartUpload " + u->key;
  execute(c, [this, u, error = std::move(error)](const Result<http::Response>& r) {
    if (!r.ok() && options_.log) {
      // The parts stay billed until a bucket lifecycle rule (AbortIncompleteMultipartUpload)
      // removes them; the object itself never appears.
      options_.log(r.error().message() + " (after: " + error.message() + ")");
    }
    finish(u, error);
  });
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): by value, it may drop the other references.
void S3BlobStore::finish(std::shared_ptr<Upload> u, Status status) {
  if (status.ok()) {
    S3StoreMetrics::bump(metrics_.uploads);
    S3StoreMetrics::bump(metrics_.upload_bytes, u->size);
    if (!u->upload_id.empty()) S3StoreMetrics::bump(metrics_.multipart_uploads);
    metrics_.upload_seconds.observe(clock_.monotonic() - u->started);
  } else {
    // Not logged here: the caller gets the error (the pipeline logs each failed batch).
    S3StoreMetrics::bump(status.error().transient() ? metrics_.failures_transient : metrics_.failures_permanent);
  }
  std::shared_ptr<Upload> next;
  {
    std::lock_guard lk(mu_);
    if (u->group) {
      --u->group->pending;
      if (!status.ok() && !u->group->first) u->group->first = status.error();
    }
    if (!waiting_.empty()) {
      next = std::move(waiting_.front());  // takes over this upload's slot
      waiting_.pop_front();
    } else {
      --in_flight_;
      metrics_.in_flight.store(in_flight_, std::memory_order_relaxed);
    }
    // Under the lock: the destructor may run as soon as it sees the last upload finished,
    // and must not destroy cv_ while this notifies. Below, `done` touches no member, and a
    // queued `next` kept this slot, so the destructor still waits for it.
    cv_.notify_all();
  }
  if (u->done) u->done(std::move(status));
  if (next) start(next);
}

Status S3BlobStore::waitFor(std::shared_ptr<Group> g) {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&g] { return g->pending == 0; });
  if (g->first) return *g->first;
  return okStatus();
}

// ---- BlobStore --------------------------------------------------------------------------

Status S3BlobStore::putUnsynced(std::string_view key, std::string_view bytes) {
  if (auto s = validateKey(key); !s.ok()) return s;
  auto u = makeUpload(key, std::make_shared<const std::string>(bytes));
  {
    std::lock_guard lk(mu_);
    u->group = current_;
    ++current_->pending;
  }
  admit(std::move(u), true);
  return okStatus();
}

Status S3BlobStore::sync() {
  std::shared_ptr<Group> g;
  {
    std::lock_guard lk(mu_);
    g = std::exchange(current_, std::make_shared<Group>());
  }
  return waitFor(std::move(g));
}

Status S3BlobStore::put(std::string_view key, std::string_view bytes) {
  if (auto s = validateKey(key); !s.ok()) return s;
  auto u = makeUpload(key, std::make_shared<const std::string>(bytes));
  auto g = std::make_shared<Group>();
  g->pending = 1;
  u->group = g;
  admit(std::move(u), true);
  return waitFor(std::move(g));
}

void S3BlobStore::putAsync(std::string_view key, std::string bytes, std::function<void(Status)> done) {
  if (auto s = validateKey(key); !s.ok()) {
    done(s);
    return;
  }
  auto u = makeUpload(key, std::make_shared<const std::string>(std::move(bytes)));
  u->done = std::move(done);
  admit(std::move(u), false);
}

Status S3BlobStore::putFile(std::string_view key, const std::string& path) {
  if (auto s = validateKey(key); !s.ok()) return s;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(ErrorClass::kTransientBackend, "store: open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error(ErrorClass::kTransientBackend, "store: stat " + path + ": " + std::strerror(err));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size <= options_.multipart_threshold) {
    ::close(fd);
    return BlobStore::putFile(key, path);  // small: one PutObject from memory
  }
  // Large: hash the file in 1 MiB pieces (x-amz-meta-sha256 goes on CreateMultipartUpload),
  // then send it part by part, each part read only when it is sent.
  Sha256 h;
  std::string buf(1 << 20, '\0');
  for (uint64_t off = 0; off < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    if (auto s = preadAll(fd, buf.data(), n, off, path); !s.ok()) {
      ::close(fd);
      return s;
    }
    h.update(std::string_view(buf.data(), n));
    off += n;
  }
  Sha256Digest d = h.finish();
  auto u = std::make_shared<Upload>();
  u->key = std::string(key);
  u->fd = fd;
  u->path = path;
  u->size = size;
  u->sha256_hex = toHex(d);
  u->sha256_b64 = base64Encode(asBytes(d));
  auto g = std::make_shared<Group>();
  g->pending = 1;
  u->group = g;
  admit(u, true);
  Status s = waitFor(std::move(g));
  ::close(fd);
  return s;
}

Result<std::string> S3BlobStore::get(std::string_view key) {
  if (auto s = validateKey(key); !s.ok()) return s.error();
  auto c = std::make_shared<Call>();
  c->method = "GET";
  c->key = std::string(key);
  c->payload_hex = sha256Hex("");
  c->what = "GET " + c->key;
  auto r = executeAndWait(c);
  if (!r.ok()) return r.error();
  return std::move(r->body);
}

Result<S3Object> S3BlobStore::getObject(std::string_view key, std::string_view version_id) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return Error(ErrorClass::kPermanentBackend, "s3 GET: an object key is 1 to 1024 bytes");
  }
  auto c = std::make_shared<Call>();
  c->method = "GET";
  c->key = std::string(key);
  if (!version_id.empty()) c->query = "versionId=" + aws::uriEncode(version_id, true);
  c->payload_hex = sha256Hex("");
  c->what = "GET " + c->key;
  auto r = executeAndWait(c);
  if (!r.ok()) return r.error();
  S3Object o;
  o.body = std::move(r->body);
  if (const auto* lm = r->header("Last-Modified")) o.last_modified = parseHttpDate(*lm);
  if (const auto* et = r->header("ETag")) o.etag = *et;
  if (const auto* v = r->header("x-amz-version-id")) o.version_id = *v;
  return o;
}

Result<bool> S3BlobStore::exists(std::string_view key) {
  if (auto s = validateKey(key); !s.ok()) return s.error();
  auto c = std::make_shared<Call>();
  c->method = "HEAD";
  c->key = std::string(key);
  c->payload_hex = sha256Hex("");
  c->what = "HEAD " + c->key;
  auto r = executeAndWait(c);
  if (r.ok()) return true;
  if (r.error().errorClass() == ErrorClass::kNotFound) return false;
  return r.error();
}

}  // namespace mx::store
