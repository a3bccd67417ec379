// events/outbox/sink_queue.cc — see sink_queue.h.
#include "events/outbox/sink_queue.h"

#include <chrono>
#include <filesystem>
#include <system_error>

namespace mx::events {
namespace {

int64_t steadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<SinkQueue>> SinkQueue::open(const std::string& dir, bool fsync,
                                                   std::function<void(std::string_view)> log) {
  spool::SpoolOptions o;
  o.dir = dir;
  o.lanes = 1;
  o.min_free = 0;                 // the outbox's bound is its own size (Outbox), not free space
  o.segment_bytes = 16ull << 20;  // delivered events free their segment soon
  o.fsync = fsync;
  o.log = std::move(log);
  auto s = spool::Spool::open(o);
  if (!s.ok()) return s.error();
  return std::unique_ptr<SinkQueue>(new SinkQueue(dir, std::move(*s)));
}

SinkQueue::SinkQueue(std::string dir, std::unique_ptr<spool::Spool> spool)
    : dir_(std::move(dir)), spool_(std::move(spool)), reader_(spool_->reader()) {}

SinkQueue::~SinkQueue() {
  reader_.reset();  // before the spool (spool.h: the reader goes first)
  spool_->close();
}

void AppendTicket::done(Status s) {
  std::lock_guard l(mu_);
  if (!s.ok() && first_.ok()) first_ = std::move(s);
  if (--pending_ == 0) cv_.notify_all();
}

Status AppendTicket::wait() {
  std::unique_lock l(mu_);
  cv_.wait(l, [this] { return pending_ == 0; });
  return first_;
}

std::shared_ptr<AppendTicket> SinkQueue::appendAsync(std::span<const OutboxEntry> entries) {
  auto ticket = std::make_shared<AppendTicket>();
  if (entries.empty()) return ticket;
  ticket->pending_ = entries.size();
  spool::Lane& lane = spool_->lane(0);
  const WallTime appended = RealClock().wall();
  for (const auto& e : entries) {
    auto w = lane.begin();
    Status a = w->append(encodeOutboxBody(e));
    Envelope env;
    if (auto id = MessageId::parse(e.event.id)) env.id = *id;
    env.tenant = e.event.tenant;
    env.received_at = appended;  // when it entered this queue (the dispatch latency's start)
    if (!a.ok()) {
      ticket->done(a);
      continue;
    }
    lane.commit(std::move(w), std::move(env), [ticket](Status s) { ticket->done(std::move(s)); });
  }
  return ticket;
}

uint64_t SinkQueue::diskBytes() {
  int64_t now = steadyMillis();
  if (now - disk_measured_ms_.load(std::memory_order_relaxed) < 100) return disk_bytes_.load();
  uint64_t total = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) total += it->file_size(fec);
  }
  disk_bytes_.store(total);
  disk_measured_ms_.store(now);
  return total;
}

}  // namespace mx::events
