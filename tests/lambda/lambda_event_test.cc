// tests/lambda/lambda_event_test.cc — the Lambda invocation-payload parser: the S3, SQS
// (plain and SNS-wrapped) and SES shapes, key decoding, a poisoned SQS record among good
// ones, the S3 TestEvent, wrong shapes and the bounds.
#include "lambda/lambda_event.h"

#include <gtest/gtest.h>

#include <string>

namespace mx::lambda {
namespace {

std::string s3Record(const std::string& event_name, const std::string& key, const std::string& extra = "") {
  return R"({"eventVersion":"2.1","eventSource":"aws:s3","eventName":")" + event_name +
         R"(","s3":{"bucket":{"name":"mail-in"},"object":{"key":")" + key + "\"" + extra + "}}}";
}

std::string s3Event(const std::string& records) { return R"({"Records":[)" + records + "]}"; }

// A JSON string literal holding text (quotes and backslashes escaped).
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string sqsRecord(const std::string& id, const std::string& body_literal) {
  return R"({"messageId":")" + id + R"(","receiptHandle":"h","eventSource":"aws:sqs","body":)" + body_literal + "}";
}

TEST(LambdaEvent, S3PutWithAllFields) {
  auto r = parseLambdaEvent(
      s3Event(s3Record("ObjectCreated:Put", "inbound/a.eml", R"(,"size":1024,"eTag":"abc","versionId":"v7")")));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  const RawMessageRef& m = (*r)[0];
  EXPECT_EQ(m.source, LambdaEventSource::kS3);
  EXPECT_EQ(m.bucket, "mail-in");
  EXPECT_EQ(m.key, "inbound/a.eml");
  ASSERT_TRUE(m.size.has_value());
  EXPECT_EQ(*m.size, 1024u);
  EXPECT_EQ(m.etag, "abc");
  EXPECT_EQ(m.version_id, "v7");
  EXPECT_TRUE(m.record_id.empty());
  EXPECT_FALSE(m.failed());
}

TEST(LambdaEvent, S3OptionalFieldsAbsent) {
  auto r = parseLambdaEvent(s3Event(s3Record("ObjectCreated:CompleteMultipartUpload", "k")));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_FALSE((*r)[0].size.has_value());
  EXPECT_TRUE((*r)[0].etag.empty());
  EXPECT_TRUE((*r)[0].version_id.empty());
}

TEST(LambdaEvent, S3KeyIsUrlDecoded) {
  auto r = parseLambdaEvent(s3Event(s3Record("ObjectCreated:Put", "in%2Fbox/hello+world%3D%e2%82%ac.eml")));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].key, "in/box/hello world=\xe2\x82\xac.eml");
}

TEST(LambdaEvent, DecodeS3EventKey) {
  EXPECT_EQ(decodeS3EventKey("a+b%2Bc%2fd"), "a b+c/d");
  EXPECT_EQ(decodeS3EventKey(""), "");
  EXPECT_FALSE(decodeS3EventKey("a%2").has_value());
  EXPECT_FALSE(decodeS3EventKey("a%").has_value());
  EXPECT_FALSE(decodeS3EventKey("a%zz").has_value());
}

TEST(LambdaEvent, S3BadKeyEscapeFailsTheEvent) {
  auto r = parseLambdaEvent(s3Event(s3Record("ObjectCreated:Put", "bad%G1")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errorClass(), ErrorClass::kProtocol);
}

TEST(LambdaEvent, S3NonCreateRecordsAreSkipped) {
  auto r =
      parseLambdaEvent(s3Event(s3Record("ObjectRemoved:Delete", "gone") + "," + s3Record("ObjectCreated:Copy", "kept") +
                               "," + s3Record("ObjectRestore:Completed", "restored")));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].key, "kept");
}

TEST(LambdaEvent, S3TestEventGivesNothing) {
  auto r = parseLambdaEvent(
      R"({"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00.000Z","Bucket":"mail-in"})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->empty());
}

TEST(LambdaEvent, S3BadFieldsFailTheEvent) {
  for (const std::string& extra : {std::string(R"(,"size":-1)"), std::string(R"(,"size":"12")"),
                                   std::string(R"(,"size":1.5)"), std::string(R"(,"eTag":7)")}) {
    auto r = parseLambdaEvent(s3Event(s3Record("ObjectCreated:Put", "k", extra)));
    ASSERT_FALSE(r.ok()) << extra;
    EXPECT_EQ(r.error().errorClass(), ErrorClass::kProtocol) << extra;
  }
  // Bad bucket names, an empty key, a key longer than S3 allows.
  EXPECT_FALSE(
      parseLambdaEvent(
          R"({"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"a/b"},"object":{"key":"k"}}}]})")
          .ok());
  EXPECT_FALSE(parseLambdaEvent(s3Event(s3Record("ObjectCreated:Put", ""))).ok());
  EXPECT_FALSE(parseLambdaEvent(s3Event(s3Record("ObjectCreated:Put", std::string(1025, 'k')))).ok());
  EXPECT_TRUE(parseLambdaEvent(s3Event(s3Record("ObjectCreated:Put", std::string(1024, 'k')))).ok());
}

TEST(LambdaEvent, SqsWithS3Body) {
  const std::string body = s3Event(s3Record("ObjectCreated:Put", "a+b.eml", R"(,"size":5)"));
  auto r = parseLambdaEvent(s3Event(sqsRecord("m-1", quoted(body))));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  const RawMessageRef& m = (*r)[0];
  EXPECT_EQ(m.source, LambdaEventSource::kSqs);
  EXPECT_EQ(m.record_id, "m-1");
  EXPECT_EQ(m.bucket, "mail-in");
  EXPECT_EQ(m.key, "a b.eml");
  EXPECT_EQ(m.size, 5u);
  EXPECT_FALSE(m.failed());
}

TEST(LambdaEvent, SqsWithSnsEnvelope) {
  const std::string s3 = s3Event(s3Record("ObjectCreated:Put", "x%2Fy.eml"));
  const std::string sns = R"({"Type":"Notification","MessageId":"n-1","TopicArn":"arn:aws:sns:eu-west-1:1:t",)"
                          R"("Message":)" +
                          quoted(s3) + "}";
  auto r = parseLambdaEvent(s3Event(sqsRecord("m-9", quoted(sns))));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].record_id, "m-9");
  EXPECT_EQ((*r)[0].key, "x/y.eml");
}

TEST(LambdaEvent, SqsTestEventBodyGivesNothing) {
  auto r = parseLambdaEvent(s3Event(sqsRecord("m-1", quoted(R"({"Service":"Amazon S3","Event":"s3:TestEvent"})"))));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->empty());
}

TEST(LambdaEvent, PoisonedSqsRecordAmongGoodOnes) {
  const std::string good1 = quoted(s3Event(s3Record("ObjectCreated:Put", "one")));
  const std::string good2 = quoted(s3Event(s3Record("ObjectCreated:Put", "two")));
  // Half-good body: its first record is fine, its second is not; nothing of it may survive.
  const std::string half =
      quoted(s3Event(s3Record("ObjectCreated:Put", "half") + "," + s3Record("ObjectCreated:Put", "bad%zz")));
  const std::string records = sqsRecord("m-1", good1) + "," + sqsRecord("m-2", quoted("not json {")) + "," +
                              sqsRecord("m-3", half) + "," +
                              sqsRecord("m-4", quoted(R"({"Type":"SubscriptionConfirmation"})")) + "," +
                              sqsRecord("m-5", "42") + "," + sqsRecord("m-6", good2);
  auto r = parseLambdaEvent(s3Event(records));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].key, "one");
  EXPECT_FALSE((*r)[0].failed());
  for (size_t i = 1; i <= 4; ++i) {
    EXPECT_TRUE((*r)[i].failed()) << i;
    EXPECT_EQ((*r)[i].record_id, "m-" + std::to_string(i + 1));
    EXPECT_TRUE((*r)[i].key.empty());
  }
  EXPECT_EQ((*r)[5].key, "two");
  EXPECT_EQ((*r)[5].record_id, "m-6");
  EXPECT_FALSE((*r)[5].failed());
}

TEST(LambdaEvent, SqsRecordWithoutMessageIdFailsTheBatch) {
  auto r = parseLambdaEvent(R"({"Records":[{"eventSource":"aws:sqs","body":"{}"}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errorClass(), ErrorClass::kProtocol);
}

constexpr const char* kSesEvent = R"({"Records":[{"eventSource":"aws:ses","eventVersion":"1.0","ses":{
  "mail":{"timestamp":"2026-01-01T00:00:00.000Z","source":"a@example.com",
          "messageId":"o3vrnil0e2ic28trm7dfhrc2v0cnbp0g1","destination":["b@example.org","c@example.org"]},
  "receipt":{"recipients":["b@example.org"],"spfVerdict":{"status":"PASS"},"dkimVerdict":{"status":"FAIL"},
             "dmarcVerdict":{"status":"GRAY"},"spamVerdict":{"status":"PASS"},
             "virusVerdict":{"status":"PROCESSING_FAILED"},
             "action":{"type":"Lambda","functionArn":"arn:aws:lambda:eu-west-1:1:function:mx","invocationType":"Event"}}}}]})";

TEST(LambdaEvent, SesReceipt) {
  auto r = parseLambdaEvent(kSesEvent, LambdaEventOptions{"ses-mail", "inbound/"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  const RawMessageRef& m = (*r)[0];
  EXPECT_EQ(m.source, LambdaEventSource::kSes);
  EXPECT_EQ(m.bucket, "ses-mail");
  EXPECT_EQ(m.key, "inbound/o3vrnil0e2ic28trm7dfhrc2v0cnbp0g1");
  EXPECT_EQ(m.ses_message_id, "o3vrnil0e2ic28trm7dfhrc2v0cnbp0g1");
  EXPECT_EQ(m.ses_source, "a@example.com");
  EXPECT_EQ(m.ses_destination, (std::vector<std::string>{"b@example.org", "c@example.org"}));
  EXPECT_EQ(m.ses_verdicts.spf, "PASS");
  EXPECT_EQ(m.ses_verdicts.dkim, "FAIL");
  EXPECT_EQ(m.ses_verdicts.dmarc, "GRAY");
  EXPECT_EQ(m.ses_verdicts.spam, "PASS");
  EXPECT_EQ(m.ses_verdicts.virus, "PROCESSING_FAILED");
  EXPECT_TRUE(m.record_id.empty());
  EXPECT_FALSE(m.size.has_value());
}

TEST(LambdaEvent, SesNeedsABucketAndASafeMessageId) {
  auto no_bucket = parseLambdaEvent(kSesEvent);
  ASSERT_FALSE(no_bucket.ok());
  EXPECT_EQ(no_bucket.error().errorClass(), ErrorClass::kConfig);
  const LambdaEventOptions options{"ses-mail", ""};
  for (const char* id : {"", "../etc", "a/b", ".."}) {
    const std::string ev =
        std::string(R"({"Records":[{"eventSource":"aws:ses","ses":{"mail":{"messageId":")") + id + R"("}}}]})";
    EXPECT_FALSE(parseLambdaEvent(ev, options).ok()) << id;
  }
  // Verdicts absent: empty strings, still a message.
  auto bare =
      parseLambdaEvent(R"({"Records":[{"eventSource":"aws:ses","ses":{"mail":{"messageId":"abc"}}}]})", options);
  ASSERT_TRUE(bare.ok()) << bare.error().message();
  EXPECT_EQ((*bare)[0].key, "abc");
  EXPECT_TRUE((*bare)[0].ses_verdicts.spf.empty());
}

TEST(LambdaEvent, WrongShapes) {
  for (
      const char* in :
      {"", "not json", "[]", "42", "\"Records\"", "{}", R"({"Records":{}})", R"({"Records":[42]})",
       R"({"Records":[{}]})", R"({"Records":[{"eventSource":"aws:sns"}]})", R"({"Records":[{"eventSource":"aws:s3"}]})",
       R"({"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put"}]})",
       R"({"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]})",
       R"({"Event":"s3:OtherEvent"})", R"({"Records":[{"eventSource":"aws:s3"}],)"}) {
    auto r = parseLambdaEvent(in);
    ASSERT_FALSE(r.ok()) << in;
    EXPECT_EQ(r.error().errorClass(), ErrorClass::kProtocol) << in;
  }
}

TEST(LambdaEvent, DeepNestingIsRejectedWithoutRecursion) {
  // nlohmann-json parses and destroys iteratively; a deep document is just a wrong shape.
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  auto top = parseLambdaEvent(deep);
  ASSERT_FALSE(top.ok());
  EXPECT_EQ(top.error().errorClass(), ErrorClass::kProtocol);
  auto in_body = parseLambdaEvent(s3Event(sqsRecord("m-1", quoted(R"({"Records":)" + deep + "}"))));
  ASSERT_TRUE(in_body.ok()) << in_body.error().message();
  ASSERT_EQ(in_body->size(), 1u);
  EXPECT_TRUE((*in_body)[0].failed());
}

TEST(LambdaEvent, EmptyRecordsGivesNothing) {
  auto r = parseLambdaEvent(R"({"Records":[]})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(LambdaEvent, PayloadOverSixMiBIsRefused) {
  std::string big = s3Event(s3Record("ObjectCreated:Put", "k"));
  big.append(kMaxLambdaPayload + 1 - big.size(), ' ');
  auto r = parseLambdaEvent(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errorClass(), ErrorClass::kResource);
  big.pop_back();
  EXPECT_TRUE(parseLambdaEvent(big).ok());
}

std::string manyRecords(size_t n, const std::string& record) {
  std::string records;
  for (size_t i = 0; i < n; ++i) records += (i ? "," : "") + record;
  return s3Event(records);
}

TEST(LambdaEvent, MoreThanTenThousandRecordsIsRefused) {
  const std::string rec = s3Record("ObjectCreated:Put", "k");
  auto at = parseLambdaEvent(manyRecords(kMaxLambdaRecords, rec));
  ASSERT_TRUE(at.ok()) << at.error().message();
  EXPECT_EQ(at->size(), kMaxLambdaRecords);
  auto over = parseLambdaEvent(manyRecords(kMaxLambdaRecords + 1, rec));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().errorClass(), ErrorClass::kResource);
}

TEST(LambdaEvent, SqsBodiesShareTheRecordBound) {
  // Two SQS records whose bodies hold 6000 S3 records each: the second goes over the bound
  // and fails alone; the first is delivered.
  const std::string body = quoted(manyRecords(6000, s3Record("ObjectCreated:Put", "k")));
  auto r = parseLambdaEvent(s3Event(sqsRecord("m-1", body) + "," + sqsRecord("m-2", body)));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 6001u);
  EXPECT_FALSE((*r)[0].failed());
  EXPECT_TRUE((*r)[6000].failed());
  EXPECT_EQ((*r)[6000].record_id, "m-2");
}

}  // namespace
}  // namespace mx::lambda
