// server/idempotency.cc — see idempotency.h.
#include "server/idempotency.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace mx::server {
namespace {

int64_t unixSeconds(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

void writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;  // best effort: a lost line costs a duplicate on a retry, nothing more
    off += static_cast<size_t>(n);
  }
}

}  // namespace

IdempotencyCache::~IdempotencyCache() {
  if (fd_ >= 0) ::close(fd_);
}

Status IdempotencyCache::open(const std::string& path, WallTime now) {
  std::lock_guard lock(mu_);
  path_ = path;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    int64_t at = 0;
    std::string id, message_id;
    if (!(fields >> at >> id >> message_id)) continue;
    WallTime t{std::chrono::seconds(at)};
    if (t + ttl_ < now) continue;
    Entry& e = entries_[id];
    if (!e.done) order_.emplace_back(t, id);
    e.done = true;
    e.message_id = message_id;
    e.at = t;
  }
  while (order_.size() > max_entries_) {
    entries_.erase(order_.front().second);
    order_.pop_front();
  }
  rewriteLocked();
  if (fd_ < 0) return Error(ErrorClass::kConfig, path + ": cannot write the idempotency file");
  return okStatus();
}

void IdempotencyCache::rewriteLocked() {
  if (path_.empty()) return;
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::string out;
  for (const auto& [at, id] : order_) {
    auto it = entries_.find(id);
    if (it == entries_.end()) continue;
    out += std::to_string(unixSeconds(at)) + " " + id + " " + it->second.message_id + "\n";
  }
  writeAll(fd, out);
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return;
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  file_lines_ = order_.size();
}

void IdempotencyCache::expireLocked(WallTime now) {
  while (!order_.empty() && (order_.front().first + ttl_ < now || order_.size() > max_entries_)) {
    auto it = entries_.find(order_.front().second);
    // Only a done entry with this very time is removed (an id may have been re-claimed).
    if (it != entries_.end() && it->second.done && it->second.at == order_.front().first) entries_.erase(it);
    order_.pop_front();
  }
}

IdempotencyCache::Claim IdempotencyCache::claim(const std::string& id, WallTime now, std::string* message_id,
                                                Waiter waiter) {
  std::lock_guard lock(mu_);
  expireLocked(now);
  auto [it, inserted] = entries_.try_emplace(id);
  if (inserted) return Claim::kClaimed;
  Entry& e = it->second;
  if (e.done) {
    *message_id = e.message_id;
    return Claim::kDone;
  }
  e.waiters.push_back(std::move(waiter));
  return Claim::kWaiting;
}

void IdempotencyCache::finish(const std::string& id, const std::string& message_id, WallTime now) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mu_);
    Entry& e = entries_[id];
    e.done = true;
    e.message_id = message_id;
    e.at = now;
    waiters.swap(e.waiters);
    order_.emplace_back(now, id);
    expireLocked(now);
    if (fd_ >= 0) {
      writeAll(fd_, std::to_string(unixSeconds(now)) + " " + id + " " + message_id + "\n");
      if (++file_lines_ > 2 * max_entries_) rewriteLocked();
    }
  }
  for (auto& w : waiters) {
    if (w) w(message_id);
  }
}

void IdempotencyCache::release(const std::string& id) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.done) return;
    waiters.swap(it->second.waiters);
    entries_.erase(it);
  }
  for (auto& w : waiters) {
    if (w) w(std::nullopt);
  }
}

size_t IdempotencyCache::sizeForTest() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace mx::server
