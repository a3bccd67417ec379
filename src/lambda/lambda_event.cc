// lambda/lambda_event.cc — the Lambda invocation payload parser (see lambda_event.h for the
// shapes and the trust statement). nlohmann-json parses with exceptions off; every value is
// type-checked before it is read, since get<>() on the wrong type would throw.
#include "lambda/lambda_event.h"

#include <nlohmann/json.hpp>

namespace mx::lambda {
namespace {

using nlohmann::json;

constexpr size_t kMaxField = 4096;      // eTag, versionId, verdicts, SQS messageId, SES source
constexpr size_t kMaxBucketName = 255;  // S3 allows 63; legacy us-east-1 names up to 255
constexpr size_t kMaxSesMessageId = 256;
constexpr size_t kMaxDestinations = 1000;

Error shape(std::string what) { return Error(ErrorClass::kProtocol, "lambda event: " + std::move(what)); }
Error tooBig(std::string what) { return Error(ErrorClass::kResource, "lambda event: " + std::move(what)); }

const json* member(const json& obj, const char* name) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

// A string member, or nullptr when absent or not a string.
const std::string* stringMember(const json& obj, const char* name) {
  const json* v = member(obj, name);
  if (v == nullptr || !v->is_string()) return nullptr;
  return &v->get_ref<const std::string&>();
}

// An optional string member of bounded size: absent is fine, another type or size is not.
bool optionalString(const json& obj, const char* name, std::string& out) {
  const json* v = member(obj, name);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string()) return false;
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > kMaxField) return false;
  out = s;
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// S3 bucket names: letters, digits, '.', '-', and '_' (legacy names).
bool validBucket(std::string_view b) {
  if (b.empty() || b.size() > kMaxBucketName) return false;
  for (char c : b) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// SES message ids are letters, digits and '-'; they become part of an object key.
bool validSesMessageId(std::string_view id) {
  if (id.empty() || id.size() > kMaxSesMessageId) return false;
  for (char c : id) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return id != "." && id != "..";
}

bool isTestEvent(const json& j) {
  const std::string* ev = stringMember(j, "Event");
  return ev != nullptr && *ev == "s3:TestEvent";
}

// The "Records" array of an event, checked against the overall bound.
Result<const json*> recordsOf(const json& j, size_t already) {
  const json* records = member(j, "Records");
  if (records == nullptr || !records->is_array()) return shape("no Records array");
  if (records->size() > kMaxLambdaRecords || already + records->size() > kMaxLambdaRecords) {
    return tooBig("more than 10000 records");
  }
  return records;
}

// One S3 event-notification record; appends to out unless it is not an ObjectCreated event.
Status parseS3Record(const json& rec, size_t index, std::string_view record_id, LambdaEventSource source,
                     std::vector<RawMessageRef>& out) {
  const std::string where = "S3 record " + std::to_string(index) + ": ";
  if (!rec.is_object()) return shape(where + "not an object");
  const std::string* event_source = stringMember(rec, "eventSource");
  if (event_source == nullptr || *event_source != "aws:s3") return shape(where + "eventSource is not aws:s3");
  const std::string* event_name = stringMember(rec, "eventName");
  if (event_name == nullptr) return shape(where + "no eventName");
  if (!event_name->starts_with("ObjectCreated:")) return okStatus();

  const json* s3 = member(rec, "s3");
  const json* bucket = s3 != nullptr ? member(*s3, "bucket") : nullptr;
  const json* object = s3 != nullptr ? member(*s3, "object") : nullptr;
  if (bucket == nullptr || object == nullptr) return shape(where + "no s3.bucket or s3.object");
  const std::string* name = stringMember(*bucket, "name");
  if (name == nullptr || !validBucket(*name)) return shape(where + "s3.bucket.name missing or malformed");
  const std::string* raw_key = stringMember(*object, "key");
  if (raw_key == nullptr) return shape(where + "no s3.object.key");
  std::optional<std::string> key = decodeS3EventKey(*raw_key);
  if (!key || key->empty() || key->size() > kMaxS3KeyBytes) {
    return shape(where + "s3.object.key malformed, empty or too long");
  }

  RawMessageRef m;
  m.source = source;
  m.bucket = *name;
  m.key = std::move(*key);
  m.record_id = std::string(record_id);
  if (const json* size = member(*object, "size"); size != nullptr && !size->is_null()) {
    if (!size->is_number_unsigned() && !(size->is_number_integer() && size->get<int64_t>() >= 0)) {
      return shape(where + "s3.object.size is not a non-negative integer");
    }
    m.size = size->is_number_unsigned() ? size->get<uint64_t>() : static_cast<uint64_t>(size->get<int64_t>());
  }
  if (!optionalString(*object, "eTag", m.etag) || !optionalString(*object, "versionId", m.version_id)) {
    return shape(where + "s3.object.eTag or versionId malformed");
  }
  out.push_back(std::move(m));
  return okStatus();
}

// An S3 event notification (whole document): its ObjectCreated records, or none for a TestEvent.
Status parseS3Event(const json& j, std::string_view record_id, LambdaEventSource source,
                    std::vector<RawMessageRef>& out) {
  if (isTestEvent(j)) return okStatus();
  Result<const json*> records = recordsOf(j, out.size());
  if (!records) return records.error();
  size_t index = 0;
  for (const json& rec : **records) {
    Status s = parseS3Record(rec, index++, record_id, source, out);
    if (!s) return s;
  }
  return okStatus();
}

// An SQS body: an S3 event, or an SNS envelope whose Message is one.
Status parseSqsBody(const std::string& body, std::string_view record_id, std::vector<RawMessageRef>& out) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return shape("body is not a JSON object");
  if (const std::string* type = stringMember(j, "Type"); type != nullptr) {
    if (*type != "Notification") return shape("SNS message is not a Notification");
    const std::string* message = stringMember(j, "Message");
    if (message == nullptr) return shape("SNS Notification has no Message");
    j = json::parse(*message, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return shape("SNS Message is not a JSON object");
  }
  return parseS3Event(j, record_id, LambdaEventSource::kSqs, out);
}

std::string verdict(const json& receipt, const char* name) {
  const json* v = member(receipt, name);
  const std::string* status = v != nullptr ? stringMember(*v, "status") : nullptr;
  if (status == nullptr || status->size() > kMaxField) return {};
  return *status;
}

Status parseSesRecord(const json& rec, size_t index, const LambdaEventOptions& options,
                      std::vector<RawMessageRef>& out) {
  const std::string where = "SES record " + std::to_string(index) + ": ";
  if (options.ses_bucket.empty()) {
    return Error(ErrorClass::kConfig, "lambda event: SES event but no SES bucket configured");
  }
  const json* ses = member(rec, "ses");
  const json* mail = ses != nullptr ? member(*ses, "mail") : nullptr;
  const json* receipt = ses != nullptr ? member(*ses, "receipt") : nullptr;
  if (mail == nullptr || !mail->is_object()) return shape(where + "no ses.mail");
  const std::string* id = stringMember(*mail, "messageId");
  if (id == nullptr || !validSesMessageId(*id)) return shape(where + "ses.mail.messageId missing or malformed");

  RawMessageRef m;
  m.source = LambdaEventSource::kSes;
  m.bucket = options.ses_bucket;
  m.key = options.ses_prefix + *id;
  if (m.key.size() > kMaxS3KeyBytes) return shape(where + "SES object key too long");
  m.ses_message_id = *id;
  if (!optionalString(*mail, "source", m.ses_source)) return shape(where + "ses.mail.source malformed");
  if (!optionalString(*mail, "timestamp", m.ses_timestamp)) return shape(where + "ses.mail.timestamp malformed");
  if (const json* dest = member(*mail, "destination"); dest != nullptr && !dest->is_null()) {
    if (!dest->is_array() || dest->size() > kMaxDestinations) return shape(where + "ses.mail.destination malformed");
    for (const json& d : *dest) {
      if (!d.is_string() || d.get_ref<const std::string&>().size() > kMaxField) {
        return shape(where + "ses.mail.destination malformed");
      }
      m.ses_destination.push_back(d.get_ref<const std::string&>());
    }
  }
  if (receipt != nullptr && receipt->is_object()) {
    m.ses_verdicts.spf = verdict(*receipt, "spfVerdict");
    m.ses_verdicts.dkim = verdict(*receipt, "dkimVerdict");
    m.ses_verdicts.dmarc = verdict(*receipt, "dmarcVerdict");
    m.ses_verdicts.spam = verdict(*receipt, "spamVerdict");
    m.ses_verdicts.virus = verdict(*receipt, "virusVerdict");
  }
  out.push_back(std::move(m));
  return okStatus();
}

}  // namespace

std::optional<std::string> decodeS3EventKey(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= encoded.size()) return std::nullopt;
      const int hi = hexValue(encoded[i + 1]);
      const int lo = hexValue(encoded[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::vector<RawMessageRef>> parseLambdaEvent(std::string_view text, const LambdaEventOptions& options) {
  if (text.size() > kMaxLambdaPayload) return tooBig("payload over 6 MiB");
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return shape("not JSON");
  if (!j.is_object()) return shape("not a JSON object");
  std::vector<RawMessageRef> out;
  if (isTestEvent(j)) return out;
  Result<const json*> records = recordsOf(j, 0);
  if (!records) return records.error();

  size_t index = 0;
  for (const json& rec : **records) {
    const size_t i = index++;
    const std::string* source = stringMember(rec, "eventSource");
    if (source == nullptr) return shape("record " + std::to_string(i) + ": no eventSource");
    if (*source == "aws:s3") {
      if (Status s = parseS3Record(rec, i, "", LambdaEventSource::kS3, out); !s) return s.error();
    } else if (*source == "aws:ses") {
      if (Status s = parseSesRecord(rec, i, options, out); !s) return s.error();
    } else if (*source == "aws:sqs") {
      const std::string* id = stringMember(rec, "messageId");
      if (id == nullptr || id->empty() || id->size() > kMaxField) {
        return shape("SQS record " + std::to_string(i) + ": messageId missing or malformed");
      }
      const std::string* body = stringMember(rec, "body");
      const size_t before = out.size();
      Status s = body != nullptr ? parseSqsBody(*body, *id, out) : Status(shape("SQS record has no body"));
      if (!s) {
        // A body that went wrong half-way (including one over the record bound) leaves
        // nothing behind but its failure entry: one poisoned record never fails the batch.
        out.resize(before);
        RawMessageRef failed;
        failed.source = LambdaEventSource::kSqs;
        failed.record_id = *id;
        failed.error = s.error().message();
        out.push_back(std::move(failed));
      }
      // A FIFO queue's records must be handled in order (lambda/handler.h).
      const std::string* arn = stringMember(rec, "eventSourceARN");
      if (arn != nullptr && arn->size() > 5 && arn->compare(arn->size() - 5, 5, ".fifo") == 0) {
        for (size_t k = before; k < out.size(); ++k) out[k].fifo = true;
      }
    } else {
      return shape("record " + std::to_string(i) + ": unsupported eventSource");
    }
    if (out.size() > kMaxLambdaRecords) return tooBig("more than 10000 records");
  }
  return out;
}

}  // namespace mx::lambda
