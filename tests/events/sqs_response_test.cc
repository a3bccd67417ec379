// Tests for events/sqs/sqs_response: SendMessageBatch answers (Successful/Failed, absent and
// malformed parts, clipping and sanitising of untrusted strings), the error body in its JSON,
// x-amzn-query-error and XML forms, and the error-class table.
#include "events/sqs/sqs_response.h"

#include <gtest/gtest.h>

namespace mx::events {
namespace {

TEST(SqsResponse, SuccessfulAndFailed) {
  auto r = parseSendMessageBatchResponse(
      R"({"Successful":[{"Id":"0","MessageId":"m-0","MD5OfMessageBody":"x"},{"Id":"2","MessageId":"m-2"}],
          "Failed":[{"Id":"1","SenderFault":true,"Code":"InvalidMessageContents","Message":"bad char"},
                    {"Id":"3","SenderFault":false,"Code":"InternalError"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].id, "0");
  EXPECT_TRUE((*r)[0].ok);
  EXPECT_EQ((*r)[1].id, "2");
  EXPECT_EQ((*r)[2].id, "1");
  EXPECT_FALSE((*r)[2].ok);
  EXPECT_TRUE((*r)[2].sender_fault);
  EXPECT_EQ((*r)[2].code, "InvalidMessageContents");
  EXPECT_EQ((*r)[2].message, "bad char");
  EXPECT_FALSE((*r)[3].sender_fault);
  EXPECT_EQ((*r)[3].message, "");
}

TEST(SqsResponse, AbsentListsAreEmpty) {
  for (const char* body : {"{}", R"({"Successful":null})", R"({"Failed":[]})", R"({"Other":1})"}) {
    auto r = parseSendMessageBatchResponse(body);
    ASSERT_TRUE(r.ok()) << body;
    EXPECT_TRUE(r->empty()) << body;
  }
}

TEST(SqsResponse, Malformed) {
  for (const char* body : {"", "not json", "[]", R"("x")", R"({"Successful":{}})", R"({"Successful":[1]})",
                           R"({"Successful":[{}]})", R"({"Successful":[{"Id":7}]})", R"({"Successful":[{"Id":""}]})",
                           R"({"Failed":[{"Id":"1","SenderFault":"true"}]})", R"({"Failed":[{"Id":"1","Code":5}]})",
                           R"({"Successful":[{"Id":"0"}])"}) {
    auto r = parseSendMessageBatchResponse(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().errorClass(), ErrorClass::kTransientBackend);
  }
  auto long_id = parseSendMessageBatchResponse(R"({"Successful":[{"Id":")" + std::string(81, 'a') + R"("}]})");
  EXPECT_FALSE(long_id.ok());
  std::string huge = R"({"Successful":[],"pad":")" + std::string(kMaxSqsAnswerBytes, 'p') + R"("})";
  EXPECT_FALSE(parseSendMessageBatchResponse(huge).ok());
}

TEST(SqsResponse, UntrustedStringsAreClippedAndPrintable) {
  auto r = parseSendMessageBatchResponse(R"({"Failed":[{"Id":"1","SenderFault":true,"Code":"A\u0000B\nC",
      "Message":")" + std::string(1000, 'm') +
                                         R"(\r\ninjected: yes \u00e9"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)[0].code, "A?B?C");
  EXPECT_EQ((*r)[0].message, std::string(256, 'm') + "...");
  auto short_msg = parseSendMessageBatchResponse(R"({"Failed":[{"Id":"1","Message":"x\r\ny \u00e9"}]})");
  ASSERT_TRUE(short_msg.ok());
  EXPECT_EQ((*short_msg)[0].message, "x??y ??");
}

TEST(SqsError, Forms) {
  auto json = parseSqsError(R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The queue does not exist."})",
                            nullptr);
  EXPECT_EQ(json.code, "QueueDoesNotExist");
  EXPECT_EQ(json.message, "The queue does not exist.");
  const std::string header = "AWS.SimpleQueueService.NonExistentQueue;Sender";
  auto with_header = parseSqsError(R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","Message":"gone"})", &header);
  EXPECT_EQ(with_header.code, "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(with_header.message, "gone");
  auto suffix = parseSqsError(R"({"__type":"SerializationException:http://internal.amazon.com/coral/"})", nullptr);
  EXPECT_EQ(suffix.code, "SerializationException");
  auto plain = parseSqsError(R"({"__type":"ThrottlingException"})", nullptr);
  EXPECT_EQ(plain.code, "ThrottlingException");
  auto xml = parseSqsError(
      "<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
      "<Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>",
      nullptr);
  EXPECT_EQ(xml.code, "InvalidClientTokenId");
  EXPECT_EQ(xml.message, "The security token included in the request is invalid.");
  for (const char* junk : {"", "<<<", "[1,2]", R"({"__type":5,"message":[]})", "Service Unavailable"}) {
    auto e = parseSqsError(junk, nullptr);
    EXPECT_EQ(e.code, "") << junk;
    EXPECT_EQ(e.message, "") << junk;
  }
  const std::string nasty = "Bad\r\nCode;Sender";
  EXPECT_EQ(parseSqsError("", &nasty).code, "Bad??Code");
}

TEST(SqsError, ClassTable) {
  struct Row {
    int status;
    const char* code;
    ErrorClass expected;
  };
  const auto T = ErrorClass::kTransientBackend;
  const auto P = ErrorClass::kPermanentBackend;
  const auto C = ErrorClass::kConfig;
  const auto N = ErrorClass::kNotFound;
  const Row rows[] = {
      {500, "", T},
      {500, "InternalError", T},
      {503, "ServiceUnavailable", T},
      {502, "", T},
      {429, "", T},
      {400, "ThrottlingException", T},
      {400, "RequestThrottled", T},
      {400, "AWS.SimpleQueueService.RequestThrottled", T},
      {400, "Throttling", T},
      {400, "TooManyRequestsException", T},
      {400, "RequestLimitExceeded", T},
      {400, "KmsThrottled", T},
      {400, "KMS.ThrottlingException", T},
      {0, "", T},
      {400, "QueueDoesNotExist", N},
      {400, "AWS.SimpleQueueService.NonExistentQueue", N},
      {400, "InvalidSecurity", C},
      {403, "InvalidClientTokenId", C},
      {403, "SignatureDoesNotMatch", C},
      {400, "IncompleteSignature", C},
      {403, "AccessDenied", C},
      {400, "AccessDeniedException", C},
      {400, "UnrecognizedClientException", C},
      {403, "MissingAuthenticationToken", C},
      {403, "InvalidAccessKeyId", C},
      {400, "ExpiredToken", C},
      {400, "RequestExpired", C},
      {400, "KmsAccessDenied", C},
      {400, "KmsDisabled", C},
      {400, "KMS.DisabledException", C},
      {403, "", C},
      {401, "", C},
      {400, "InvalidParameterValue", P},
      {400, "BatchRequestTooLong", P},
      {400, "InvalidMessageContents", P},
      {400, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", P},
      {400, "", P},
      {404, "", P},
      {413, "", P},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(sqsErrorClass(row.status, row.code), row.expected) << row.status << " " << row.code;
  }
  EXPECT_EQ(sqsEntryErrorClass(true), P);
  EXPECT_EQ(sqsEntryErrorClass(false), T);
}

}  // namespace
}  // namespace mx::events
