// events/sqs/sqs_sink.cc — see sqs_sink.h.
#include "events/sqs/sqs_sink.h"

#include <unordered_map>
#include <utility>

#include "core/json_writer.h"
#include "core/sha256.h"
#include "events/retry.h"
#include "events/sqs/sqs_response.h"

namespace mx::events {
namespace {

constexpr size_t kShownUrlBytes = 200;
constexpr std::string_view kStringType = "String";

Error config(std::string message) { return Error(ErrorClass::kConfig, "sqs sink: " + std::move(message)); }

// MessageGroupId / MessageDeduplicationId: 1..128 of alphanumerics and punctuation
// (SendMessageBatchRequestEntry); otherwise a stable stand-in (see sqs_sink.h).
std::string fifoToken(std::string_view value) {
  bool ok = !value.empty() && value.size() <= 128;
  for (char c : value) ok = ok && c > 0x20 && c < 0x7F;
  if (ok) return std::string(value);
  return "h-" + sha256Hex(value).substr(0, 40);
}

}  // namespace

std::optional<std::string> sqsRegionFromHost(std::string_view host) {
  auto label = [](std::string_view r) {
    if (r.empty() || r.size() > 32) return false;
    for (char c : r) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return true;
  };
  for (std::string_view suffix : {".amazonaws.com", ".amazonaws.com.cn"}) {
    if (!host.ends_with(suffix)) continue;
    std::string_view rest = host.substr(0, host.size() - suffix.size());
    if (rest.starts_with("sqs.") && label(rest.substr(4))) return std::string(rest.substr(4));
    if (rest.ends_with(".queue") && label(rest.substr(0, rest.size() - 6))) {
      return std::string(rest.substr(0, rest.size() - 6));
    }
  }
  return std::nullopt;
}

size_t sqsMessageSize(const Event& event) {
  size_t n = event.json.size();
  if (!event.type.empty()) n += 4 + kStringType.size() + event.type.size();
  if (!event.tenant.empty()) n += 6 + kStringType.size() + event.tenant.size();
  return n;
}

Result<std::unique_ptr<SqsSink>> SqsSink::open(http::HttpClient& http, aws::CredentialsProvider& credentials,
                                               SqsSinkOptions options) {
  const std::string shown = "queue_url \"" + options.queue_url.substr(0, kShownUrlBytes) + "\"";
  Result<http::Url> url = http::parseUrl(options.queue_url);
  if (!url.ok()) return config(shown + ": " + url.error().message());
  std::string_view path = url->target;
  if (path.find_first_of("?#") != std::string_view::npos) return config(shown + ": has a query");
  while (path.ends_with("/")) path.remove_suffix(1);
  const std::string_view name = path.substr(path.rfind('/') + 1);
  if (path.size() <= 1 || name.empty()) return config(shown + ": no /<account>/<queue> path");
  std::string region = options.region;
  if (region.empty()) {
    std::optional<std::string> from_host = sqsRegionFromHost(url->host);
    if (!from_host) {
      return config(shown + ": the region cannot be read from host \"" + url->host +
                    "\" (not sqs.<region>.amazonaws.com): set region");
    }
    region = std::move(*from_host);
  }
  if (options.concurrency == 0) return config("concurrency must be at least 1");
  if (options.timeout <= Millis(0)) return config("timeout must be positive");
  std::string endpoint = url->scheme + "://" + url->authority() + "/";
  const bool fifo = name.ends_with(".fifo");
  return std::unique_ptr<SqsSink>(
      new SqsSink(http, credentials, std::move(options), std::move(region), std::move(endpoint), fifo));
}

SqsSink::SqsSink(http::HttpClient& http, aws::CredentialsProvider& credentials, SqsSinkOptions options,
                 std::string region, std::string endpoint, bool fifo)
    : http_(http),
      credentials_(credentials),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : real_clock_),
      region_(std::move(region)),
      endpoint_(std::move(endpoint)),
      fifo_(fifo),
      signer_(aws::SignerOptions{region_, "sqs", false}),
      limit_(options_.concurrency) {}

std::string SqsSink::requestBody(std::span<const Event> batch, const std::vector<size_t>& indices) const {
  std::string out;
  JsonWriter w(out);
  w.beginObject().field("QueueUrl", options_.queue_url).key("Entries").beginArray();
  for (size_t i : indices) {
    const Event& e = batch[i];
    w.beginObject().field("Id", std::to_string(i)).field("MessageBody", e.json);
    if (!e.type.empty() || !e.tenant.empty()) {
      w.key("MessageAttributes").beginObject();
      if (!e.type.empty()) {
        w.key("type").beginObject().field("DataType", kStringType).field("StringValue", e.type).endObject();
      }
      if (!e.tenant.empty()) {
        w.key("tenant").beginObject().field("DataType", kStringType).field("StringValue", e.tenant).endObject();
      }
      w.endObject();
    }
    if (fifo_) w.field("MessageGroupId", fifoToken(e.tenant)).field("MessageDeduplicationId", fifoToken(e.id));
    w.endObject();
  }
  w.endArray().endObject();
  return out;
}

std::vector<Delivery> SqsSink::publishEach(std::span<const Event> batch) {
  auto pending = std::make_shared<PendingDeliveries>(batch.size());
  std::vector<std::shared_ptr<const Chunk>> chunks;
  std::vector<size_t> indices;
  size_t payload = 0;
  auto close = [&] {
    if (indices.empty()) return;
    auto c = std::make_shared<Chunk>();
    c->body = requestBody(batch, indices);
    c->indices = std::move(indices);
    chunks.push_back(std::move(c));
    indices.clear();
    payload = 0;
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    const size_t size = sqsMessageSize(batch[i]);
    if (size > kSqsMaxPayload) {
      pending->set(i, Delivery{Error(ErrorClass::kPermanentBackend,
                                     "sqs " + options_.queue_url + ": event " + std::to_string(i) + " is " +
                                         std::to_string(size) + " bytes, over SQS's 262144-byte message limit"),
                               Millis(0)});
      continue;
    }
    if (indices.size() == kSqsMaxEntries || payload + size > kSqsMaxPayload) close();
    indices.push_back(i);
    payload += size;
  }
  close();
  for (const auto& c : chunks) {
    limit_.submit([this, c, pending] { send(c, pending); });
  }
  return pending->wait();
}

void SqsSink::send(const std::shared_ptr<const Chunk>& chunk, const std::shared_ptr<PendingDeliveries>& pending) {
  credentials_.get([this, chunk, pending](Result<aws::Credentials> creds) {
    if (!creds.ok()) {
      onAnswer(*chunk, *pending, Error(creds.error().errorClass(), "credentials: " + creds.error().message()));
      return;
    }
    http::Request req;
    req.method = "POST";
    req.url = endpoint_;
    req.timeout = options_.timeout;
    req.headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "AmazonSQS.SendMessageBatch"}};
    req.body = chunk->body;
    signer_.sign(req, *creds, clock_.wall());
    http_.send(std::move(req),
               [this, chunk, pending](Result<http::Response> r) { onAnswer(*chunk, *pending, std::move(r)); });
  });
}

void SqsSink::onAnswer(const Chunk& chunk, PendingDeliveries& pending, Result<http::Response> r) {
  const std::string prefix = "sqs SendMessageBatch " + options_.queue_url + ": ";
  std::optional<Error> all;  // one outcome for every entry of the request
  std::vector<SqsEntryResult> entries;
  if (!r.ok()) {
    all.emplace(r.error().errorClass(), prefix + r.error().message());
  } else if (r->status < 200 || r->status > 299) {
    SqsError e = parseSqsError(r->body, r->header("x-amzn-query-error"));
    std::string text = prefix + "HTTP " + std::to_string(r->status);
    if (!e.code.empty()) text += " " + e.code;
    if (!e.message.empty()) text += ": " + e.message;
    all.emplace(sqsErrorClass(r->status, e.code), std::move(text));
  } else {
    Result<std::vector<SqsEntryResult>> parsed = parseSendMessageBatchResponse(r->body);
    if (!parsed.ok()) {
      all.emplace(parsed.error().errorClass(), prefix + parsed.error().message());
    } else {
      entries = std::move(*parsed);
    }
  }
  // Settle the slot first: the last set() below may let the caller return.
  limit_.release();
  if (all) {
    for (size_t i : chunk.indices) pending.set(i, Delivery{*all, Millis(0)});
    return;
  }
  std::unordered_map<std::string, const SqsEntryResult*> by_id;
  for (const SqsEntryResult& e : entries) by_id.emplace(e.id, &e);
  for (size_t i : chunk.indices) {
    auto it = by_id.find(std::to_string(i));
    Delivery d;
    if (it == by_id.end()) {
      d.status = Error(ErrorClass::kTransientBackend, prefix + "entry " + std::to_string(i) + ": not in the answer");
    } else if (!it->second->ok) {
      const SqsEntryResult& e = *it->second;
      d.status = Error(sqsEntryErrorClass(e.sender_fault),
                       prefix + "entry " + std::to_string(i) + " failed: " + (e.code.empty() ? "(no code)" : e.code) +
                           (e.message.empty() ? "" : ": " + e.message) + (e.sender_fault ? " (sender fault)" : ""));
    }
    pending.set(i, std::move(d));
  }
}

Status SqsSink::publish(std::span<const Event> batch) { return combinedStatus(publishEach(batch)); }

}  // namespace mx::events
