// events/sqs/sqs_response.h — reading Amazon SQS answers to SendMessageBatch over the AWS
// JSON 1.0 protocol, and the one table from an SQS error to an mx::ErrorClass.
//
// Specs: Amazon SQS API Reference — SendMessageBatch (response: Successful[] of
// SendMessageBatchResultEntry {Id, MessageId, MD5OfMessageBody, …}, Failed[] of
// BatchResultErrorEntry {Id, SenderFault, Code, Message}), "Common Errors", and the SQS
// developer guide's "Using the AWS JSON protocol" (an error answer is a JSON object
// {"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"…"} and, for clients of the
// older query protocol, the header x-amzn-query-error: "AWS.SimpleQueueService.NonExistentQueue;Sender").
// An endpoint that answers in the query protocol's XML (<Error><Code/><Message/></Error>) is
// read too (aws/xml.h).
//
// sqsErrorClass() — whole-request failures (retry.h dispositionOf decides what a class means):
//   transport errors, HTTP 5xx, HTTP 429, throttling codes (ThrottlingException,
//     RequestThrottled, Throttling, TooManyRequestsException, RequestLimitExceeded,
//     KmsThrottled, KMS.ThrottlingException), InternalError/InternalFailure/ServiceUnavailable
//                                                   kTransientBackend (retried)
//   QueueDoesNotExist, AWS.SimpleQueueService.NonExistentQueue
//                                                   kNotFound (retried: the operator may
//                                                   create the queue; events wait for it)
//   credentials, signature, permission and KMS key problems (InvalidSecurity,
//     InvalidClientTokenId, SignatureDoesNotMatch, IncompleteSignature, AccessDenied,
//     AccessDeniedException, UnrecognizedClientException, MissingAuthenticationToken,
//     InvalidAccessKeyId, ExpiredToken, RequestExpired (clock skew), KmsAccessDenied,
//     KmsDisabled, KmsNotFound, KmsInvalidState, KmsInvalidKeyUsage, KMS.*Exception but
//     throttling); any other 401/403   kConfig (retried: an operator can fix it)
//   any other 4xx (InvalidParameterValue, BatchRequestTooLong, InvalidMessageContents, …: the
//     request itself is refused)                    kPermanentBackend (refused)
// Per-entry failures (Failed[]): SenderFault true → kPermanentBackend, else kTransientBackend.
//
// Trust: answers are untrusted bytes, at most kMaxSqsAnswerBytes (else a transient error):
// parsed by nlohmann-json without exceptions; only the fields above are read and type-checked;
// every string kept is clipped (codes 128 bytes, messages 256, ids 80) and reduced to
// printable ASCII, so it can go into a log line as it is.
// Threads: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/result.h"

namespace mx::events {

inline constexpr size_t kMaxSqsAnswerBytes = 1 << 20;

struct SqsEntryResult {
  std::string id;
  bool ok = false;            // in Successful[]
  bool sender_fault = false;  // Failed[]: the request's fault (do not retry)
  std::string code, message;  // Failed[]
};

// The entries of a 200 answer, Successful first, in the answer's order.
// Errors: kTransientBackend naming what is malformed (not JSON, not an object, an entry
// without a string Id, a field of the wrong type).
Result<std::vector<SqsEntryResult>> parseSendMessageBatchResponse(std::string_view json);

struct SqsError {
  std::string code;  // "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"; empty: none given
  std::string message;
};

// The error of a non-2xx answer: the code of x-amzn-query-error (when present, non-null),
// else __type's name after '#' (and before any ':'), else the XML <Code>; the message from
// "message"/"Message" or <Message>. Never fails: unknown shapes give empty fields.
SqsError parseSqsError(std::string_view body, const std::string* query_error_header);

// The class of a whole-request failure (see the table above). `status` 0: no HTTP answer.
ErrorClass sqsErrorClass(int status, std::string_view code);

// The class of a Failed[] entry.
inline ErrorClass sqsEntryErrorClass(bool sender_fault) {
  return sender_fault ? ErrorClass::kPermanentBackend : ErrorClass::kTransientBackend;
}

}  // namespace mx::events
