// server/log.h — structured logs: one JSON object per line (one per session, one per
// accepted message, plus lifecycle events). Each line goes out with a single write(2), so
// lines from different threads never interleave. Never log passwords or message content;
// callers pass only envelope-level facts.
// Trust: field values may be untrusted bytes (HELO names, addresses); JsonWriter escapes them.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/json_writer.h"

namespace mx::server {

class Logger {
 public:
  // Logs to stderr until open() succeeds on a path.
  Logger() = default;
  ~Logger();
  bool open(const std::string& path, std::string* error);

  // Builds a line: `w` is positioned inside an object that already has "ts" and "event".
  template <typename Fill>
  void event(std::string_view name, WallTime now, Fill&& fill) {
    std::string line;
    line.reserve(256);
    JsonWriter w(line);
    w.beginObject();
    w.field("ts", rfc3339(now));
    w.field("event", name);
    fill(w);
    w.endObject();
    line += '\n';
    writeLine(line);
  }
  void info(std::string_view name, std::string_view message, WallTime now);

 private:
  static std::string rfc3339(WallTime t);
  void writeLine(const std::string& line);
  int fd_ = 2;
};

}  // namespace mx::server
