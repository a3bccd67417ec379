// server/idempotency.h — the HTTP ingest's idempotency keys (docs/edge.md): a retried
// POST /v1/messages with a webhook-id seen within the TTL (24 h) gets the first answer — the
// same 201 and message id — instead of a second copy. Also, with no file and a short TTL,
// the WebSocket listener's replay guard for edge tokens (each token id is good once).
//
// What is remembered: only successes (webhook-id -> message id, with the time). A failed
// attempt (401, 429, 503 ...) is not an answer to repeat: the retry is processed afresh.
// Concurrent duplicates: while one request with an id is between its signature check and
// its commit, a second one with the same id waits for it (claim() returns kWaiting) and then
// gets its answer, or — when the first failed — claims the id itself.
//
// Bounds: at most `max_entries` ids (the oldest go first) and none older than the TTL.
// Survives restart cheaply: each success is appended as one line "<unix-seconds> <id>
// <message-id>\n" to a file beside the spool, without fsync (a process crash loses nothing:
// the page cache has it; a power failure may lose the newest lines, and then a retry is
// stored twice — at-least-once, as the spool's own contract). open() loads the live lines
// and rewrites the file without the expired ones; it is rewritten again whenever it holds
// twice max_entries lines.
//
// Threads: thread-safe (one mutex, taken once or twice per request, never per byte).
// Waiters are called on the thread that calls finish()/release(): they must only hand off.
// Trust: ids passed the contract's syntax check (1..128 of [A-Za-z0-9_.:-], no spaces or
// newlines), so a file line cannot be forged through them; the file is ours, but lines
// that do not parse are skipped.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace mx::server {

class IdempotencyCache {
 public:
  IdempotencyCache(size_t max_entries, std::chrono::seconds ttl) : max_entries_(max_entries), ttl_(ttl) {}
  ~IdempotencyCache();
  IdempotencyCache(const IdempotencyCache&) = delete;
  IdempotencyCache& operator=(const IdempotencyCache&) = delete;

  // Loads `path` (created if missing) and compacts it. Errors name the path. Without a call
  // the cache lives in memory only.
  Status open(const std::string& path, WallTime now);

  enum class Claim : uint8_t { kClaimed, kDone, kWaiting };
  // Called with the first request's message id, or nullopt when it failed (claim again).
  using Waiter = std::function<void(std::optional<std::string> message_id)>;

  // kDone: `*message_id` is the first answer's. kClaimed: the caller owns the id until it
  // calls finish() or release(). kWaiting: `waiter` runs once, when the owner does.
  Claim claim(const std::string& id, WallTime now, std::string* message_id, Waiter waiter);
  // The owner succeeded: remember (and append to the file); wake the waiters with the id.
  void finish(const std::string& id, const std::string& message_id, WallTime now);
  // The owner failed: forget the claim; wake the waiters with nullopt.
  void release(const std::string& id);

  size_t sizeForTest() const;

 private:
  struct Entry {
    bool done = false;
    std::string message_id;
    WallTime at{};
    std::vector<Waiter> waiters;
  };
  void expireLocked(WallTime now);
  void rewriteLocked();

  const size_t max_entries_;
  const std::chrono::seconds ttl_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<WallTime, std::string>> order_;  // done entries, oldest first
  std::string path_;
  int fd_ = -1;
  size_t file_lines_ = 0;
};

}  // namespace mx::server
