// pipeline/message_handler.cc — see message_handler.h.
#include "pipeline/message_handler.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <climits>
#include <exception>
#include <optional>

#include "core/sha256.h"
#include "events/cloud_event.h"

namespace mx::pipeline {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string localHostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

MessageHandler::MessageHandler(store::BlobStore& store, MessageProcessor* processor, MessageHandlerOptions options,
                               PipelineMetrics& metrics)
    : store_(store),
      processor_(processor),
      options_(std::move(options)),
      metrics_(metrics),
      layout_(options_.key_prefix) {
  if (options_.hostname.empty()) options_.hostname = localHostname();
}

Status MessageHandler::put(const std::string& key, std::string_view bytes, std::string_view what) {
  Status s = store_.putUnsynced(key, bytes);
  if (!s.ok()) {
    return Error(s.error().errorClass(), "store " + std::string(what) + " " + key + ": " + s.error().message());
  }
  PipelineMetrics::bump(metrics_.objects_stored);
  return s;
}

Result<events::Event> MessageHandler::handle(std::string_view raw, const Envelope& env, const HandleOptions& options) {
  const MessageKeys keys = MessageKeys::of(layout_, env);
  events::MessageReceived m;
  m.envelope = &env;
  m.hostname = options_.hostname;
  m.tenant = keys.tenant;
  m.size = raw.size();
  m.raw_key = keys.raw;
  m.traceparent = options.traceparent;
  m.receipt = options.receipt;

  auto store_t0 = SteadyClock::now();
  if (!options.raw_already_stored) {
    if (auto s = put(keys.raw, raw, "raw message"); !s.ok()) return s.error();
    PipelineMetrics::bump(metrics_.raw_bytes_stored, raw.size());
  }
  auto store_time = SteadyClock::now() - store_t0;
  m.sha256 = sha256Hex(raw);

  if (processor_ != nullptr) {
    std::optional<Result<ProcessedMessage>> result;
    auto parse_t0 = SteadyClock::now();
    try {
      result.emplace(processor_->process(raw, env, keys, m.sha256));
    } catch (const std::exception& e) {
      result.emplace(Error(ErrorClass::kPermanentBackend, std::string("processor threw: ") + e.what()));
    } catch (...) {
      result.emplace(Error(ErrorClass::kPermanentBackend, "processor threw"));
    }
    metrics_.parse_seconds.observe(SteadyClock::now() - parse_t0);
    if (!result->ok()) {
      // Parsing never aborts the message: keep the raw object, publish without a summary.
      PipelineMetrics::bump(metrics_.processor_errors);
      std::string line = "pipeline: processor failed on " + env.id.toString() + ": " + (*result).error().message() +
                         "; raw message stored, event without summary";
      if (options_.log) {
        options_.log(line);
      } else {
        std::fprintf(stderr, "%s\n", line.c_str());
      }
    } else {
      ProcessedMessage& p = (*result).value();
      store_t0 = SteadyClock::now();
      if (p.parsed_json) {
        if (auto s = put(keys.parsed, *p.parsed_json, "parsed document"); !s.ok()) return s.error();
        m.parsed_key = keys.parsed;
      }
      m.attachment_keys.reserve(p.attachments.size());
      for (size_t i = 0; i < p.attachments.size(); ++i) {
        Attachment& a = p.attachments[i];
        if (a.key.empty()) a.key = keys.attachment(i + 1, a.filename);
        if (auto s = put(a.key, a.bytes(), "attachment"); !s.ok()) return s.error();
        PipelineMetrics::bump(metrics_.attachments_stored);
        m.attachment_keys.push_back(std::move(a.key));
      }
      m.summary_json = std::move(p.summary_json);
      store_time += SteadyClock::now() - store_t0;
    }
  }
  metrics_.store_seconds.observe(store_time);
  return events::makeMessageReceivedEvent(m);
}

Status MessageHandler::syncObjects() {
  auto t0 = SteadyClock::now();
  Status s = store_.sync();
  metrics_.store_sync_seconds.observe(SteadyClock::now() - t0);
  return s;
}

}  // namespace mx::pipeline
