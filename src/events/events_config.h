// events/events_config.h — the [events] section, owned by the events module
// (config_table.h): where the outboxes live, and the single sink used when the file has no
// [[sink]] entries (sink_config.h). Which sink kinds exist depends on the build; src/app's
// registry checks the name.
#pragma once

#include <string>

#include "core/config_table.h"

namespace mx::events {

struct EventsSettings {
  std::string outbox_dir = "var/outbox";  // one durable outbox (and dead-letter log) per sink
  // Without [[sink]] entries: the one sink's kind, its file and its dead letters' JSON lines.
  std::string sink = "file";
  std::string file = "var/events.jsonl";
  std::string dead_letter_file = "var/events.dead-letter.jsonl";
};

const config::Table<EventsSettings>& eventsTable();

}  // namespace mx::events
