// app/loadgen.h — `mxgate bench`: an SMTP load generator (the role of Postfix's
// smtp-source). Opens N concurrent sessions, sends M messages of a given size (optionally
// at a fixed total rate), pipelining MAIL/RCPT/DATA when the server offers PIPELINING, and
// reports messages/s, MB/s and the latency from the end of DATA to the 250 reply
// (p50/p99/p999), with a progress line each second. A second mode holds idle connections
// (--idle N) and measures how fast a new client gets its EHLO reply meanwhile.
// Standards: RFC 5321 client side, RFC 2920 (PIPELINING).
// Trust: replies come from the server under test; they are parsed defensively (bounded
// line length) and any unexpected reply counts as an error rather than crashing.
#pragma once

#include <cstdint>
#include <string>

namespace mx::app {

struct LoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 2525;
  uint32_t sessions = 50;
  uint64_t messages = 10000;        // total across sessions
  uint64_t messages_per_session = 0;  // 0: keep sessions open until the total is sent
  uint64_t size = 1024;             // body bytes (headers included), approximately
  double rate = 0;                  // messages per second in total; 0 = as fast as possible
  uint32_t threads = 1;
  std::string mail_from = "bench@loadgen.test";
  std::string rcpt_to = "bench@example.test";
  uint32_t recipients = 1;
  bool progress = true;
  // Idle mode: hold this many idle connections, then time EHLO round trips on new ones.
  uint32_t idle = 0;
  uint32_t idle_probes = 200;
};

// Runs the load and prints the report to stdout. Returns a process exit code (0 when every
// message got 250).
int runLoad(const LoadOptions& options);

}  // namespace mx::app
