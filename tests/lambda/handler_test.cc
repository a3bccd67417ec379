// tests/lambda/handler_test.cc — the Lambda handler (lambda/handler.h) with the server's
// MessageHandler and MIME processor over an in-memory store, objects served from memory and
// recording sinks: what is stored, what is published, what Lambda is answered — S3, SQS
// (partial batch failures), SES, idempotent retries, objects mxgate already stored,
// refused events and their dead-letter sink, the deadline, the X-Ray trace, the EMF line.
// Also the pieces: message_source (ids, envelope from headers), xray_trace, parseInvocation.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/time_format.h"
#include "lambda/handler.h"
#include "lambda/xray_trace.h"
#include "pipeline/mime_processor.h"
#include "store/memory/memory_blob_store.h"

namespace mx::lambda {
namespace {

using nlohmann::json;

class MemoryReader final : public ObjectReader {
 public:
  Result<Object> read(const RawMessageRef& ref) override {
    ++reads;
    auto it = objects.find(ref.bucket + "/" + ref.key);
    if (it == objects.end()) return Error(ErrorClass::kNotFound, "404 NoSuchKey");
    if (fail_transient) return Error(ErrorClass::kTransientBackend, "503 SlowDown");
    return it->second;
  }
  void add(const std::string& bucket, const std::string& key, std::string bytes, int64_t last_modified_s = 1790000000,
           std::string etag = "\"e1\"") {
    Object o;
    o.bytes = std::move(bytes);
    o.info.last_modified = WallTime{std::chrono::seconds(last_modified_s)};
    o.info.etag = std::move(etag);
    objects[bucket + "/" + key] = std::move(o);
  }
  std::map<std::string, Object> objects;
  bool fail_transient = false;
  int reads = 0;
};

class RecordingSink final : public events::EventSink {
 public:
  Status publish(std::span<const events::Event> batch) override {
    if (refuse) return Error(ErrorClass::kPermanentBackend, "413 too large");
    if (down) return Error(ErrorClass::kTransientBackend, "connection refused");
    for (const auto& e : batch) events.push_back(e);
    return okStatus();
  }
  std::vector<events::Event> events;
  bool down = false;
  bool refuse = false;
};

const char* kMessage =
    "Return-Path: <bounce@sender.test>\r\n"
    "From: Ann <ann@sender.test>\r\n"
    "To: Bob <bob@acme.test>, carol@acme.test\r\n"
    "Cc: dave@globex.test\r\n"
    "Subject: hello\r\n"
    "\r\n"
    "body\r\n";

std::string s3Event(const std::string& bucket, const std::string& key) {
  return R"({"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":")" + bucket +
         R"("},"object":{"key":")" + key + R"(","size":10,"eTag":"e1"}}}]})";
}

std::string sqsRecord(const std::string& id, const std::string& body) {
  return R"({"eventSource":"aws:sqs","messageId":")" + id + R"(","body":)" + json(body).dump() + "}";
}

struct Fixture {
  Fixture() {
    std::string err;
    tenants = policy::Directory::build(
        {policy::TenantConfig{"acme", {"acme.test"}}, policy::TenantConfig{"globex", {"globex.test"}}}, {}, &err);
    EXPECT_TRUE(tenants) << err;
    messages = std::make_unique<pipeline::MessageHandler>(
        store, &processor, pipeline::MessageHandlerOptions{"fn", "", [](auto) {}}, metrics);
    HandlerOptions o;
    o.event = LambdaEventOptions{"ses-bucket", "inbound/"};
    o.source.store_bucket = "mail-store";
    o.source.tenants = tenants.get();
    o.out = [this](std::string_view l) { lines.emplace_back(l); };
    o.function_name = "mx-parse";
    o.max_message_size = 1 << 20;
    options = o;
    rebuild();
  }
  void rebuild() {
    std::vector<SinkTarget> targets{{"main", &sink, dead_letter_enabled ? &dead : nullptr}};
    handler = std::make_unique<Handler>(reader, *messages, targets, options, clock);
  }
  InvocationOutcome invoke(const std::string& payload, const std::string& trace = "", int64_t deadline = 0) {
    Invocation inv;
    inv.request_id = "req-1";
    inv.payload = payload;
    inv.trace_id = trace;
    inv.deadline_ms = deadline;
    return handler->handle(inv);
  }
  std::vector<json> logLines(const std::string& msg) {
    std::vector<json> out;
    for (const auto& l : lines) {
      json j = json::parse(l);
      if (j.value("msg", "") == msg) out.push_back(j);
    }
    return out;
  }

  store::MemoryBlobStore store;
  pipeline::MimeProcessor processor{pipeline::MimeProcessorOptions{}};
  pipeline::PipelineMetrics metrics;
  std::unique_ptr<pipeline::MessageHandler> messages;
  std::shared_ptr<const policy::Directory> tenants;
  MemoryReader reader;
  RecordingSink sink, dead;
  bool dead_letter_enabled = false;
  ManualClock clock{WallTime{std::chrono::seconds(1'800'000'000)}};
  HandlerOptions options;
  std::unique_ptr<Handler> handler;
  std::vector<std::string> lines;
};

TEST(LambdaHandler, S3ObjectIsParsedStoredAndPublishedPerTenant) {
  Fixture f;
  f.reader.add("uploads", "in/msg 1.eml", kMessage);
  InvocationOutcome o = f.invoke(s3Event("uploads", "in/msg+1.eml"));
  ASSERT_FALSE(o.failure) << o.failure->message();
  EXPECT_EQ(json::parse(o.response)["disposition"], "CONTINUE");
  // acme (bob, carol) and globex (dave): two copies, two events, as the server commits them.
  ASSERT_EQ(f.sink.events.size(), 2u);
  EXPECT_EQ(o.messages, 2u);
  json acme = json::parse(f.sink.events[0].json)["data"];
  json globex = json::parse(f.sink.events[1].json)["data"];
  EXPECT_EQ(acme["tenant"], "acme");
  EXPECT_EQ(globex["tenant"], "globex");
  EXPECT_NE(acme["id"], globex["id"]);
  EXPECT_EQ(acme["envelope"]["reception"], "lambda");
  EXPECT_FALSE(acme.contains("receipt"));  // only SES has verdicts
  EXPECT_EQ(acme["envelope"]["mail_from"], "bounce@sender.test");
  ASSERT_EQ(acme["envelope"]["rcpt_to"].size(), 2u);
  EXPECT_EQ(acme["envelope"]["rcpt_to"][0]["address"], "bob@acme.test");
  EXPECT_EQ(acme["envelope"]["rcpt_to"][1]["address"], "carol@acme.test");
  EXPECT_EQ(globex["envelope"]["rcpt_to"][0]["address"], "dave@globex.test");
  // received_at is the object's Last-Modified; the keys are the server's layout.
  EXPECT_EQ(acme["received_at"], formatRfc3339(WallTime{std::chrono::seconds(1790000000)}));
  const std::string raw_key = acme["storage"]["raw"];
  EXPECT_EQ(raw_key.rfind("acme/raw/2026/09/21/", 0), 0u) << raw_key;
  EXPECT_EQ(*f.store.get(raw_key), kMessage);
  json doc = json::parse(*f.store.get(acme["storage"]["parsed"].get<std::string>()));
  EXPECT_EQ(doc["subject"], "hello");
  EXPECT_EQ(doc["envelope"]["reception"], "lambda");
  EXPECT_EQ(f.logLines("message processed").size(), 2u);
}

TEST(LambdaHandler, RetryGivesTheSameIdsKeysAndEventIds) {
  Fixture f;
  f.reader.add("uploads", "a.eml", kMessage);
  f.invoke(s3Event("uploads", "a.eml"));
  const auto first_keys = f.store.keys();
  const auto first = f.sink.events;
  f.clock.advance(std::chrono::hours(5));
  f.invoke(s3Event("uploads", "a.eml"));
  ASSERT_EQ(f.sink.events.size(), 4u);
  EXPECT_EQ(f.sink.events[2].id, first[0].id);
  EXPECT_EQ(f.sink.events[3].id, first[1].id);
  EXPECT_EQ(f.sink.events[2].json, first[0].json);
  EXPECT_EQ(f.store.keys(), first_keys);
  // A new version of the object (another ETag) is another message.
  f.reader.add("uploads", "a.eml", kMessage, 1790000000, "\"e2\"");
  f.invoke(s3Event("uploads", "a.eml"));
  EXPECT_NE(f.sink.events[4].id, first[0].id);
}

TEST(LambdaHandler, SqsBatchReportsExactlyTheFailedRecords) {
  Fixture f;
  f.reader.add("uploads", "good.eml", kMessage);
  const std::string payload = R"({"Records":[)" + sqsRecord("m-good", s3Event("uploads", "good.eml")) + "," +
                              sqsRecord("m-poison", "not json at all") + "," +
                              sqsRecord("m-gone", s3Event("uploads", "missing.eml")) + "," +
                              sqsRecord("m-test", R"({"Event":"s3:TestEvent"})") + "]}";
  InvocationOutcome o = f.invoke(payload);
  ASSERT_FALSE(o.failure);
  json r = json::parse(o.response);
  ASSERT_EQ(r["batchItemFailures"].size(), 2u) << o.response;
  EXPECT_EQ(r["batchItemFailures"][0]["itemIdentifier"], "m-poison");
  EXPECT_EQ(r["batchItemFailures"][1]["itemIdentifier"], "m-gone");
  EXPECT_EQ(f.sink.events.size(), 2u);  // the good record's two tenants
  auto failed = f.logLines("message failed");
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[1]["record_id"], "m-gone");
  EXPECT_EQ(failed[1]["retry"], false);
  EXPECT_NE(failed[1]["reason"].get<std::string>().find("missing.eml"), std::string::npos);
  // Every record well: an empty list (Lambda deletes the whole batch).
  InvocationOutcome ok = f.invoke(R"({"Records":[)" + sqsRecord("m-good", s3Event("uploads", "good.eml")) + "]}");
  EXPECT_EQ(json::parse(ok.response)["batchItemFailures"].size(), 0u);
}

TEST(LambdaHandler, FifoBatchStopsAtTheFirstFailure) {
  Fixture f;
  f.reader.add("uploads", "good.eml", kMessage);
  auto fifo = [](const std::string& id, const std::string& body) {
    std::string r = sqsRecord(id, body);
    r.insert(r.size() - 1, R"(,"eventSourceARN":"arn:aws:sqs:eu-west-1:1:mail.fifo")");
    return r;
  };
  const std::string payload = R"({"Records":[)" + fifo("f1", s3Event("uploads", "good.eml")) + "," +
                              fifo("f2", s3Event("uploads", "missing.eml")) + "," +
                              fifo("f3", s3Event("uploads", "good.eml")) + "]}";
  InvocationOutcome o = f.invoke(payload);
  json r = json::parse(o.response);
  ASSERT_EQ(r["batchItemFailures"].size(), 2u) << o.response;
  EXPECT_EQ(r["batchItemFailures"][0]["itemIdentifier"], "f2");
  EXPECT_EQ(r["batchItemFailures"][1]["itemIdentifier"], "f3");
  EXPECT_EQ(f.sink.events.size(), 2u);  // f1 only (two tenants); f3 not processed
  EXPECT_EQ(f.reader.reads, 2);
  // The same records from a standard queue: only f2 fails.
  InvocationOutcome std_queue = f.invoke(R"({"Records":[)" + sqsRecord("s1", s3Event("uploads", "missing.eml")) + "," +
                                         sqsRecord("s2", s3Event("uploads", "good.eml")) + "]}");
  EXPECT_EQ(json::parse(std_queue.response)["batchItemFailures"].size(), 1u);
}

TEST(LambdaHandler, SesReceiptUsesTheSmtpEnvelopeAndItsTime) {
  Fixture f;
  f.reader.add("ses-bucket", "inbound/abc123", kMessage);
  const std::string ses = R"({"Records":[{"eventSource":"aws:ses","ses":{"mail":{"timestamp":"2026-01-02T03:04:05.678Z",
    "source":"envelope@sender.test","messageId":"abc123","destination":["zed@globex.test"]},
    "receipt":{"spfVerdict":{"status":"PASS"}}}}]})";
  InvocationOutcome o = f.invoke(ses);
  ASSERT_FALSE(o.failure) << o.failure->message();
  ASSERT_EQ(f.sink.events.size(), 1u);
  json d = json::parse(f.sink.events[0].json)["data"];
  EXPECT_EQ(d["tenant"], "globex");
  EXPECT_EQ(d["envelope"]["mail_from"], "envelope@sender.test");
  EXPECT_EQ(d["envelope"]["rcpt_to"][0]["address"], "zed@globex.test");
  EXPECT_EQ(d["received_at"], "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(d["receipt"], json::parse(R"({"by":"ses","spf":"PASS"})"));  // absent verdicts left out
  EXPECT_EQ(f.store.keys().size(), 2u);                                  // raw copy + parsed
}

TEST(LambdaHandler, OurOwnRawObjectKeepsItsIdAndIsNotStoredAgain) {
  Fixture f;
  store::KeyLayout layout;
  MessageId id(1790000000123ull, 5, 6);
  const WallTime at{std::chrono::milliseconds(1790000000123ll)};
  const std::string key = layout.raw("acme", at, id);
  f.reader.add("mail-store", key, kMessage);
  InvocationOutcome o = f.invoke(s3Event("mail-store", key));
  ASSERT_FALSE(o.failure);
  ASSERT_EQ(f.sink.events.size(), 1u);  // one tenant: the key's
  EXPECT_EQ(f.sink.events[0].id, id.toString());
  EXPECT_FALSE(*f.store.exists(key));  // not written back (that would fire the S3 event again)
  EXPECT_TRUE(*f.store.exists(layout.parsed("acme", at, id)));
  // The same key in another bucket is somebody else's object: a message of its own.
  f.reader.add("uploads", key, kMessage);
  f.invoke(s3Event("uploads", key));
  EXPECT_NE(f.sink.events.back().id, id.toString());
}

TEST(LambdaHandler, TransientTroubleFailsTheRecordOrTheInvocation) {
  Fixture f;
  f.reader.add("uploads", "a.eml", kMessage);
  f.sink.down = true;
  InvocationOutcome sqs = f.invoke(R"({"Records":[)" + sqsRecord("m1", s3Event("uploads", "a.eml")) + "]}");
  EXPECT_EQ(json::parse(sqs.response)["batchItemFailures"][0]["itemIdentifier"], "m1");
  InvocationOutcome s3 = f.invoke(s3Event("uploads", "a.eml"));
  ASSERT_TRUE(s3.failure);
  EXPECT_EQ(s3.failure->errorClass(), ErrorClass::kTransientBackend);
  EXPECT_NE(s3.failure->message().find("sink main: connection refused"), std::string::npos) << s3.failure->message();
  f.sink.down = false;
  f.reader.fail_transient = true;
  InvocationOutcome read = f.invoke(s3Event("uploads", "a.eml"));
  ASSERT_TRUE(read.failure);
  EXPECT_NE(read.failure->message().find("503 SlowDown"), std::string::npos);
  f.reader.fail_transient = false;
  f.store.failNextSyncs(1);
  InvocationOutcome sync = f.invoke(s3Event("uploads", "a.eml"));
  ASSERT_TRUE(sync.failure);
  EXPECT_EQ(f.sink.events.size(), 0u);  // nothing published before its objects were durable
}

TEST(LambdaHandler, RefusedEventGoesToTheDeadLetterSinkOrFailsTheRecord) {
  Fixture f;
  f.reader.add("uploads", "a.eml", kMessage);
  f.sink.refuse = true;
  InvocationOutcome no_dl = f.invoke(s3Event("uploads", "a.eml"));
  ASSERT_TRUE(no_dl.failure);
  EXPECT_NE(no_dl.failure->message().find("no dead_letter_sink"), std::string::npos);
  f.dead_letter_enabled = true;
  f.rebuild();
  InvocationOutcome dl = f.invoke(s3Event("uploads", "a.eml"));
  ASSERT_FALSE(dl.failure) << dl.failure->message();
  EXPECT_EQ(f.dead.events.size(), 2u);
  EXPECT_EQ(f.logLines("event dead-lettered").size(), 2u);
}

TEST(LambdaHandler, OversizedObjectFailsForGood) {
  Fixture f;
  f.options.max_message_size = 10;
  f.rebuild();
  f.reader.add("uploads", "a.eml", kMessage);
  InvocationOutcome o = f.invoke(s3Event("uploads", "a.eml"));
  ASSERT_TRUE(o.failure);
  EXPECT_EQ(o.failure->errorClass(), ErrorClass::kPolicy);
  EXPECT_TRUE(f.store.keys().empty());
}

TEST(LambdaHandler, NothingIsStartedTooCloseToTheDeadline) {
  Fixture f;
  f.reader.add("uploads", "a.eml", kMessage);
  const int64_t now = unixMillis(f.clock.wall());
  InvocationOutcome o =
      f.invoke(R"({"Records":[)" + sqsRecord("m1", s3Event("uploads", "a.eml")) + "]}", "", now + 1500);
  EXPECT_EQ(json::parse(o.response)["batchItemFailures"][0]["itemIdentifier"], "m1");
  EXPECT_EQ(f.reader.reads, 0);
  InvocationOutcome later = f.invoke(s3Event("uploads", "a.eml"), "", now + 60'000);
  EXPECT_FALSE(later.failure);
}

TEST(LambdaHandler, XRayTraceBecomesTheEventsTraceparent) {
  Fixture f;
  f.reader.add("uploads", "a.eml", kMessage);
  f.invoke(s3Event("uploads", "a.eml"), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
  ASSERT_FALSE(f.sink.events.empty());
  EXPECT_EQ(json::parse(f.sink.events[0].json)["traceparent"],
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01");
}

TEST(LambdaHandler, UnusablePayloadFailsTheInvocationAndEveryInvocationEmitsEmf) {
  Fixture f;
  InvocationOutcome o = f.invoke("[1,2");
  ASSERT_TRUE(o.failure);
  EXPECT_EQ(o.failure->errorClass(), ErrorClass::kProtocol);
  json emf = json::parse(f.lines.back());
  EXPECT_EQ(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "mxgate");
  EXPECT_EQ(emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0], "FunctionName");
  EXPECT_EQ(emf["_aws"]["CloudWatchMetrics"][0]["Metrics"].size(), 5u);
  EXPECT_EQ(emf["FunctionName"], "mx-parse");
  EXPECT_EQ(emf["Errors"], 1);
  EXPECT_EQ(emf["Messages"], 0);
  f.reader.add("uploads", "a.eml", kMessage);
  f.invoke(s3Event("uploads", "a.eml"));
  json ok = json::parse(f.lines.back());
  EXPECT_EQ(ok["Messages"], 2);
  EXPECT_EQ(ok["Bytes"], 2 * std::string(kMessage).size());
  EXPECT_EQ(ok["Errors"], 0);
}

TEST(MessageSource, RecipientsFromDeliveredToFirstAndNoRecipientsIsTheDefaultTenant) {
  store::KeyLayout layout;
  MessageSourceOptions o;
  o.layout = &layout;
  RawMessageRef ref;
  ref.bucket = "b";
  ref.key = "k";
  const WallTime now{std::chrono::seconds(1'800'000'000)};
  SourcedMessage m = sourceMessage(ref, {},
                                   "Delivered-To: x@acme.test\r\nX-Original-To: y@acme.test\r\nTo: z@acme.test\r\n"
                                   "Return-Path: <>\r\n\r\nTo: not-a-header@acme.test\r\n",
                                   o, now);
  ASSERT_EQ(m.copies.size(), 1u);
  EXPECT_EQ(m.copies[0].rcpt_to, (std::vector<std::string>{"x@acme.test", "y@acme.test"}));
  EXPECT_EQ(m.copies[0].mail_from, "");
  EXPECT_EQ(m.copies[0].tenant, "default");
  EXPECT_EQ(m.copies[0].received_at, now);  // no Last-Modified
  SourcedMessage none = sourceMessage(ref, {}, "Subject: no header block end", o, now);
  ASSERT_EQ(none.copies.size(), 1u);
  EXPECT_TRUE(none.copies[0].rcpt_to.empty());
  // Folded header, bare LF, 8-bit body.
  SourcedMessage lf = sourceMessage(ref, {}, "To: a@x.test,\n b@x.test\nSubject: x\n\n\xC3\xA9\n", o, now);
  EXPECT_EQ(lf.copies[0].rcpt_to, (std::vector<std::string>{"a@x.test", "b@x.test"}));
  EXPECT_EQ(lf.copies[0].body, BodyType::kEightBitMime);
}

TEST(XRayTrace, MapsRootParentAndSampled) {
  EXPECT_EQ(traceparentFromXRay("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00");
  EXPECT_EQ(
      traceparentFromXRay("Root=1-5759E988-BD862e3fe1be46a994272793; Parent=53995c3f42cd8ad8; Sampled=1; Lineage=a:1"),
      "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01");
  for (const char* bad : {"", "Root=1-5759e988-bd862e3fe1be46a994272793", "Parent=53995c3f42cd8ad8",
                          "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
                          "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8",
                          "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
                          "Root=1-00000000-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
                          "Root=1-5759e988-bd862e3fe1be46a99427279g;Parent=53995c3f42cd8ad8"}) {
    EXPECT_FALSE(traceparentFromXRay(bad).has_value()) << bad;
  }
}

TEST(RuntimeApi, ParseInvocationReadsTheHeadersAndRefusesUnusableIds) {
  http::Response r;
  r.status = 200;
  r.body = "{}";
  r.headers = {
      {"Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd"},
      {"Lambda-Runtime-Deadline-Ms", "1542409706888"},
      {"Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime"},
      {"Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"}};
  auto inv = parseInvocation(r);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
  EXPECT_EQ(inv->deadline_ms, 1542409706888);
  EXPECT_EQ(inv->trace_id.substr(0, 5), "Root=");
  EXPECT_EQ(inv->payload, "{}");
  for (const char* id : {"", "a/b", "a b", "x?y", "%2F"}) {
    http::Response bad = r;
    bad.headers[0].value = id;
    EXPECT_EQ(parseInvocation(bad).error().errorClass(), ErrorClass::kProtocol) << id;
  }
  http::Response no_deadline = r;
  no_deadline.headers[1].value = "soon";
  EXPECT_FALSE(parseInvocation(no_deadline).ok());
  http::Response down = r;
  down.status = 500;
  EXPECT_EQ(parseInvocation(down).error().errorClass(), ErrorClass::kTransientBackend);
  EXPECT_EQ(json::parse(errorDocument("Runtime.X", "bad \"thing\"\n")),
            json::parse(R"({"errorMessage":"bad \"thing\"\n","errorType":"Runtime.X","stackTrace":[]})"));
}

}  // namespace
}  // namespace mx::lambda
