// app/events_wiring.h — the event side of a running mxgate, assembled from the config: the
// sink backends (by kind, from the registry in backends.h), their shared HTTP clients and
// AWS credentials (SinkContext), and the Outbox that the pipeline publishes into, with one
// dispatcher per sink (events/outbox/outbox.h). Tenants' `sinks` lists become the routing.
// `mxgate serve` starts the dispatchers; `mxgate outbox` opens the same outboxes (when no
// running mxgate holds them) to report or replay.
// Errors: the first backend or outbox that cannot be opened, named.
// Trust: the Config has passed validateConfig() and validateBackends().
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "app/backends.h"
#include "app/config.h"
#include "events/outbox/outbox.h"

namespace mx::app {

struct EventsRuntime {
  std::unique_ptr<SinkContext> context;
  std::vector<events::EventSinkPtr> backends;  // one per effectiveSinks(config), same order
  std::unique_ptr<events::Outbox> outbox;
  std::vector<events::SinkSettings> sinks;
};

// Builds the backends (only when `with_backends`: the CLI's status and replay need none)
// and opens the outboxes; does not start the dispatchers.
Result<std::unique_ptr<EventsRuntime>> makeEventsRuntime(const Config& config, bool with_backends,
                                                         std::function<void(std::string_view)> log);

// `mxgate outbox status` and `mxgate outbox replay --sink NAME [--since T]`.
int runOutboxCommand(const Config& config, const std::vector<std::string>& args);

}  // namespace mx::app
