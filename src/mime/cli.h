// mime/cli.h — `mxgate parse FILE... | -`: parse messages from files (or standard input) and
// print one JSON document (json.h) per message, one per line. src/app wires this into the
// mxgate binary; tests and the benchmark call it directly.
// Trust: files are untrusted messages; arguments come from the operator.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mx::mime {

// Arguments (after "parse"):
//   FILE|DIR...       messages to parse; a directory stands for its regular files
//                     (recursively, sorted by path, names starting with '.' skipped); "-"
//                     reads one message from standard input
//   --jobs=N          worker threads (also "--jobs N"; default: all cores). Documents are
//                     printed in input order whatever N is.
//   --pretty          indented JSON (one document after another) instead of JSON lines
//   --summary         print the event summary object instead of the full document
//   --trust=ID        an authserv-id whose Authentication-Results are trusted (repeatable)
//   --offsets         add byte offsets/lengths of headers and parts
//   --max-depth=N, --max-parts=N, --max-header-bytes=N, --max-size=N   parse limits
// Returns 0 when every file was read and parsed, 1 if some file or directory could not be
// read (the others are still printed; the reason goes to `err`), 2 for bad usage.
// Writes to `out` and `err` from the calling thread only. A message with
// parse errors still counts as parsed: its errors are in the document.
int runParseCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The usage text for `mxgate parse`.
const char* parseCommandUsage();

}  // namespace mx::mime
