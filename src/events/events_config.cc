// events/events_config.cc — see events_config.h.
#include "events/events_config.h"

namespace mx::events {

const config::Table<EventsSettings>& eventsTable() {
  static const config::Table<EventsSettings> t = [] {
    config::Table<EventsSettings> t("events", "one CloudEvents event per message, at least once");
    t.add("sink", &EventsSettings::sink, "the event sink, by name (`mxgate check-config` lists this build's)",
          config::Check::nonEmpty());
    t.add("file", &EventsSettings::file, "the file sink: one CloudEvents JSON line per message",
          config::Check::nonEmpty());
    t.add("dead_letter_file", &EventsSettings::dead_letter_file,
          "events a sink refused for good (a permanent error), one JSON line each with the reason; "
          "the checkpoint moves on (docs/pipeline.md)",
          config::Check::nonEmpty());
    return t;
  }();
  return t;
}

}  // namespace mx::events
