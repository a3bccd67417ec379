// events/outbox/dispatcher.cc — see dispatcher.h.
#include "events/outbox/dispatcher.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>

namespace mx::events {
namespace {

constexpr Millis kReplayPoll{1000};
constexpr size_t kCheckpointEvery = 1024;  // finished events that force a checkpoint
constexpr size_t kReplayChunk = 512;

std::string count(uint64_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

}  // namespace

Millis fullJitter(const BackoffOptions& o, uint32_t attempt, const RandomSource& random) {
  int64_t cap = std::max<int64_t>(o.initial.count(), 1);
  for (uint32_t i = 0; i < attempt && cap < o.max.count(); ++i) cap *= 2;
  cap = std::min<int64_t>(cap, std::max<int64_t>(o.max.count(), 1));
  uint64_t r = random ? random() : 0;
  int64_t d = static_cast<int64_t>(r % static_cast<uint64_t>(cap + 1));
  return Millis(std::max<int64_t>(d, 1));
}

Status requestReplay(const std::string& replay_dir, int64_t since_ms) {
  std::error_code ec;
  std::filesystem::create_directories(replay_dir, ec);
  if (ec) return Error(ErrorClass::kTransientBackend, "cannot create " + replay_dir + ": " + ec.message());
  const std::string base =
      replay_dir + "/" + std::to_string(unixMillis(RealClock().wall())) + "-" + std::to_string(::getpid()) + ".req";
  {
    std::ofstream f(base + ".tmp", std::ios::trunc);
    f << since_ms << "\n";
    if (!f.flush()) return Error(ErrorClass::kTransientBackend, "cannot write " + base + ".tmp");
  }
  std::filesystem::rename(base + ".tmp", base, ec);
  if (ec) return Error(ErrorClass::kTransientBackend, "cannot rename to " + base + ": " + ec.message());
  return okStatus();
}

Result<uint64_t> replayDeadLetters(const SinkFiles& f, int64_t since_ms) {
  // Only the records in the log now: the ones kept are appended again behind them.
  const uint64_t n = f.dead->backlog();
  std::vector<OutboxEntry> back, keep;
  spool::Record last;
  bool have_last = false;
  uint64_t moved = 0;
  auto flush = [&]() -> Status {
    if (!have_last) return okStatus();
    if (auto s = f.queue->append(back); !s.ok()) return s;
    if (auto s = f.dead->append(keep); !s.ok()) return s;
    if (auto s = f.dead->reader().checkpoint(last); !s.ok()) return s;
    moved += back.size();
    back.clear();
    keep.clear();
    have_last = false;
    return okStatus();
  };
  for (uint64_t i = 0; i < n; ++i) {
    auto r = f.dead->reader().next(Millis(0));
    if (!r.ok()) {
      f.dead->reader().rewind();
      return r.error();
    }
    if (!*r) break;
    const spool::Record& rec = **r;
    OutboxEntry e;
    e.event.id = rec.envelope.id.toString();
    e.event.tenant = rec.envelope.tenant;
    if (decodeOutboxBody(rec.body, &e).ok()) {
      if (e.dead_lettered_ms >= since_ms) {
        e.attempts = 0;
        e.first_failure_ms = 0;
        e.not_before_ms = 0;
        e.dead_lettered_ms = 0;
        back.push_back(std::move(e));
      } else {
        keep.push_back(std::move(e));
      }
    }  // else: unreadable (never written so by us); the JSON-lines file holds its trace
    last.lane = rec.lane;
    last.sequence = rec.sequence;
    have_last = true;
    if (back.size() + keep.size() >= kReplayChunk) {
      if (auto s = flush(); !s.ok()) {
        f.dead->reader().rewind();
        return s.error();
      }
    }
  }
  if (auto s = flush(); !s.ok()) {
    f.dead->reader().rewind();
    return s.error();
  }
  return moved;
}

Dispatcher::Dispatcher(SinkFiles files, EventSink& sink, EventSink* dead_letter_sink, DispatchOptions options,
                       OutboxMetrics& metrics, const Clock& clock, RandomSource random,
                       std::function<void(std::string_view)> log)
    : files_(std::move(files)),
      sink_(sink),
      dead_letter_sink_(dead_letter_sink),
      options_(options),
      metrics_(metrics),
      clock_(clock),
      random_(random ? std::move(random) : defaultRandom()),
      log_(std::move(log)) {
  options_.window = std::max<size_t>({options_.window, 1, std::min<size_t>(2 * sink_.maxBatch(), 16384)});
  metrics_.dead_letter_depth.store(static_cast<int64_t>(files_.dead->backlog()), std::memory_order_relaxed);
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::log(const std::string& line) const {
  std::string l = "outbox: sink " + files_.name + ": " + line;
  if (log_) {
    log_(l);
  } else {
    std::fprintf(stderr, "%s\n", l.c_str());
  }
}

void Dispatcher::start() {
  thread_ = std::thread([this] { run(); });
}

void Dispatcher::stop() {
  stop_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::wake() {
  {
    std::lock_guard l(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Dispatcher::run() {
  while (!stop_.load()) {
    if (!round()) idleWait(nowMs());
  }
  checkpoint(true);
}

uint64_t Dispatcher::runUntilIdle(Millis limit) {
  const uint64_t before = metrics_.delivered.load() + metrics_.dead_lettered.load() + metrics_.rotated.load();
  const int64_t end = nowMs() + limit.count();
  for (;;) {
    if (round()) continue;
    bool waiting =
        std::any_of(window_.begin(), window_.end(), [](const Item& i) { return i.state == State::kWaiting; });
    if (!waiting || nowMs() >= end) break;
    idleWait(nowMs());
  }
  checkpoint(true);
  return metrics_.delivered.load() + metrics_.dead_lettered.load() + metrics_.rotated.load() - before;
}

bool Dispatcher::round() {
  pollReplay(nowMs());
  bool read = fill();
  bool delivered = deliverDue(nowMs());
  checkpoint(false);
  rotateHead(nowMs());
  int64_t oldest = 0;
  for (const auto& it : window_) {
    if (it.state == State::kWaiting && it.id_ms != 0 && (oldest == 0 || it.id_ms < oldest)) oldest = it.id_ms;
  }
  metrics_.oldest_unix_ms.store(oldest, std::memory_order_relaxed);
  metrics_.depth.store(static_cast<int64_t>(files_.queue->backlog()), std::memory_order_relaxed);
  return read || delivered;
}

bool Dispatcher::fill() {
  bool any = false;
  while (window_.size() < options_.window) {
    auto r = files_.queue->reader().next(Millis(0));
    if (!r.ok()) {
      if (!read_error_logged_) log("reading the outbox failed (retrying): " + r.error().message());
      read_error_logged_ = true;
      break;
    }
    read_error_logged_ = false;
    if (!*r) break;
    const spool::Record& rec = **r;
    Item it;
    it.lane = rec.lane;
    it.sequence = rec.sequence;
    it.enqueued_ms = unixMillis(rec.envelope.received_at);
    it.entry.event.id = rec.envelope.id.toString();
    it.id_ms = static_cast<int64_t>(rec.envelope.id.millis());
    it.entry.event.tenant = rec.envelope.tenant;
    Status s = decodeOutboxBody(rec.body, &it.entry);
    window_.push_back(std::move(it));
    any = true;
    if (!s.ok()) {
      // Never retried: it would fail the same way. Its trace is the JSON-lines dead letter.
      Item& bad = window_.back();
      bad.state = State::kDone;
      DeadLetter d{&bad.entry.event, ErrorClass::kProtocol, s.error().message(), bad.entry.attempts, clock_.wall()};
      if (auto w = files_.dead_file->write(files_.name, std::span<const DeadLetter>(&d, 1)); !w.ok()) {
        log("cannot write the dead letter of an unreadable record: " + w.error().message());
      }
      OutboxMetrics::bump(metrics_.dead_lettered);
      log("event " + bad.entry.event.id + ": unreadable outbox record dead-lettered: " + s.error().message());
    }
  }
  return any;
}

bool Dispatcher::deliverDue(int64_t now_ms) {
  if (now_ms < sink_paused_until_ms_) return false;
  const size_t max = std::max<size_t>(1, sink_.maxBatch());
  std::vector<Item*> due;
  for (auto& it : window_) {
    if (it.state != State::kWaiting || it.entry.not_before_ms > now_ms) continue;
    due.push_back(&it);
    if (due.size() == max) break;
  }
  if (due.empty()) return false;
  std::vector<Event> batch;
  batch.reserve(due.size());
  for (Item* it : due) batch.push_back(std::move(it->entry.event));
  std::vector<Delivery> out = sink_.publishEach(batch);
  for (size_t i = 0; i < due.size(); ++i) due[i]->entry.event = std::move(batch[i]);

  const int64_t after = nowMs();
  size_t ok = 0, retryable = 0;
  std::vector<Item*> dead;
  const Error* first_error = nullptr;
  for (size_t i = 0; i < due.size(); ++i) {
    Item& it = *due[i];
    const Delivery missing{Error(ErrorClass::kTransientBackend, "the sink gave no outcome for this event"), Millis(0)};
    const Delivery& d = i < out.size() ? out[i] : missing;
    if (d.status.ok()) {
      it.state = State::kDone;
      ++ok;
      OutboxMetrics::bump(metrics_.delivered);
      if (it.id_ms != 0) metrics_.delivery_seconds.observe(Millis(std::max<int64_t>(0, after - it.id_ms)));
      metrics_.dispatch_seconds.observe(Millis(std::max<int64_t>(0, after - it.enqueued_ms)));
      continue;
    }
    const Error& e = d.status.error();
    if (!first_error) first_error = &e;
    it.entry.last_error = e.message();
    it.last_class = e.errorClass();
    ++it.entry.attempts;
    if (it.entry.first_failure_ms == 0) it.entry.first_failure_ms = after;
    if (dispositionOf(e.errorClass()) == Disposition::kRefused) {
      dead.push_back(&it);
      continue;
    }
    ++retryable;
    OutboxMetrics::bump(metrics_.retried);
    const bool too_many = options_.max_attempts != 0 && it.entry.attempts >= options_.max_attempts;
    const bool too_old = after - it.entry.first_failure_ms >= options_.max_age.count();
    if (too_many || too_old) {
      it.entry.last_error = (too_many ? "gave up after " + count(it.entry.attempts, "attempt")
                                      : "gave up after max_age (" + count(it.entry.attempts, "attempt") + ")") +
                            "; the last error: " + e.message();
      dead.push_back(&it);
      continue;
    }
    Millis delay = std::max(d.retry_after, fullJitter(options_.retry, it.entry.attempts - 1, random_));
    it.entry.not_before_ms = after + delay.count();
  }
  if (!dead.empty()) deadLetter(dead, after);
  if (ok > 0) {
    if (sink_failures_ > 0) log("delivering again after " + count(sink_failures_, "failed round"));
    sink_failures_ = 0;
    sink_paused_until_ms_ = 0;
    delivered_since_rotation_ = true;
  } else if (retryable == due.size()) {
    Millis pause = fullJitter(options_.retry, sink_failures_, random_);
    if (sink_failures_ == 0 || (sink_failures_ & (sink_failures_ - 1)) == 0) {  // 1st, 2nd, 4th, 8th … round
      log("every attempt failed (" + count(sink_failures_ + 1, "round") + "; " + count(due.size(), "event") +
          " waiting for a retry), pausing the sink " + std::to_string(pause.count()) +
          " ms; the first error: " + (first_error ? first_error->message() : std::string("?")));
    }
    ++sink_failures_;
    sink_paused_until_ms_ = after + pause.count();
  }
  return true;
}

bool Dispatcher::deadLetter(std::vector<Item*>& items, int64_t now_ms) {
  std::vector<OutboxEntry> entries;
  std::vector<DeadLetter> letters;
  entries.reserve(items.size());
  letters.reserve(items.size());
  const WallTime at = clock_.wall();
  for (Item* it : items) {
    entries.push_back(it->entry);
    entries.back().dead_lettered_ms = now_ms;
    letters.push_back(DeadLetter{&it->entry.event, it->last_class, it->entry.last_error, it->entry.attempts, at});
  }
  Status s = files_.dead->append(entries);
  if (s.ok()) s = files_.dead_file->write(files_.name, letters);
  if (!s.ok()) {
    // They stay in the outbox, waiting; the next attempt decides again.
    log("cannot write " + count(items.size(), "dead letter") +
        " (kept in the outbox, retried): " + s.error().message());
    for (Item* it : items) it->entry.not_before_ms = now_ms + options_.retry.initial.count();
    return false;
  }
  for (Item* it : items) {
    it->state = State::kDone;
    log("event " + it->entry.event.id + " (tenant " + it->entry.event.tenant + ") dead-lettered after " +
        count(it->entry.attempts, "attempt") + ": " + it->entry.last_error);
  }
  OutboxMetrics::bump(metrics_.dead_lettered, items.size());
  metrics_.dead_letter_depth.store(static_cast<int64_t>(files_.dead->backlog()), std::memory_order_relaxed);
  if (dead_letter_sink_ != nullptr) {
    std::vector<Event> batch;
    batch.reserve(items.size());
    for (Item* it : items) batch.push_back(it->entry.event);
    if (Status p = dead_letter_sink_->publish(batch); !p.ok()) {
      log("the dead-letter sink did not take " + count(batch.size(), "event") +
          " (they are in the dead-letter log): " + p.error().message());
    }
  }
  return true;
}

void Dispatcher::checkpoint(bool force) {
  size_t n = 0;
  while (n < window_.size() && window_[n].state == State::kDone) ++n;
  if (n == 0) return;
  const int64_t now = nowMs();
  if (!force && n < kCheckpointEvery && now - last_checkpoint_ms_ < options_.checkpoint_every.count()) return;
  spool::Record upto;
  upto.lane = window_[n - 1].lane;
  upto.sequence = window_[n - 1].sequence;
  if (Status s = files_.queue->reader().checkpoint(upto); !s.ok()) {
    log("checkpoint failed (retried; finished events may be delivered again): " + s.error().message());
    return;
  }
  last_checkpoint_ms_ = now;
  window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(n));
}

void Dispatcher::rotateHead(int64_t now_ms) {
  if (window_.size() < options_.window || !delivered_since_rotation_) return;
  if (window_.front().state != State::kWaiting || window_.front().entry.not_before_ms <= now_ms) return;
  std::vector<Item*> stuck;
  const size_t half = std::max<size_t>(1, options_.window / 2);
  for (size_t i = 0; i < window_.size() && i < half; ++i) {
    Item& it = window_[i];
    if (it.state == State::kWaiting && it.entry.not_before_ms > now_ms) stuck.push_back(&it);
  }
  std::vector<OutboxEntry> entries;
  entries.reserve(stuck.size());
  for (Item* it : stuck) entries.push_back(it->entry);
  if (Status s = files_.queue->append(entries); !s.ok()) {
    log("cannot move waiting events to the outbox's tail: " + s.error().message());
    return;
  }
  for (Item* it : stuck) it->state = State::kDone;
  OutboxMetrics::bump(metrics_.rotated, stuck.size());
  delivered_since_rotation_ = false;
}

void Dispatcher::pollReplay(int64_t now_ms) {
  if (files_.replay_dir.empty() || now_ms - last_replay_poll_ms_ < kReplayPoll.count()) return;
  last_replay_poll_ms_ = now_ms;
  std::error_code ec;
  std::vector<std::filesystem::path> requests;
  for (std::filesystem::directory_iterator it(files_.replay_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".req") requests.push_back(it->path());
  }
  std::sort(requests.begin(), requests.end());
  for (const auto& p : requests) {
    int64_t since = 0;
    {
      std::ifstream f(p);
      std::string text;
      std::getline(f, text);
      auto [ptr, e] = std::from_chars(text.data(), text.data() + text.size(), since);
      if (e != std::errc()) {
        log("ignoring the malformed replay request " + p.string());
        std::filesystem::remove(p, ec);
        continue;
      }
    }
    auto moved = replayDeadLetters(files_, since);
    if (!moved.ok()) {
      log("replay failed (the request is kept and tried again): " + moved.error().message());
      return;
    }
    OutboxMetrics::bump(metrics_.replayed, *moved);
    metrics_.dead_letter_depth.store(static_cast<int64_t>(files_.dead->backlog()), std::memory_order_relaxed);
    log("replay: " + count(*moved, "dead letter") + " back in the outbox");
    std::filesystem::remove(p, ec);
  }
}

void Dispatcher::idleWait(int64_t now_ms) {
  int64_t next = std::numeric_limits<int64_t>::max();
  for (const auto& it : window_) {
    if (it.state == State::kWaiting) next = std::min(next, it.entry.not_before_ms);
  }
  if (sink_paused_until_ms_ > now_ms)
    next = std::max(next == std::numeric_limits<int64_t>::max() ? 0 : next, sink_paused_until_ms_);
  int64_t d = next == std::numeric_limits<int64_t>::max() ? options_.idle_wait.count() : next - now_ms;
  d = std::clamp<int64_t>(d, 1, options_.idle_wait.count());
  std::unique_lock l(mu_);
  cv_.wait_for(l, Millis(d), [this] { return woken_ || stop_.load(); });
  woken_ = false;
}

}  // namespace mx::events
