// events/in_flight_limit.h — InFlightLimit: a sink-wide bound on requests in flight, for the
// sinks that publish over the asynchronous http::HttpClient (webhook/, sqs/). A sink submits
// one task per request; at most `limit` submitted tasks are running at once (over every
// publishEach() call of the sink, whichever thread made it), the rest wait in one FIFO queue.
// A running task ends by calling release() exactly once, typically from its HTTP callback;
// that starts the next queued task on the releasing thread (the slot passes to it).
//
// PendingDeliveries is the other half: one per publishEach() call, it collects the call's
// Delivery values from the HTTP callbacks and lets the calling thread wait for the last one.
//
// Threads: thread-safe. Tasks run outside the lock, on the submitting thread or on the thread
// that released the slot (an HttpClient thread): a task must not block, and must not call
// release() before it has handed its request to the client (HttpClient::send never calls back
// from inside itself, so a task that sends cannot re-enter release() inline).
// Trust: none needed.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "events/event_sink.h"

namespace mx::events {

class InFlightLimit {
 public:
  explicit InFlightLimit(uint32_t limit) : limit_(limit == 0 ? 1 : limit) {}

  // Runs `task` now when a slot is free, else queues it.
  void submit(std::function<void()> task);
  // A running task finished: the next queued task (if any) takes its slot and runs now.
  void release();

  uint32_t limit() const { return limit_; }

 private:
  std::mutex mu_;
  const uint32_t limit_;
  uint32_t running_ = 0;
  std::deque<std::function<void()>> waiting_;
};

// The outcomes of one batch, filled in from any thread; owned through a shared_ptr by the
// caller and every callback, so a late callback never touches freed memory.
class PendingDeliveries {
 public:
  explicit PendingDeliveries(size_t n) : out_(n), pending_(n) {}
  // Sets the outcome of event `i`; each index exactly once.
  void set(size_t i, Delivery d);
  // Blocks until every outcome is set, then hands them over.
  std::vector<Delivery> wait();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> out_;
  size_t pending_;
};

}  // namespace mx::events
