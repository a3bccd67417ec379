// pipeline/pipeline.cc — see pipeline.h.
#include "pipeline/pipeline.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "core/sha256.h"

namespace mx::pipeline {
namespace {

std::string localHostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

Pipeline::Pipeline(std::unique_ptr<spool::Reader> reader, store::BlobStore& store, events::EventSink& sink,
                   MessageProcessor* processor, PipelineOptions options)
    : reader_(std::move(reader)),
      store_(store),
      sink_(sink),
      processor_(processor),
      options_(std::move(options)),
      keys_(options_.key_prefix) {
  if (options_.hostname.empty()) options_.hostname = localHostname();
  if (options_.batch_max == 0) options_.batch_max = 1;
  events_.reserve(options_.batch_max);
}

Pipeline::~Pipeline() { stop(); }

void Pipeline::start() {
  thread_ = std::thread([this] {
    if (options_.sched_idle) {
      sched_param param{};
      if (int err = pthread_setschedparam(pthread_self(), SCHED_IDLE, &param); err != 0) {
        log(std::string("pipeline: SCHED_IDLE refused: ") + std::strerror(err));
      }
    } else if (options_.nice != 0) {
      // Linux: the nice value is per thread; PRIO_PROCESS with a thread id sets just it.
      errno = 0;
      int current = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
      if (errno == 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), current + options_.nice);
    }
    if (auto s = run(false); !s.ok()) log("pipeline: stopped with work left: " + s.error().message());
  });
}

void Pipeline::stop() {
  {
    std::lock_guard l(sleep_mu_);
    stop_.store(true);
  }
  sleep_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Pipeline::runUntilIdle() {
  drain_only_ = true;
  Status s = run(true);
  drain_only_ = false;
  return s;
}

PipelineCounters Pipeline::counters() const {
  PipelineCounters c;
  c.processed = processed_.load(std::memory_order_relaxed);
  c.failures = failures_.load(std::memory_order_relaxed);
  c.batches = batches_.load(std::memory_order_relaxed);
  c.bytes = bytes_.load(std::memory_order_relaxed);
  c.attachments = attachments_.load(std::memory_order_relaxed);
  c.processor_errors = processor_errors_.load(std::memory_order_relaxed);
  return c;
}

void Pipeline::log(std::string_view line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }
}

void Pipeline::sleepFor(Millis d) {
  std::unique_lock l(sleep_mu_);
  sleep_cv_.wait_for(l, d, [&] { return stop_.load(); });
}

template <typename F>
Status Pipeline::retrying(std::string_view what, F&& attempt) {
  Millis delay = options_.retry_initial;
  for (;;) {
    Status s = attempt();
    if (s.ok()) return s;
    failures_.fetch_add(1, std::memory_order_relaxed);
    log("pipeline: " + std::string(what) + " failed: " + s.error().message());
    // While draining, give up: the record stays unprocessed (not checkpointed) and the
    // next start picks it up. Otherwise never drop it: wait and try again.
    if (stopping()) return s;
    sleepFor(delay);
    delay = std::min(delay * 2, options_.retry_max);
  }
}

Status Pipeline::processRecord(const spool::Record& record) {
  const Envelope& env = record.envelope;
  events::MessageReceived m;
  m.envelope = &env;
  m.hostname = options_.hostname;
  m.tenant = store::sanitizeTenant(env.tenant);
  m.size = record.body.size();
  m.raw_key = keys_.raw(m.tenant, env.received_at, env.id);
  if (auto s = retrying("store " + m.raw_key, [&] { return store_.putUnsynced(m.raw_key, record.body); }); !s.ok()) {
    return s;
  }
  bytes_.fetch_add(record.body.size(), std::memory_order_relaxed);
  m.sha256 = sha256Hex(record.body);

  if (processor_ != nullptr) {
    std::optional<Result<ProcessedMessage>> result;
    try {
      result.emplace(processor_->process(record.body, env, m.sha256));
    } catch (const std::exception& e) {
      result.emplace(Error(ErrorClass::kPermanentBackend, std::string("processor threw: ") + e.what()));
    } catch (...) {
      result.emplace(Error(ErrorClass::kPermanentBackend, "processor threw"));
    }
    if (!result->ok()) {
      processor_errors_.fetch_add(1, std::memory_order_relaxed);
      log("pipeline: processor failed on " + env.id.toString() + ": " + (*result).error().message());
    } else {
      ProcessedMessage& p = (*result).value();
      if (p.parsed_json) {
        std::string key = keys_.parsed(m.tenant, env.received_at, env.id);
        if (auto s = retrying("store " + key, [&] { return store_.putUnsynced(key, *p.parsed_json); }); !s.ok()) {
          return s;
        }
        m.parsed_key = std::move(key);
      }
      for (size_t i = 0; i < p.attachments.size(); ++i) {
        const Attachment& a = p.attachments[i];
        std::string key = keys_.attachment(m.tenant, env.id, i + 1, a.filename);
        if (auto s = retrying("store " + key, [&] { return store_.putUnsynced(key, a.bytes()); }); !s.ok()) {
          return s;
        }
        attachments_.fetch_add(1, std::memory_order_relaxed);
        m.attachment_keys.push_back(std::move(key));
      }
      m.summary_json = std::move(p.summary_json);
    }
  }
  events_.push_back(events::makeMessageReceivedEvent(m));
  // The reader's checkpoint needs only the record's identity (lane, sequence).
  last_.lane = record.lane;
  last_.sequence = record.sequence;
  return okStatus();
}

Status Pipeline::flush() {
  if (events_.empty()) return okStatus();
  // The batch's objects first: an event must never name an object that could still be lost.
  if (auto s = store_.sync(); !s.ok()) {
    // The objects may all be gone, and the records' bytes with them (the reader's views
    // are only valid one record at a time): forget the batch and read it again.
    failures_.fetch_add(1, std::memory_order_relaxed);
    log("pipeline: store sync failed: " + s.error().message() + "; processing the batch again");
    events_.clear();
    reader_->rewind();
    if (stopping()) return s;
    sync_backoff_ = std::min(std::max(sync_backoff_ * 2, options_.retry_initial), options_.retry_max);
    sleepFor(sync_backoff_);
    return okStatus();
  }
  sync_backoff_ = Millis(0);
  if (auto s = retrying("publish events", [&] { return sink_.publish(events_); }); !s.ok()) return s;
  if (auto s = retrying("checkpoint", [&] { return reader_->checkpoint(last_); }); !s.ok()) return s;
  processed_.fetch_add(events_.size(), std::memory_order_relaxed);
  batches_.fetch_add(1, std::memory_order_relaxed);
  events_.clear();
  return okStatus();
}

Status Pipeline::run(bool drain_only) {
  for (;;) {
    const bool draining = drain_only || stop_.load();
    // With events pending, only look for records already durable, then publish.
    Millis wait = (!events_.empty() || draining) ? Millis(0) : options_.idle_wait;
    auto next = reader_->next(wait);
    if (!next.ok()) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      log("pipeline: reading the spool failed: " + next.error().message());
      if (draining) {
        (void)flush();
        return next.error();
      }
      read_backoff_ = std::min(std::max(read_backoff_ * 2, options_.retry_initial), options_.retry_max);
      sleepFor(read_backoff_);
      continue;
    }
    read_backoff_ = Millis(0);
    if (!*next) {
      if (auto s = flush(); !s.ok()) return s;
      if (draining) return okStatus();
      continue;
    }
    if (auto s = processRecord(**next); !s.ok()) {
      // Only while draining: keep what is complete, leave this record for the next start.
      (void)flush();
      return s;
    }
    if (events_.size() >= options_.batch_max) {
      if (auto s = flush(); !s.ok()) return s;
    }
  }
}

}  // namespace mx::pipeline
