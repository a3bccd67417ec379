// events/sqs/sqs_response.cc — see sqs_response.h.
#include "events/sqs/sqs_response.h"

#include <array>
#include <nlohmann/json.hpp>
#include <optional>

#include "aws/xml.h"

namespace mx::events {
namespace {

constexpr size_t kMaxId = 80;
constexpr size_t kMaxCode = 128;
constexpr size_t kMaxMessage = 256;

Error malformed(const std::string& what) {
  return Error(ErrorClass::kTransientBackend, "SendMessageBatch answer: " + what);
}

// Printable ASCII of at most `max` bytes; anything else becomes '?'.
std::string clean(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7F) ? c : '?';
  }
  if (s.size() > max) out += "...";
  return out;
}

// A string member, or nullopt when absent; `bad` set when present with another type.
std::optional<std::string_view> stringField(const nlohmann::json& o, const char* key, bool& bad) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    bad = true;
    return std::nullopt;
  }
  return std::string_view(it->get_ref<const std::string&>());
}

bool oneOf(std::string_view code, std::initializer_list<std::string_view> set) {
  for (std::string_view s : set) {
    if (code == s) return true;
  }
  return false;
}

}  // namespace

Result<std::vector<SqsEntryResult>> parseSendMessageBatchResponse(std::string_view text) {
  if (text.size() > kMaxSqsAnswerBytes) return malformed("over 1 MiB");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return malformed("not a JSON object");
  std::vector<SqsEntryResult> out;
  for (const char* list : {"Successful", "Failed"}) {
    const bool failed = list[0] == 'F';
    auto it = j.find(list);
    if (it == j.end() || it->is_null()) continue;  // absent when empty
    if (!it->is_array()) return malformed(std::string(list) + " is not an array");
    for (const nlohmann::json& e : *it) {
      if (!e.is_object()) return malformed(std::string(list) + " holds a non-object");
      bool bad = false;
      std::optional<std::string_view> id = stringField(e, "Id", bad);
      if (bad || !id || id->empty() || id->size() > kMaxId) return malformed(std::string(list) + " entry without Id");
      SqsEntryResult r;
      r.id = clean(*id, kMaxId);
      r.ok = !failed;
      if (failed) {
        auto sf = e.find("SenderFault");
        if (sf != e.end() && !sf->is_null()) {
          if (!sf->is_boolean()) return malformed("SenderFault is not a boolean");
          r.sender_fault = sf->get<bool>();
        }
        std::optional<std::string_view> code = stringField(e, "Code", bad);
        std::optional<std::string_view> message = stringField(e, "Message", bad);
        if (bad) return malformed("Failed entry with a non-string Code or Message");
        r.code = clean(code.value_or(""), kMaxCode);
        r.message = clean(message.value_or(""), kMaxMessage);
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

SqsError parseSqsError(std::string_view body, const std::string* query_error_header) {
  SqsError e;
  if (query_error_header != nullptr) {
    std::string_view h = *query_error_header;
    e.code = clean(h.substr(0, h.find(';')), kMaxCode);
  }
  if (body.size() > kMaxSqsAnswerBytes) return e;
  size_t lead = body.find_first_not_of(" \t\r\n");
  if (lead != std::string_view::npos && body[lead] == '<') {
    if (e.code.empty()) e.code = clean(aws::xmlElementText(body, "Code", kMaxCode).value_or(""), kMaxCode);
    e.message = clean(aws::xmlElementText(body, "Message", 4096).value_or(""), kMaxMessage);
    return e;
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return e;
  bool bad = false;
  if (e.code.empty()) {
    std::string_view type = stringField(j, "__type", bad).value_or("");
    if (size_t hash = type.rfind('#'); hash != std::string_view::npos) type.remove_prefix(hash + 1);
    type = type.substr(0, type.find(':'));
    e.code = clean(type, kMaxCode);
  }
  std::optional<std::string_view> message = stringField(j, "message", bad);
  if (!message) message = stringField(j, "Message", bad);
  e.message = clean(message.value_or(""), kMaxMessage);
  return e;
}

ErrorClass sqsErrorClass(int status, std::string_view code) {
  if (oneOf(code, {"ThrottlingException", "RequestThrottled", "AWS.SimpleQueueService.RequestThrottled", "Throttling",
                   "TooManyRequestsException", "RequestLimitExceeded", "KmsThrottled", "KMS.ThrottlingException",
                   "InternalError", "InternalFailure", "ServiceUnavailable"})) {
    return ErrorClass::kTransientBackend;
  }
  if (oneOf(code, {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"})) return ErrorClass::kNotFound;
  if (oneOf(code, {"InvalidSecurity", "AWS.SimpleQueueService.InvalidSecurity", "InvalidClientTokenId",
                   "SignatureDoesNotMatch", "IncompleteSignature", "AccessDenied", "AccessDeniedException",
                   "UnrecognizedClientException", "MissingAuthenticationToken", "InvalidAccessKeyId", "ExpiredToken",
                   "ExpiredTokenException", "RequestExpired", "KmsAccessDenied", "KmsDisabled", "KmsNotFound",
                   "KmsInvalidState", "KmsInvalidKeyUsage", "KmsOptInRequired"}) ||
      code.starts_with("KMS.")) {
    return ErrorClass::kConfig;
  }
  if (status == 0 || status == 429 || status >= 500) return ErrorClass::kTransientBackend;
  if (status == 401 || status == 403) return ErrorClass::kConfig;
  return ErrorClass::kPermanentBackend;
}

}  // namespace mx::events
