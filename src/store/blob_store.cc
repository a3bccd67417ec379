// store/blob_store.cc — key validation and the default putFile (see blob_store.h).
#include "store/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mx::store {
namespace {

Error badKey(std::string_view why) {
  return Error(ErrorClass::kPermanentBackend, "store: invalid key: " + std::string(why));
}

}  // namespace

Status validateKey(std::string_view key) {
  if (key.empty()) return badKey("empty");
  if (key.size() > kMaxKeyBytes) return badKey("too long");
  if (key.front() == '/') return badKey("absolute");
  size_t start = 0;
  for (;;) {
    size_t end = key.find('/', start);
    std::string_view seg = key.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (seg.empty()) return badKey("empty segment");
    if (seg.size() > kMaxKeySegmentBytes) return badKey("segment too long");
    if (seg.front() == '.') return badKey("segment starts with '.'");
    for (char ch : seg) {
      auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == 0x7F) return badKey("control character");
      if (c == '\\') return badKey("backslash");
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return okStatus();
}

Status BlobStore::putFile(std::string_view key, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error(ErrorClass::kTransientBackend, "store: open " + path + ": " + std::strerror(errno));
  }
  std::string bytes;
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) bytes.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error(ErrorClass::kTransientBackend, "store: read " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return put(key, bytes);
}

}  // namespace mx::store
