// events/webhook/webhook_sink.h — WebhookSink: each event is one HTTP POST of its CloudEvents
// JSON to the configured URL (CloudEvents HTTP protocol binding v1.0.2, structured content
// mode: the body is the event, Content-Type application/cloudevents+json; charset=utf-8),
// signed as Standard Webhooks 1.0.0 says (spec/standard-webhooks.md, "Signature scheme" and
// "Webhook headers"):
//
//   webhook-id:        the event id (the message id: the idempotency key, the same on retries)
//   webhook-timestamp: Unix seconds of this attempt
//   webhook-signature: "v1," + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))
//
// The key and the signature are computed by core/webhook_signature.h (the one home of the
// scheme, shared with the edge listeners that verify it): a secret "whsec_<base64>" is
// base64-decoded to the key bytes, any other secret is used as it is; a key shorter than the
// spec's 24 bytes is refused at open().
//
// Outcomes (classifyWebhookStatus, the one table; Standard Webhooks "Delivery success and
// failure", RFC 9110 15):
//   2xx                                   delivered
//   408, 409, 425, 429, 5xx; timeouts and transport errors; a status outside 100..599 or a
//     1xx as final answer (a broken intermediary)
//                                         kTransientBackend, with Delivery::retry_after from
//                                         a Retry-After header (retry_after.h, at most 1 h)
//   3xx (redirects are not followed: the spec asks the receiver to change its URL) and
//     every other 4xx (410 Gone included)  kPermanentBackend "webhook <origin>: HTTP 400: <body
//                                         snippet>" (at most 200 bytes, control and non-ASCII
//                                         bytes replaced)
// An error the HttpClient classifies as kPermanentBackend (a request it can never send, an
// answer over its size bound) keeps that class. Messages name the URL's origin only
// (scheme://host:port): paths and queries of webhook URLs often carry tokens.
//
// Threads: thread-safe. publish()/publishEach() block the calling thread until every request
// of the batch is answered (the HttpClient's timeout bounds that); they must not be called on
// one of the client's own threads. At most `concurrency` requests are in flight for the whole
// sink (events/in_flight_limit.h), over all concurrent calls.
// Trust: events are ours (cloud_event.h); an event id that cannot be a webhook-id (empty, with
// '.', which the spec forbids in signed ids, or with bytes outside visible ASCII) is refused
// for that event without sending it. Responses are untrusted: only the status, Retry-After and
// a bounded, sanitised body snippet are read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/webhook_signature.h"
#include "events/event_sink.h"
#include "events/in_flight_limit.h"
#include "http/client.h"

namespace mx::events {

struct WebhookSinkOptions {
  std::string url;     // https://…; http:// only with allow_plain_http
  std::string secret;  // "whsec_<base64>" or raw key bytes; never logged
  uint32_t concurrency = 8;
  Millis timeout{10000};          // each request, connect included
  const Clock* clock = nullptr;   // webhook-timestamp and Retry-After dates; null: a RealClock
  bool allow_plain_http = false;  // for a receiver on loopback or a trusted network
};

// The failure class of an HTTP status, or nullopt for a delivered event (2xx). See the table
// in the file comment.
std::optional<ErrorClass> classifyWebhookStatus(int status);

// Key and signature: core/webhook_signature.h, shared with the edge listeners that verify.
using mx::webhookKeyFromSecret;
using mx::webhookSignature;

class WebhookSink final : public EventSink {
 public:
  // Checks the options. `http` must outlive the sink. Errors: kConfig naming the setting (the
  // url, clipped, with what is wrong; the secret without its value).
  static Result<std::unique_ptr<WebhookSink>> open(http::HttpClient& http, WebhookSinkOptions options);

  // EventSink
  // ok when every event was delivered; else the first retried failure if any (the batch is
  // retried), else the first refused one.
  Status publish(std::span<const Event> batch) override;
  std::vector<Delivery> publishEach(std::span<const Event> batch) override;
  // Four rounds of `concurrency` per call: the in-flight limit keeps `concurrency` requests on
  // the wire, and one slow answer no longer holds up the next requests of the same call.
  size_t maxBatch() const override { return 4 * static_cast<size_t>(options_.concurrency); }

  // The URL's scheme://authority, as messages name it.
  const std::string& origin() const { return origin_; }

 private:
  WebhookSink(http::HttpClient& http, WebhookSinkOptions options, std::string key, std::string origin);
  http::Request requestFor(const Event& event) const;

  http::HttpClient& http_;
  const WebhookSinkOptions options_;
  RealClock real_clock_;
  const Clock& clock_;
  const std::string key_;
  const std::string origin_;
  InFlightLimit limit_;
};

}  // namespace mx::events
