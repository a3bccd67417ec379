// events/event_sink.cc — see event_sink.h.
#include "events/event_sink.h"

#include <optional>

#include "events/retry.h"

namespace mx::events {

std::vector<Delivery> EventSink::publishEach(std::span<const Event> batch) {
  Status s = publish(batch);
  return std::vector<Delivery>(batch.size(), Delivery{s, Millis(0)});
}

Status combinedStatus(std::span<const Delivery> deliveries) {
  std::optional<Error> refused;
  for (const Delivery& d : deliveries) {
    if (d.status.ok()) continue;
    if (dispositionOf(d.status.error().errorClass()) == Disposition::kRetry) return d.status.error();
    if (!refused) refused = d.status.error();
  }
  if (refused) return *refused;
  return okStatus();
}

}  // namespace mx::events
