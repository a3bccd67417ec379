// events/outbox/outbox.cc — see outbox.h.
#include "events/outbox/outbox.h"

#include <cstdio>

#include "core/prometheus.h"

namespace mx::events {

Result<std::unique_ptr<Outbox>> Outbox::open(OutboxOptions options, std::vector<OutboxSink> sinks) {
  std::unique_ptr<Outbox> o(new Outbox(std::move(options)));
  const Clock& clock = o->options_.clock ? *o->options_.clock : o->real_clock_;
  auto log = [raw = o.get()](std::string_view l) { raw->log(l); };
  for (auto& cfg : sinks) {
    if (cfg.sink == nullptr) return Error(ErrorClass::kConfig, "outbox: sink " + cfg.name + " has no backend");
    auto p = std::make_unique<PerSink>();
    const std::string base = o->options_.dir + "/" + cfg.name;
    auto q = SinkQueue::open(base + "/queue", o->options_.fsync, log);
    if (!q.ok()) return Error(q.error().errorClass(), "outbox of sink " + cfg.name + ": " + q.error().message());
    auto d = SinkQueue::open(base + "/dead", o->options_.fsync, log);
    if (!d.ok()) return Error(d.error().errorClass(), "dead letters of sink " + cfg.name + ": " + d.error().message());
    auto f = DeadLetterFile::open(cfg.dead_letter_file.empty() ? base + "/dead-letters.jsonl" : cfg.dead_letter_file,
                                  o->options_.fsync);
    if (!f.ok()) return Error(f.error().errorClass(), "dead letters of sink " + cfg.name + ": " + f.error().message());
    p->queue = std::move(*q);
    p->dead = std::move(*d);
    p->dead_file = std::move(*f);
    p->metrics = std::make_unique<OutboxMetrics>();
    p->files = SinkFiles{cfg.name, p->queue.get(), p->dead.get(), p->dead_file.get(), base + "/replay"};
    p->dispatcher = std::make_unique<Dispatcher>(p->files, *cfg.sink, cfg.dead_letter_sink, cfg.dispatch, *p->metrics,
                                                 clock, o->options_.random, log);
    p->config = std::move(cfg);
    o->sinks_.push_back(std::move(p));
  }
  return o;
}

Outbox::~Outbox() { stop(); }

void Outbox::log(std::string_view line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }
}

void Outbox::start() {
  if (started_) return;
  started_ = true;
  for (auto& s : sinks_) s->dispatcher->start();
}

void Outbox::stop() {
  for (auto& s : sinks_) s->dispatcher->stop();
}

Status Outbox::publish(std::span<const Event> batch) {
  if (batch.empty() || sinks_.empty()) return okStatus();
  // Group the batch per sink, in order.
  std::vector<std::vector<OutboxEntry>> per(sinks_.size());
  for (const auto& e : batch) {
    auto add = [&](size_t i) {
      OutboxEntry entry;
      entry.event = e;
      per[i].push_back(std::move(entry));
    };
    if (options_.route) {
      for (size_t i : options_.route(e.tenant)) {
        if (i < sinks_.size()) add(i);
      }
    } else {
      for (size_t i = 0; i < sinks_.size(); ++i) add(i);
    }
  }
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (per[i].empty()) continue;
    PerSink& s = *sinks_[i];
    if (uint64_t used = s.queue->diskBytes(); used > s.config.max_bytes) {
      OutboxMetrics::bump(s.metrics->full);
      return Error(ErrorClass::kTransientBackend, "the outbox of sink " + s.config.name + " is full (" +
                                                      std::to_string(used) + " bytes on disk, max_bytes " +
                                                      std::to_string(s.config.max_bytes) + ")");
    }
  }
  // Every sink's records are written and queued first, then waited for: the sinks'
  // group-commit fdatasyncs overlap.
  std::vector<std::shared_ptr<AppendTicket>> tickets(sinks_.size());
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (!per[i].empty()) tickets[i] = sinks_[i]->queue->appendAsync(per[i]);
  }
  std::vector<Status> results(sinks_.size(), okStatus());
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (tickets[i]) results[i] = tickets[i]->wait();
  }
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (per[i].empty()) continue;
    if (!results[i].ok()) {
      return Error(results[i].error().errorClass(),
                   "outbox of sink " + sinks_[i]->config.name + ": " + results[i].error().message());
    }
  }
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (per[i].empty()) continue;
    OutboxMetrics::bump(sinks_[i]->metrics->enqueued, per[i].size());
    sinks_[i]->dispatcher->wake();
  }
  return okStatus();
}

OutboxSinkStatus Outbox::status(size_t i) const {
  const PerSink& s = *sinks_[i];
  OutboxSinkStatus st;
  st.name = s.config.name;
  st.depth = s.queue->backlog();
  st.oldest_unix_ms = s.metrics->oldest_unix_ms.load();
  st.dead_letters = s.dead->backlog();
  st.disk_bytes = s.queue->diskBytes();
  return st;
}

std::string Outbox::renderMetrics() const {
  std::string out;
  std::vector<std::string> labels;
  labels.reserve(sinks_.size());
  for (const auto& s : sinks_) labels.push_back("sink=\"" + prometheus::escapeLabel(s->config.name) + "\"");
  auto load = [](const auto& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
#define MX_RENDER_COUNTER(member, name, help)     \
  prometheus::family(out, name, "counter", help); \
  for (size_t i = 0; i < sinks_.size(); ++i)      \
    prometheus::labelled(out, name, labels[i], load(sinks_[i]->metrics->member));
#define MX_RENDER_GAUGE(member, name, help)     \
  prometheus::family(out, name, "gauge", help); \
  for (size_t i = 0; i < sinks_.size(); ++i)    \
    prometheus::labelled(out, name, labels[i], load(sinks_[i]->metrics->member));
#define MX_RENDER_HISTOGRAM(member, name, help)     \
  prometheus::family(out, name, "histogram", help); \
  for (size_t i = 0; i < sinks_.size(); ++i)        \
    prometheus::labelledHistogram(out, name, labels[i], sinks_[i]->metrics->member);
  MX_OUTBOX_METRICS(MX_RENDER_COUNTER, MX_RENDER_GAUGE, MX_RENDER_HISTOGRAM)
#undef MX_RENDER_COUNTER
#undef MX_RENDER_GAUGE
#undef MX_RENDER_HISTOGRAM
  // The oldest event's age, derived here from mxgate_outbox_oldest_event_unix_ms: what an
  // alarm wants, and what a metrics pipeline without a clock function (CloudWatch metric
  // math) cannot compute from a timestamp.
  const int64_t now_ms = unixMillis((options_.clock ? *options_.clock : real_clock_).wall());
  prometheus::family(out, kOutboxOldestAgeMetric, "gauge",
                     "Age in seconds of the oldest event the dispatcher holds undelivered; 0: none");
  for (size_t i = 0; i < sinks_.size(); ++i) {
    const int64_t oldest = sinks_[i]->metrics->oldest_unix_ms.load(std::memory_order_relaxed);
    const double age = oldest == 0 || now_ms < oldest ? 0.0 : static_cast<double>(now_ms - oldest) / 1000.0;
    prometheus::labelled(out, kOutboxOldestAgeMetric, labels[i], age);
  }
  return out;
}

}  // namespace mx::events
