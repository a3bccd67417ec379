// events/events_config.cc — see events_config.h.
#include "events/events_config.h"

namespace mx::events {

const config::Table<EventsSettings>& eventsTable() {
  static const config::Table<EventsSettings> t = [] {
    config::Table<EventsSettings> t("events", "one CloudEvents event per message, at least once");
    t.add("outbox_dir", &EventsSettings::outbox_dir,
          "the sinks' durable outboxes: <outbox_dir>/<sink>/ holds the queue, the dead-letter log and its "
          "dead-letters.jsonl (docs/events.md)",
          config::Check::nonEmpty());
    t.add("sink", &EventsSettings::sink,
          "without [[sink]] entries: the kind of the one sink (named after it); `mxgate check-config` lists this "
          "build's kinds",
          config::Check::nonEmpty());
    t.add("file", &EventsSettings::file,
          "without [[sink]] entries: the file sink's file, one CloudEvents JSON line per message",
          config::Check::nonEmpty());
    t.add("dead_letter_file", &EventsSettings::dead_letter_file,
          "without [[sink]] entries: the one sink's dead letters as JSON lines, each with its reason "
          "(a [[sink]]'s are <outbox_dir>/<name>/dead-letters.jsonl)",
          config::Check::nonEmpty());
    return t;
  }();
  return t;
}

}  // namespace mx::events
