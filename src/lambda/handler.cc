// lambda/handler.cc — see handler.h.
#include "lambda/handler.h"

#include <cstdio>
#include <unordered_set>

#include "core/json_writer.h"
#include "events/retry.h"
#include "lambda/xray_trace.h"

namespace mx::lambda {

struct Handler::RecordResult {
  Status status = okStatus();
  size_t messages = 0;  // tenants' copies handled
  uint64_t bytes = 0;
};

namespace {

std::string_view sourceName(LambdaEventSource s) {
  switch (s) {
    case LambdaEventSource::kS3:
      return "s3";
    case LambdaEventSource::kSqs:
      return "sqs";
    case LambdaEventSource::kSes:
      return "ses";
  }
  return "s3";
}

bool retryable(const Error& e) { return events::dispositionOf(e.errorClass()) == events::Disposition::kRetry; }

}  // namespace

Handler::Handler(ObjectReader& reader, pipeline::MessageHandler& messages, std::vector<SinkTarget> sinks,
                 HandlerOptions options, const Clock& clock)
    : reader_(reader), messages_(messages), sinks_(std::move(sinks)), options_(std::move(options)), clock_(clock) {
  options_.source.layout = &messages_.layout();
}

void Handler::line(std::string_view text) const {
  if (options_.out) {
    options_.out(text);
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
}

void Handler::logFailure(const std::string& request_id, const RawMessageRef& ref, const Error& error) const {
  std::string out;
  JsonWriter w(out);
  w.beginObject();
  w.field("level", "error");
  w.field("msg", "message failed");
  w.field("request_id", request_id);
  w.field("source", sourceName(ref.source));
  if (!ref.record_id.empty()) w.field("record_id", ref.record_id);
  if (!ref.bucket.empty()) w.field("bucket", ref.bucket);
  if (!ref.key.empty()) w.field("key", ref.key);
  w.field("error_class", errorClassName(error.errorClass()));
  w.field("reason", error.message());
  w.field("retry", retryable(error));
  w.endObject();
  line(out);
}

Status Handler::publish(const events::Event& event, const std::string& request_id) {
  std::vector<size_t> targets;
  if (options_.route) {
    targets = options_.route(event.tenant);
  } else {
    for (size_t i = 0; i < sinks_.size(); ++i) targets.push_back(i);
  }
  for (size_t i : targets) {
    if (i >= sinks_.size()) continue;
    const SinkTarget& t = sinks_[i];
    std::vector<events::Delivery> d = t.sink->publishEach(std::span<const events::Event>(&event, 1));
    const Status s = d.empty() ? Status(Error(ErrorClass::kTransientBackend, "no outcome")) : d.front().status;
    if (s.ok()) continue;
    const std::string why = "sink " + t.name + ": " + s.error().message();
    if (retryable(s.error())) return Error(s.error().errorClass(), why);
    if (t.dead_letter == nullptr) return Error(s.error().errorClass(), why + " (refused; no dead_letter_sink)");
    if (Status dl = t.dead_letter->publish(std::span<const events::Event>(&event, 1)); !dl.ok()) {
      return Error(ErrorClass::kTransientBackend, why + "; its dead-letter sink: " + dl.error().message());
    }
    std::string out;
    JsonWriter w(out);
    w.beginObject();
    w.field("level", "warn");
    w.field("msg", "event dead-lettered");
    w.field("request_id", request_id);
    w.field("id", event.id);
    w.field("sink", t.name);
    w.field("reason", s.error().message());
    w.endObject();
    line(out);
  }
  return okStatus();
}

Handler::RecordResult Handler::processRecord(const RawMessageRef& ref, const std::string& request_id,
                                             const std::string& traceparent) {
  RecordResult r;
  auto object = reader_.read(ref);
  if (!object.ok()) {
    const Error& e = object.error();
    // A missing object will not appear by retrying (S3 is strongly consistent): for good.
    const ErrorClass c = e.errorClass() == ErrorClass::kNotFound ? ErrorClass::kPermanentBackend : e.errorClass();
    r.status = Error(c, "read s3://" + ref.bucket + "/" + ref.key + ": " + e.message());
    return r;
  }
  const std::string& raw = object->bytes;
  if (options_.max_message_size != 0 && raw.size() > options_.max_message_size) {
    r.status =
        Error(ErrorClass::kPolicy, "the object is " + std::to_string(raw.size()) + " bytes, over max_message_size " +
                                       std::to_string(options_.max_message_size));
    return r;
  }
  SourcedMessage m = sourceMessage(ref, object->info, raw, options_.source, clock_.wall());
  pipeline::HandleOptions ho;
  ho.raw_already_stored = m.raw_already_stored;
  ho.traceparent = traceparent;
  if (ref.source == LambdaEventSource::kSes) {
    const SesVerdicts& v = ref.ses_verdicts;
    ho.receipt = events::ReceiptVerdicts{"ses", v.spf, v.dkim, v.dmarc, v.spam, v.virus};
  }
  std::vector<events::Event> events;
  for (const Envelope& copy : m.copies) {
    auto ev = messages_.handle(raw, copy, ho);
    if (!ev.ok()) {
      r.status = ev.error();
      return r;
    }
    events.push_back(std::move(*ev));
  }
  if (Status s = messages_.syncObjects(); !s.ok()) {
    r.status = Error(s.error().errorClass(), "store: " + s.error().message());
    return r;
  }
  for (size_t i = 0; i < events.size(); ++i) {
    if (Status s = publish(events[i], request_id); !s.ok()) {
      r.status = s;
      return r;
    }
    std::string out;
    JsonWriter w(out);
    w.beginObject();
    w.field("level", "info");
    w.field("msg", "message processed");
    w.field("request_id", request_id);
    w.field("source", sourceName(ref.source));
    if (!ref.record_id.empty()) w.field("record_id", ref.record_id);
    w.field("bucket", ref.bucket);
    w.field("key", ref.key);
    w.field("id", m.copies[i].id.toString());
    w.field("tenant", m.copies[i].tenant);
    w.field("size", static_cast<uint64_t>(raw.size()));
    w.field("raw_already_stored", m.raw_already_stored);
    w.endObject();
    line(out);
  }
  r.messages = m.copies.size();
  r.bytes = raw.size() * m.copies.size();
  return r;
}

InvocationOutcome Handler::handle(const Invocation& inv) {
  InvocationOutcome outcome;
  const MonoTime t0 = clock_.monotonic();
  uint64_t bytes = 0;
  size_t errors = 0;
  const std::string traceparent = traceparentFromXRay(inv.trace_id).value_or("");

  auto refs = parseLambdaEvent(inv.payload, options_.event);
  std::vector<std::string> failed_ids;
  std::unordered_set<std::string> failed_set;
  std::optional<Error> first_failure;
  size_t failures = 0;
  bool sqs = false;
  if (!refs.ok()) {
    ++errors;
    outcome.failure = Error(refs.error().errorClass(), refs.error().message());
    std::string out;
    JsonWriter w(out);
    w.beginObject();
    w.field("level", "error");
    w.field("msg", "invocation payload refused");
    w.field("request_id", inv.request_id);
    w.field("reason", refs.error().message());
    w.endObject();
    line(out);
  } else {
    for (const RawMessageRef& ref : *refs) sqs = sqs || ref.source == LambdaEventSource::kSqs;
    bool fifo_stopped = false;
    for (const RawMessageRef& ref : *refs) {
      // The other messages of an SQS record that already failed come back with it.
      if (!ref.record_id.empty() && failed_set.count(ref.record_id) != 0) continue;
      Status s = okStatus();
      if (fifo_stopped && ref.fifo) {
        // FIFO: a record after a failed one is not processed (that would break the group's
        // order); it is reported failed too and comes back after the one that failed.
        s = Error(ErrorClass::kTransientBackend, "not started: an earlier record of this FIFO batch failed");
      } else if (ref.failed()) {
        s = Error(ErrorClass::kProtocol, ref.error);
      } else if (inv.deadline_ms > 0 &&
                 unixMillis(clock_.wall()) + options_.deadline_margin.count() > inv.deadline_ms) {
        s = Error(ErrorClass::kTransientBackend, "not started: the invocation's deadline is near");
      } else {
        RecordResult r = processRecord(ref, inv.request_id, traceparent);
        s = r.status;
        outcome.messages += r.messages;
        bytes += r.bytes;
      }
      if (s.ok()) continue;
      if (ref.fifo) fifo_stopped = true;
      ++errors;
      ++failures;
      logFailure(inv.request_id, ref, s.error());
      if (!first_failure) first_failure = s.error();
      if (!ref.record_id.empty() && failed_set.insert(ref.record_id).second) failed_ids.push_back(ref.record_id);
    }
    if (sqs) {
      outcome.failed_records = failed_ids.size();
      std::string out;
      JsonWriter w(out);
      w.beginObject();
      w.key("batchItemFailures").beginArray();
      for (const auto& id : failed_ids) {
        w.beginObject();
        w.field("itemIdentifier", id);
        w.endObject();
      }
      w.endArray();
      w.endObject();
      outcome.response = std::move(out);
    } else if (first_failure) {
      outcome.failed_records = failures;
      outcome.failure =
          Error(first_failure->errorClass(), std::to_string(failures) + " of " + std::to_string(refs->size()) +
                                                 " messages failed; first: " + first_failure->message());
    } else {
      std::string out;
      JsonWriter w(out);
      w.beginObject();
      w.field("disposition", "CONTINUE");
      w.field("messages", static_cast<uint64_t>(outcome.messages));
      w.endObject();
      outcome.response = std::move(out);
    }
  }

  // CloudWatch Embedded Metric Format: one line, read by CloudWatch Logs without an agent.
  const double ms = std::chrono::duration<double, std::milli>(clock_.monotonic() - t0).count();
  std::string emf;
  JsonWriter w(emf);
  w.beginObject();
  w.key("_aws").beginObject();
  w.field("Timestamp", static_cast<int64_t>(unixMillis(clock_.wall())));
  w.key("CloudWatchMetrics").beginArray().beginObject();
  w.field("Namespace", "mxgate");
  w.key("Dimensions").beginArray().beginArray().value("FunctionName").endArray().endArray();
  w.key("Metrics").beginArray();
  for (auto [name, unit] : {std::pair{"Messages", "Count"},
                            {"Bytes", "Bytes"},
                            {"ProcessingTime", "Milliseconds"},
                            {"Errors", "Count"},
                            {"FailedRecords", "Count"}}) {
    w.beginObject().field("Name", name).field("Unit", unit).endObject();
  }
  w.endArray().endObject().endArray().endObject();
  w.field("FunctionName", options_.function_name);
  w.field("Messages", static_cast<uint64_t>(outcome.messages));
  w.field("Bytes", bytes);
  w.field("ProcessingTime", ms);
  w.field("Errors", static_cast<uint64_t>(errors));
  w.field("FailedRecords", static_cast<uint64_t>(outcome.failed_records));
  w.field("request_id", inv.request_id);
  w.endObject();
  line(emf);
  return outcome;
}

}  // namespace mx::lambda
