// server/log.cc — see log.h.
#include "server/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/time_format.h"

namespace mx::server {

Logger::~Logger() {
  if (fd_ > 2) ::close(fd_);
}

bool Logger::open(const std::string& path, std::string* error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    *error = "cannot open log file " + path + ": " + std::strerror(errno);
    return false;
  }
  fd_ = fd;
  return true;
}

void Logger::info(std::string_view name, std::string_view message, WallTime now) {
  event(name, now, [&](JsonWriter& w) { w.field("message", message); });
}

std::string Logger::rfc3339(WallTime t) { return formatRfc3339(t); }

void Logger::writeLine(const std::string& line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere better to report a failing log sink
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace mx::server
