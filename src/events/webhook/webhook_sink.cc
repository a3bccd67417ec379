// events/webhook/webhook_sink.cc — see webhook_sink.h.
#include "events/webhook/webhook_sink.h"

#include <chrono>
#include <utility>

#include "core/webhook_signature.h"
#include "events/retry.h"
#include "events/webhook/retry_after.h"

#ifndef MXGATE_VERSION
#define MXGATE_VERSION "dev"
#endif

namespace mx::events {
namespace {

constexpr size_t kSnippetBytes = 200;
constexpr size_t kShownUrlBytes = 200;

Error config(std::string message) { return Error(ErrorClass::kConfig, "webhook sink: " + std::move(message)); }

// At most `max` bytes of untrusted text for a log line: printable ASCII kept, runs of anything
// else (controls, CR/LF, non-ASCII) as one '?'.
std::string snippet(std::string_view body, size_t max) {
  std::string out;
  bool replaced = false;
  for (char c : body.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) {
      out += c;
      replaced = false;
    } else if (!replaced) {
      out += '?';
      replaced = true;
    }
  }
  if (body.size() > max) out += "...";
  return out;
}

// A webhook-id must be signable as the spec says (no '.') and fit in a header.
bool validWebhookId(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7F || c == '.') return false;
  }
  return true;
}

}  // namespace

std::optional<ErrorClass> classifyWebhookStatus(int status) {
  if (status >= 200 && status <= 299) return std::nullopt;
  switch (status) {
    case 408:  // Request Timeout: the receiver gave up waiting for our bytes
    case 409:  // Conflict: commonly "this id is being processed", resolves itself
    case 425:  // Too Early (RFC 8470)
    case 429:  // Too Many Requests: throttle, honour Retry-After
      return ErrorClass::kTransientBackend;
    default:
      break;
  }
  if (status >= 500 && status <= 599) return ErrorClass::kTransientBackend;
  if (status >= 300 && status <= 499) return ErrorClass::kPermanentBackend;
  // 1xx as a final answer, or not a status code at all: a broken hop that may heal.
  return ErrorClass::kTransientBackend;
}

Result<std::unique_ptr<WebhookSink>> WebhookSink::open(http::HttpClient& http, WebhookSinkOptions options) {
  const std::string shown = "url \"" + options.url.substr(0, kShownUrlBytes) + "\"";
  Result<http::Url> url = http::parseUrl(options.url);
  if (!url.ok()) return config(shown + ": " + url.error().message());
  if (!url->tls() && !options.allow_plain_http) {
    return config(shown + ": not https (set allow_plain_http for a receiver on a trusted network)");
  }
  if (options.concurrency == 0) return config("concurrency must be at least 1");
  if (options.timeout <= Millis(0)) return config("timeout must be positive");
  Result<std::string> key = webhookKeyFromSecret(options.secret);
  if (!key.ok()) return config(key.error().message());
  std::string origin = url->scheme + "://" + url->authority();
  return std::unique_ptr<WebhookSink>(new WebhookSink(http, std::move(options), std::move(*key), std::move(origin)));
}

WebhookSink::WebhookSink(http::HttpClient& http, WebhookSinkOptions options, std::string key, std::string origin)
    : http_(http),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : real_clock_),
      key_(std::move(key)),
      origin_(std::move(origin)),
      limit_(options_.concurrency) {}

http::Request WebhookSink::requestFor(const Event& event) const {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(clock_.wall().time_since_epoch()).count();
  http::Request req;
  req.method = "POST";
  req.url = options_.url;
  req.timeout = options_.timeout;
  req.headers = {{"Content-Type", "application/cloudevents+json; charset=utf-8"},
                 {"User-Agent", "mxgate/" MXGATE_VERSION " (webhook)"},
                 {"webhook-id", event.id},
                 {"webhook-timestamp", std::to_string(now)},
                 {"webhook-signature", webhookSignature(key_, event.id, now, event.json)}};
  req.body = event.json;
  return req;
}

std::vector<Delivery> WebhookSink::publishEach(std::span<const Event> batch) {
  auto pending = std::make_shared<PendingDeliveries>(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const Event& event = batch[i];
    if (!validWebhookId(event.id)) {
      pending->set(i, Delivery{Error(ErrorClass::kPermanentBackend,
                                     "webhook " + origin_ + ": event id \"" + snippet(event.id, 64) +
                                         "\" cannot be a webhook-id (empty, '.', or not visible ASCII)"),
                               Millis(0)});
      continue;
    }
    // Signed when it leaves the queue, so webhook-timestamp is the attempt's time.
    limit_.submit([this, pending, i, &event] {
      http_.send(requestFor(event), [this, pending, i](Result<http::Response> r) {
        Delivery d;
        if (!r.ok()) {
          d.status = Error(r.error().errorClass(), "webhook " + origin_ + ": " + r.error().message());
        } else if (std::optional<ErrorClass> cls = classifyWebhookStatus(r->status)) {
          std::string message = "webhook " + origin_ + ": HTTP " + std::to_string(r->status);
          if (!r->body.empty()) message += ": " + snippet(r->body, kSnippetBytes);
          d.status = Error(*cls, std::move(message));
          const std::string* retry_after = r->header("retry-after");
          if (*cls == ErrorClass::kTransientBackend && retry_after != nullptr) {
            d.retry_after = parseRetryAfter(*retry_after, clock_.wall()).value_or(Millis(0));
          }
        }
        limit_.release();
        pending->set(i, std::move(d));
      });
    });
  }
  // `event` references above stay valid: every task has run (sent) before the last callback,
  // and wait() returns only after the last callback.
  return pending->wait();
}

Status WebhookSink::publish(std::span<const Event> batch) { return combinedStatus(publishEach(batch)); }

}  // namespace mx::events
