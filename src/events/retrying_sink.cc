// events/retrying_sink.cc — see retrying_sink.h.
#include "events/retrying_sink.h"

#include <cstdio>
#include <vector>

namespace mx::events {

RetryingSink::RetryingSink(EventSink& inner, DeadLetterFile& dead_letters, RetryingSinkOptions options)
    : inner_(inner),
      dead_(dead_letters),
      options_(std::move(options)),
      waiter_(options_.waiter ? *options_.waiter : own_waiter_),
      clock_(options_.clock ? *options_.clock : real_clock_) {
  if (!options_.random) options_.random = defaultRandom();
}

void RetryingSink::log(const std::string& line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

Status RetryingSink::publish(std::span<const Event> batch) {
  if (batch.empty()) return okStatus();
  Backoff backoff(options_.backoff, options_.random);
  for (uint32_t attempt = 1;; ++attempt) {
    Status s = inner_.publish(batch);
    if (s.ok()) {
      if (attempt > 1) {
        log("events: " + options_.sink_name + " took " + std::to_string(batch.size()) + " events after " +
            std::to_string(attempt) + " attempts");
      }
      if (options_.observer) options_.observer->onDelivered(batch.size());
      return s;
    }
    const Error& e = s.error();
    if (options_.observer) options_.observer->onAttemptFailed(e);
    if (dispositionOf(e.errorClass()) == Disposition::kRefused) {
      log("events: " + options_.sink_name + " refused a batch of " + std::to_string(batch.size()) + " (" +
          std::string(errorClassName(e.errorClass())) + "): " + e.message() +
          "; publishing one at a time to dead-letter only the refused events");
      if (batch.size() == 1) {
        DeadLetter d{&batch[0], e.errorClass(), e.message(), attempt, clock_.wall()};
        return writeDeadLetters(std::span<const DeadLetter>(&d, 1), backoff);
      }
      return isolateRefused(batch, backoff, attempt);
    }
    Millis delay = backoff.next();
    log("events: publishing " + std::to_string(batch.size()) + " events to " + options_.sink_name + " failed (" +
        std::string(errorClassName(e.errorClass())) + "): " + e.message() + "; attempt " + std::to_string(attempt) +
        ", next in " + std::to_string(delay.count()) + " ms");
    if (!waiter_.waitFor(delay)) return s;
  }
}

Status RetryingSink::isolateRefused(std::span<const Event> batch, Backoff& backoff, uint32_t batch_attempts) {
  std::vector<DeadLetter> dead;
  size_t delivered = 0;
  for (const Event& ev : batch) {
    for (uint32_t attempt = 1;; ++attempt) {
      Status s = inner_.publish(std::span<const Event>(&ev, 1));
      if (s.ok()) {
        backoff.reset();
        ++delivered;
        break;
      }
      const Error& e = s.error();
      if (options_.observer) options_.observer->onAttemptFailed(e);
      if (dispositionOf(e.errorClass()) == Disposition::kRefused) {
        dead.push_back(DeadLetter{&ev, e.errorClass(), e.message(), batch_attempts + attempt, clock_.wall()});
        break;
      }
      if (!waiter_.waitFor(backoff.next())) return s;
    }
  }
  if (delivered > 0 && options_.observer) options_.observer->onDelivered(delivered);
  if (dead.empty()) return okStatus();
  return writeDeadLetters(dead, backoff);
}

Status RetryingSink::writeDeadLetters(std::span<const DeadLetter> letters, Backoff& backoff) {
  for (;;) {
    Status s = dead_.write(options_.sink_name, letters);
    if (s.ok()) break;
    // The events are not lost while this fails: the caller has not checkpointed them.
    log("events: writing " + std::to_string(letters.size()) + " dead letters to " + dead_.path() +
        " failed: " + s.error().message());
    if (!waiter_.waitFor(backoff.next())) return s;
  }
  for (const auto& d : letters) {
    log("events: " + options_.sink_name + " refused event " + d.event->id + " (" +
        std::string(errorClassName(d.error_class)) + "): " + d.reason + "; dead-lettered to " + dead_.path());
  }
  if (options_.observer) options_.observer->onDeadLettered(letters.size());
  return okStatus();
}

}  // namespace mx::events
