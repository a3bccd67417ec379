// spool/checkpoint.cc — see checkpoint.h.
#include "spool/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "spool/crc32c.h"
#include "spool/file_util.h"

namespace mx::spool {
namespace {

constexpr char kMagic[8] = {'M', 'X', 'C', 'K', 'P', 'T', '0', '1'};
constexpr size_t kMaxFile = 1 << 20;

void put(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t get(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

}  // namespace

Result<CheckpointMap> loadCheckpoint(const std::string& dir) {
  std::string path = dir + "/checkpoint";
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) {
    if (errno == ENOENT) return CheckpointMap{};
    return ioError("open", path, errno);
  }
  UniqueFd fd(raw);
  std::string bytes(kMaxFile, '\0');
  auto n = readAt(fd.get(), bytes.data(), bytes.size(), 0, path);
  if (!n.ok()) return n.error();
  bytes.resize(*n);
  auto damaged = [&](const char* why) {
    return Error(ErrorClass::kPermanentBackend, "checkpoint " + path + " is damaged: " + why);
  };
  if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, 8) != 0) return damaged("bad magic");
  uint64_t count = get(bytes.data() + 8, 4);
  if (bytes.size() != 12 + count * 12 + 4) return damaged("bad length");
  if (get(bytes.data() + bytes.size() - 4, 4) != crc32c(0, bytes.data(), bytes.size() - 4)) {
    return damaged("bad CRC");
  }
  CheckpointMap map;
  for (uint64_t i = 0; i < count; ++i) {
    const char* e = bytes.data() + 12 + i * 12;
    map[static_cast<uint32_t>(get(e, 4))] = get(e + 4, 8);
  }
  return map;
}

Status storeCheckpoint(const std::string& dir, const CheckpointMap& map, bool sync) {
  std::string bytes(kMagic, 8);
  put(bytes, map.size(), 4);
  for (const auto& [lane, seq] : map) {
    put(bytes, lane, 4);
    put(bytes, seq, 8);
  }
  put(bytes, crc32c(0, bytes.data(), bytes.size()), 4);
  std::string tmp = dir + "/checkpoint.tmp";
  std::string path = dir + "/checkpoint";
  auto fd = openFile(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  if (!fd.ok()) return fd.error();
  if (auto s = writeAllAt(fd->get(), bytes, 0, tmp); !s.ok()) return s;
  if (sync) {
    if (auto s = syncFd(fd->get(), tmp); !s.ok()) return s;
  }
  fd->reset();
  if (::rename(tmp.c_str(), path.c_str()) < 0) return ioError("rename", tmp, errno);
  if (sync) return syncDir(dir);
  return okStatus();
}

}  // namespace mx::spool
