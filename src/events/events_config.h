// events/events_config.h — the [events] section, owned by the events module
// (config_table.h). Which sink names exist depends on the build; src/app's registry
// checks the name.
#pragma once

#include <string>

#include "core/config_table.h"

namespace mx::events {

struct EventsSettings {
  std::string sink = "file";               // the registry's name: file, (webhook, kafka, sqs …)
  std::string file = "var/events.jsonl";   // the file sink's JSON-lines file
  std::string dead_letter_file = "var/events.dead-letter.jsonl";  // events a sink refused for good
};

const config::Table<EventsSettings>& eventsTable();

}  // namespace mx::events
