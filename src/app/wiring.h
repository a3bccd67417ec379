// app/wiring.h — builds the running gateway from a validated Config: the spool, the store
// and event sink (by name, from the registry in backends.h), the pipeline (MessageHandler,
// Outbox and its dispatchers, quarantine, SpoolConsumer), TLS, server and HTTP status endpoint, and runs
// the signal loop. Also the `parse` subcommand. Only src/app names concrete backends.
// Trust: the Config has passed validateConfig(); runtime failures (a port in use, an
// unwritable directory) are reported with the key or path at fault and exit non-zero.
#pragma once

#include <string>
#include <vector>

#include "app/config.h"

namespace mx::app {

// Runs `mxgate serve` until SIGTERM/SIGINT. Returns the process exit code.
int runServe(const Config& config);

// Where the pipeline keeps records it could not process: <spool.dir>/quarantine.
std::string quarantineDir(const Config& config);

// Runs `mxgate parse FILE... | -` (arguments after "parse"; see mime/cli.h). Returns the
// process exit code.
int runParse(const std::vector<std::string>& args);

}  // namespace mx::app
