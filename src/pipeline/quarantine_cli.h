// pipeline/quarantine_cli.h — `mxgate quarantine list [--json]` and
// `mxgate quarantine retry ID... | --all` over a quarantine directory (quarantine.h).
// Safe while `mxgate serve` runs: neither takes the spool's lock; retry only moves entries
// into the retry inbox, which the running consumer polls (or the next start takes).
// Output: list prints one row per entry (id, tenant, received_at, attempts, reason), or with
// --json one JSON array of objects (id, tenant, received_at, size, error_class, reason,
// attempts, retries, first_failure, last_failure, origin, envelope, damaged).
// Exit codes: 0 done; 1 an entry was not found or I/O failed (each named on `err`).
// Trust: ids come from the command line and are checked to be message ids.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mx::pipeline {

int runQuarantineList(const std::string& dir, bool json, std::ostream& out, std::ostream& err);
int runQuarantineRetry(const std::string& dir, const std::vector<std::string>& ids, bool all, std::ostream& out,
                       std::ostream& err);

}  // namespace mx::pipeline
