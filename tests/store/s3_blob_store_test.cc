// Tests for store/s3: the requests S3BlobStore sends (URLs in both addressings, headers,
// checksums, signature), the multipart sequence and its abort, retries by error class,
// sync() group semantics, the max_in_flight bound, and get/exists — against the in-memory
// FakeHttpClient (tests/support), no network.
#include "store/s3/s3_blob_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <future>
#include <thread>

#include "core/base64.h"
#include "core/sha256.h"
#include "tests/support/fake_http_client.h"

namespace mx::store {
namespace {

using mx::testing::FakeCredentials;
using mx::testing::FakeHttpClient;

// Runs every task at once on the caller's thread and records the delays asked for.
class InlineScheduler final : public Scheduler {
 public:
  explicit InlineScheduler(std::vector<Millis>* delays) : delays_(delays) {}
  void after(Millis d, std::function<void()> fn) override {
    {
      std::lock_guard lk(mu_);
      if (d.count() > 0 || delays_recorded_zero_) delays_->push_back(d);
    }
    fn();
  }

 private:
  std::mutex mu_;
  std::vector<Millis>* delays_;
  bool delays_recorded_zero_ = false;
};

struct Fixture {
  explicit Fixture(S3BlobStoreOptions o = defaults()) {
    auto client = std::make_unique<FakeHttpClient>();
    http = client.get();
    store = std::make_unique<S3BlobStore>(std::move(o), std::move(client), std::make_shared<FakeCredentials>(),
                                          std::make_unique<InlineScheduler>(&delays));
  }
  static S3BlobStoreOptions defaults() {
    S3BlobStoreOptions o;
    o.bucket = "acme-mail";
    o.region = "eu-west-1";
    o.random = [] { return 0.5; };
    return o;
  }
  std::vector<Millis> delays;
  FakeHttpClient* http;
  std::unique_ptr<S3BlobStore> store;
};

std::string header(const http::Request& r, std::string_view name) {
  const std::string* v = r.header(name);
  return v ? *v : "(absent)";
}

std::string query(const http::Request& r) {
  size_t q = r.url.find('?');
  return q == std::string::npos ? "" : r.url.substr(q + 1);
}

TEST(S3BlobStore, PutSendsContentTypeChecksumsSseAndSignature) {
  auto o = Fixture::defaults();
  o.sse = "aws:kms";
  o.kms_key_id = "alias/mail";
  Fixture f(o);
  ASSERT_TRUE(f.store->put("inbound/acme/raw/2026/12/07/01JX.eml", "hello").ok());
  auto reqs = f.http->requests();
  ASSERT_EQ(reqs.size(), 1u);
  const auto& r = reqs[0];
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.url, "https://acme-mail.s3.eu-west-1.amazonaws.com/inbound/acme/raw/2026/12/07/01JX.eml");
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(header(r, "Content-Type"), "message/rfc822");
  EXPECT_EQ(header(r, "x-amz-checksum-sha256"), base64Encode(asBytes(sha256("hello"))));
  EXPECT_EQ(header(r, "x-amz-checksum-sha256"), "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
  EXPECT_EQ(header(r, "x-amz-sdk-checksum-algorithm"), "SHA256");
  EXPECT_EQ(header(r, "x-amz-meta-sha256"), sha256Hex("hello"));
  EXPECT_EQ(header(r, "x-amz-content-sha256"), sha256Hex("hello"));
  EXPECT_EQ(header(r, "x-amz-server-side-encryption"), "aws:kms");
  EXPECT_EQ(header(r, "x-amz-server-side-encryption-aws-kms-key-id"), "alias/mail");
  EXPECT_EQ(header(r, "Authorization").rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 0), 0u)
      << header(r, "Authorization");
  EXPECT_NE(header(r, "Authorization").find("/eu-west-1/s3/aws4_request"), std::string::npos);
  EXPECT_NE(header(r, "x-amz-date"), "(absent)");
  EXPECT_EQ(f.store->metrics().uploads.load(), 1u);
  EXPECT_EQ(f.store->metrics().upload_bytes.load(), 5u);
  EXPECT_EQ(f.store->metrics().in_flight.load(), 0);
}

TEST(S3BlobStore, ContentTypeByKeyAndAes256) {
  auto o = Fixture::defaults();
  o.sse = "AES256";
  Fixture f(o);
  ASSERT_TRUE(f.store->put("t/parsed/2026/12/07/x.json", "{}").ok());
  ASSERT_TRUE(f.store->put("t/attachments/x/1-report.pdf", "%PDF").ok());
  auto reqs = f.http->requests();
  EXPECT_EQ(header(reqs[0], "Content-Type"), "application/json");
  EXPECT_EQ(header(reqs[1], "Content-Type"), "application/octet-stream");
  EXPECT_EQ(header(reqs[0], "x-amz-server-side-encryption"), "AES256");
  EXPECT_EQ(header(reqs[0], "x-amz-server-side-encryption-aws-kms-key-id"), "(absent)");
}

TEST(S3BlobStore, VirtualAndPathUrlsWithEncodedKeys) {
  auto o = Fixture::defaults();
  EXPECT_EQ(Fixture(o).store->urlOf("a/b c+\xC3\xBC~.bin"),
            "https://acme-mail.s3.eu-west-1.amazonaws.com/a/b%20c%2B%C3%BC~.bin");
  o.path_style = true;
  EXPECT_EQ(Fixture(o).store->urlOf("a/b.eml"), "https://s3.eu-west-1.amazonaws.com/acme-mail/a/b.eml");
  o.endpoint = "http://127.0.0.1:9000/";
  EXPECT_EQ(Fixture(o).store->urlOf("a/b.eml"), "http://127.0.0.1:9000/acme-mail/a/b.eml");
  o.path_style = false;
  o.endpoint = "https://r2.example.com";
  EXPECT_EQ(Fixture(o).store->urlOf("a/b.eml"), "https://acme-mail.r2.example.com/a/b.eml");
}

// A handler that plays S3's side of a multipart upload, failing part `fail_part` (0: none).
FakeHttpClient::Handler multipartS3(int fail_part, int fail_status = 403, std::string fail_code = "AccessDenied") {
  return [=](const http::Request& r) -> Result<http::Response> {
    std::string q = query(r);
    if (r.method == "POST" && q == "uploads") {
      return FakeHttpClient::ok(
          "<InitiateMultipartUploadResult><Bucket>acme-mail</Bucket><Key>k</Key>"
          "<UploadId>up/1+x</UploadId></InitiateMultipartUploadResult>");
    }
    if (r.method == "PUT" && q.rfind("partNumber=", 0) == 0) {
      int n = std::stoi(q.substr(11));
      if (n == fail_part) return FakeHttpClient::s3Error(fail_status, fail_code, "no");
      return FakeHttpClient::ok("", {{"ETag", "\"etag-" + std::to_string(n) + "\""}});
    }
    if (r.method == "POST" && q.rfind("uploadId=", 0) == 0) {
      return FakeHttpClient::ok("<CompleteMultipartUploadResult><ETag>\"x-5\"</ETag></CompleteMultipartUploadResult>");
    }
    if (r.method == "PUT" && q.empty()) return FakeHttpClient::ok();
    if (r.method == "DELETE") {
      http::Response resp;
      resp.status = 204;
      return resp;
    }
    return FakeHttpClient::s3Error(400, "Unexpected", r.method + " " + r.url);
  };
}

void expectMultipartSequence(const std::vector<http::Request>& reqs, const std::string& object) {
  ASSERT_EQ(reqs.size(), 7u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(query(reqs[0]), "uploads");
  EXPECT_EQ(header(reqs[0], "x-amz-checksum-algorithm"), "SHA256");
  EXPECT_EQ(header(reqs[0], "x-amz-meta-sha256"), sha256Hex(object));
  EXPECT_EQ(header(reqs[0], "Content-Type"), "message/rfc822");
  for (int n = 1; n <= 5; ++n) {
    const auto& p = reqs[static_cast<size_t>(n)];
    std::string want = object.substr(static_cast<size_t>(n - 1) * 4, 4);
    EXPECT_EQ(p.method, "PUT");
    EXPECT_EQ(query(p), "partNumber=" + std::to_string(n) + "&uploadId=up%2F1%2Bx");
    EXPECT_EQ(p.body, want);
    EXPECT_EQ(header(p, "x-amz-checksum-sha256"), base64Encode(asBytes(sha256(want))));
    EXPECT_EQ(header(p, "x-amz-content-sha256"), sha256Hex(want));
  }
  const auto& c = reqs[6];
  EXPECT_EQ(c.method, "POST");
  EXPECT_EQ(query(c), "uploadId=up%2F1%2Bx");
  EXPECT_EQ(header(c, "Content-Type"), "application/xml");
  EXPECT_NE(c.body.find("<Part><PartNumber>1</PartNumber><ETag>&quot;etag-1&quot;</ETag><ChecksumSHA256>" +
                        base64Encode(asBytes(sha256(object.substr(0, 4)))) + "</ChecksumSHA256></Part>"),
            std::string::npos)
      << c.body;
  EXPECT_NE(c.body.find("<PartNumber>5</PartNumber><ETag>&quot;etag-5&quot;</ETag>"), std::string::npos);
}

TEST(S3BlobStore, MultipartAboveTheThreshold) {
  auto o = Fixture::defaults();
  o.multipart_threshold = 10;
  o.part_size = 4;
  Fixture f(o);
  f.http->setHandler(multipartS3(0));
  const std::string object = "0123456789ABCDEFGHIJ";  // 20 bytes: 5 parts of 4
  ASSERT_TRUE(f.store->put("k/x.eml", object).ok());
  expectMultipartSequence(f.http->requests(), object);
  EXPECT_EQ(f.store->metrics().multipart_uploads.load(), 1u);
  EXPECT_EQ(f.store->metrics().upload_bytes.load(), 20u);
  // At the threshold exactly: one PutObject.
  ASSERT_TRUE(f.store->put("k/y.eml", object.substr(0, 10)).ok());
  EXPECT_EQ(f.http->requests().back().method, "PUT");
  EXPECT_EQ(query(f.http->requests().back()), "");
}

TEST(S3BlobStore, PutFileStreamsPartsFromTheFile) {
  auto o = Fixture::defaults();
  o.multipart_threshold = 10;
  o.part_size = 4;
  Fixture f(o);
  f.http->setHandler(multipartS3(0));
  const std::string object = "0123456789ABCDEFGHIJ";
  char path[] = "/tmp/s3_putfile_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, object.data(), object.size()), static_cast<ssize_t>(object.size()));
  ::close(fd);
  ASSERT_TRUE(f.store->putFile("k/x.eml", path).ok());
  expectMultipartSequence(f.http->requests(), object);
  std::ofstream(path, std::ios::trunc) << "small";
  ASSERT_TRUE(f.store->putFile("k/s.eml", path).ok());
  EXPECT_EQ(f.http->requests().back().body, "small");
  unlink(path);
}

TEST(S3BlobStore, FailedPartAbortsTheUpload) {
  auto o = Fixture::defaults();
  o.multipart_threshold = 10;
  o.part_size = 4;
  Fixture f(o);
  f.http->setHandler(multipartS3(2));
  Status s = f.store->put("k/x.eml", "0123456789ABCDEFGHIJ");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_EQ(s.error().message(), "s3 UploadPart 2 k/x.eml: 403 AccessDenied: no");
  auto reqs = f.http->requests();
  ASSERT_EQ(reqs.size(), 4u);  // create, part 1, part 2 (refused), abort — no complete
  EXPECT_EQ(reqs[3].method, "DELETE");
  EXPECT_EQ(query(reqs[3]), "uploadId=up%2F1%2Bx");
  EXPECT_EQ(f.store->metrics().multipart_aborts.load(), 1u);
  EXPECT_EQ(f.store->metrics().failures_permanent.load(), 1u);
  EXPECT_EQ(f.store->metrics().uploads.load(), 0u);
}

TEST(S3BlobStore, RetriesSlowDown503AndTransportErrorsThenSucceeds) {
  Fixture f;
  std::atomic<int> n{0};
  f.http->setHandler([&](const http::Request&) -> Result<http::Response> {
    switch (n++) {
      case 0:
        return FakeHttpClient::s3Error(503, "SlowDown", "Please reduce your request rate.");
      case 1:
        return Error(ErrorClass::kTransientBackend, "connect: connection refused");
      case 2:
        return FakeHttpClient::s3Error(400, "RequestTimeout", "idle");
      case 3:
        return FakeHttpClient::s3Error(429, "TooManyRequests", "later");
      default:
        return FakeHttpClient::ok();
    }
  });
  ASSERT_TRUE(f.store->put("k/x.eml", "abc").ok());
  EXPECT_EQ(n.load(), 5);
  EXPECT_EQ(f.store->metrics().retries.load(), 4u);
  EXPECT_EQ(f.store->metrics().requests.load(), 5u);
  // Full jitter at random() = 0.5 of base 100 ms doubling: 50, 100, 200, 400 ms.
  EXPECT_EQ(f.delays, (std::vector<Millis>{Millis(50), Millis(100), Millis(200), Millis(400)}));
  // Each attempt is signed again.
  auto reqs = f.http->requests();
  EXPECT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[4].body, "abc");
}

TEST(S3BlobStore, CompleteWith200ErrorBodyIsRetried) {
  auto o = Fixture::defaults();
  o.multipart_threshold = 10;
  o.part_size = 4;
  Fixture f(o);
  auto inner = multipartS3(0);
  std::atomic<int> completes{0};
  f.http->setHandler([&](const http::Request& r) -> Result<http::Response> {
    if (r.method == "POST" && query(r).rfind("uploadId=", 0) == 0 && completes++ == 0) {
      return FakeHttpClient::ok(
          "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>");
    }
    return inner(r);
  });
  ASSERT_TRUE(f.store->put("k/x.eml", "0123456789ABCDEFGHIJ").ok());
  EXPECT_EQ(completes.load(), 2);
  EXPECT_EQ(f.store->metrics().retries.load(), 1u);
}

TEST(S3BlobStore, GivesUpAfterMaxRetriesAsTransient) {
  auto o = Fixture::defaults();
  o.max_retries = 3;
  o.retry_backoff_cap = Millis(150);
  Fixture f(o);
  f.http->setHandler([](const http::Request&) -> Result<http::Response> {
    return FakeHttpClient::s3Error(500, "InternalError", "We encountered an internal error.");
  });
  Status s = f.store->put("k/x.eml", "abc");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errorClass(), ErrorClass::kTransientBackend);
  EXPECT_EQ(s.error().message(),
            "s3 PUT k/x.eml: 500 InternalError: We encountered an internal error. (gave up after 4 attempts)");
  EXPECT_EQ(f.http->requests().size(), 4u);
  EXPECT_EQ(f.delays, (std::vector<Millis>{Millis(50), Millis(75), Millis(75)}));  // capped at 150
  EXPECT_EQ(f.store->metrics().failures_transient.load(), 1u);
}

TEST(S3BlobStore, Never4xxRetriedPermanentWithCodeAndMessage) {
  Fixture f;
  f.http->setHandler([](const http::Request&) -> Result<http::Response> {
    return FakeHttpClient::s3Error(403, "SignatureDoesNotMatch",
                                   "The request signature we calculated does not match the signature you provided.");
  });
  Status s = f.store->put("inbound/x.eml", "abc");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_EQ(s.error().message(),
            "s3 PUT inbound/x.eml: 403 SignatureDoesNotMatch: The request signature we calculated does not match "
            "the signature you provided.");
  EXPECT_EQ(f.http->requests().size(), 1u);
  EXPECT_TRUE(f.delays.empty());
}

TEST(S3BlobStore, SyncWaitsForEveryUploadAndReturnsTheFirstError) {
  Fixture f;
  f.http->setHandler([](const http::Request& r) -> Result<http::Response> {
    if (r.url.find("/k/3.eml") != std::string::npos)
      return FakeHttpClient::s3Error(403, "AccessDenied", "Access Denied");
    if (r.url.find("/k/4.eml") != std::string::npos) return FakeHttpClient::s3Error(400, "InvalidArgument", "second");
    return FakeHttpClient::ok();
  });
  f.http->hold(true);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(f.store->putUnsynced("k/" + std::to_string(i) + ".eml", "x").ok());
  ASSERT_TRUE(f.http->waitForQueued(5));
  auto synced = std::async(std::launch::async, [&] { return f.store->sync(); });
  EXPECT_EQ(synced.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);  // all 5 still in flight
  f.http->hold(false);
  Status s = synced.get();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "s3 PUT k/3.eml: 403 AccessDenied: Access Denied");
  EXPECT_EQ(f.store->metrics().uploads.load(), 3u);
  EXPECT_EQ(f.store->metrics().failures_permanent.load(), 2u);
  // The next batch starts clean.
  EXPECT_TRUE(f.store->sync().ok());
  ASSERT_TRUE(f.store->putUnsynced("k/6.eml", "x").ok());
  EXPECT_TRUE(f.store->sync().ok());
}

TEST(S3BlobStore, MaxInFlightBoundsUploadsAndPutUnsyncedWaitsForASlot) {
  auto o = Fixture::defaults();
  o.max_in_flight = 3;
  Fixture f(o);
  f.http->hold(true);
  std::atomic<int> done{0};
  for (int i = 0; i < 10; ++i) {
    f.store->putAsync("k/a" + std::to_string(i) + ".eml", "x", [&](Status s) {
      EXPECT_TRUE(s.ok());
      ++done;
    });
  }
  ASSERT_TRUE(f.http->waitForQueued(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(f.http->queued(), 3u);
  EXPECT_EQ(f.store->metrics().in_flight.load(), 3);
  auto blocked = std::async(std::launch::async, [&] { return f.store->putUnsynced("k/u.eml", "x"); });
  EXPECT_EQ(blocked.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  f.http->hold(false);
  EXPECT_TRUE(blocked.get().ok());
  EXPECT_TRUE(f.store->sync().ok());
  for (int i = 0; i < 500 && done.load() < 10; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(done.load(), 10);
  EXPECT_LE(f.http->maxOutstanding(), 3u);
  EXPECT_EQ(f.store->metrics().uploads.load(), 11u);
}

TEST(S3BlobStore, PutAsyncCallsBackWithTheOutcome) {
  Fixture f;
  f.http->setHandler([](const http::Request&) -> Result<http::Response> {
    return FakeHttpClient::s3Error(403, "InvalidAccessKeyId",
                                   "The AWS Access Key Id you provided does not exist in our records.");
  });
  std::promise<Status> p;
  f.store->putAsync("k/x.eml", "abc", [&p](Status s) { p.set_value(std::move(s)); });
  Status s = p.get_future().get();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("403 InvalidAccessKeyId"), std::string::npos);
  std::promise<Status> bad;
  f.store->putAsync("../x", "abc", [&bad](Status s) { bad.set_value(std::move(s)); });
  EXPECT_EQ(bad.get_future().get().error().errorClass(), ErrorClass::kPermanentBackend);
}

TEST(S3BlobStore, GetAndExistsMapStatuses) {
  Fixture f;
  f.http->setHandler([](const http::Request& r) -> Result<http::Response> {
    bool here = r.url.find("/here.eml") != std::string::npos;
    bool denied = r.url.find("/denied.eml") != std::string::npos;
    if (denied) return FakeHttpClient::s3Error(403, "AccessDenied", "Access Denied");
    if (r.method == "GET") {
      if (here) return FakeHttpClient::ok("the bytes");
      return FakeHttpClient::s3Error(404, "NoSuchKey", "The specified key does not exist.");
    }
    http::Response resp;
    resp.status = here ? 200 : 404;  // HEAD: no body
    return resp;
  });
  auto g = f.store->get("k/here.eml");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, "the bytes");
  auto missing = f.store->get("k/gone.eml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errorClass(), ErrorClass::kNotFound);
  EXPECT_EQ(missing.error().message(), "s3 GET k/gone.eml: 404 NoSuchKey: The specified key does not exist.");
  EXPECT_TRUE(*f.store->exists("k/here.eml"));
  EXPECT_FALSE(*f.store->exists("k/gone.eml"));
  auto denied = f.store->exists("k/denied.eml");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_EQ(f.http->requests()[0].method, "GET");
  EXPECT_EQ(f.http->requests()[3].method, "HEAD");
  EXPECT_FALSE(f.store->put("../escape", "x").ok());
  EXPECT_FALSE(f.store->get("a//b").ok());
}

TEST(S3BlobStore, GetObjectReadsAnyKeyAVersionAndTheMetadata) {
  Fixture f;
  f.http->setHandler([](const http::Request& r) -> Result<http::Response> {
    if (r.url.find("gone") != std::string::npos) return FakeHttpClient::s3Error(404, "NoSuchKey", "no");
    http::Response resp = FakeHttpClient::ok("From: a@b\r\n\r\nhi\r\n");
    resp.headers.push_back({"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"});
    resp.headers.push_back({"ETag", "\"abc\""});
    resp.headers.push_back({"x-amz-version-id", "v 1"});
    return resp;
  });
  // Keys our own layout would never make are still objects S3 events may name.
  auto o = f.store->getObject("inbound//.hidden key+", "v 1");
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->body, "From: a@b\r\n\r\nhi\r\n");
  EXPECT_EQ(o->last_modified, WallTime{std::chrono::milliseconds(784111777000)});
  EXPECT_EQ(o->etag, "\"abc\"");
  EXPECT_EQ(o->version_id, "v 1");
  const http::Request r = f.http->requests()[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(query(r), "versionId=v%201");
  EXPECT_NE(r.url.find("/inbound//.hidden%20key%2B?"), std::string::npos) << r.url;
  auto plain = f.store->getObject("x");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(query(f.http->requests()[1]), "");
  auto gone = f.store->getObject("gone");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().errorClass(), ErrorClass::kNotFound);
  EXPECT_FALSE(f.store->getObject("").ok());
  EXPECT_FALSE(f.store->getObject(std::string(1025, 'k')).ok());
}

TEST(S3BlobStore, XmlTextDecodesEntities) {
  EXPECT_EQ(s3XmlText("<Error><Code>A&amp;B</Code><Message>&lt;x&gt; &quot;y&quot; &apos;z&apos;</Message></Error>",
                      "Message"),
            "<x> \"y\" 'z'");
  EXPECT_EQ(s3XmlText("<Error><Code>A&amp;B</Code></Error>", "Code"), "A&B");
  EXPECT_FALSE(s3XmlText("<Error><Code>unterminated", "Code").has_value());
  EXPECT_FALSE(s3XmlText("", "Code").has_value());
}

}  // namespace
}  // namespace mx::store
