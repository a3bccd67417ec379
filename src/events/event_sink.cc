// events/event_sink.cc — see event_sink.h.
#include "events/event_sink.h"

namespace mx::events {

std::vector<Delivery> EventSink::publishEach(std::span<const Event> batch) {
  Status s = publish(batch);
  return std::vector<Delivery>(batch.size(), Delivery{s, Millis(0)});
}

}  // namespace mx::events
