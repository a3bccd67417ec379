// store/memory/memory_blob_store.h — an in-memory BlobStore: the test double. Keys are
// validated like every backend's; objects live in a map. Failures of put() and sync() can
// be injected to test callers' retry paths.
// Threads: thread-safe (one mutex).
// Trust: as blob_store.h.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "store/blob_store.h"

namespace mx::store {

class MemoryBlobStore final : public BlobStore {
 public:
  // BlobStore
  Status put(std::string_view key, std::string_view bytes) override;
  Result<std::string> get(std::string_view key) override;
  Result<bool> exists(std::string_view key) override;
  // putUnsynced() objects become visible at sync(); a failed sync() drops them.
  Status putUnsynced(std::string_view key, std::string_view bytes) override;
  Status sync() override;

  // The next `n` sync() calls fail (dropping what was pending).
  void failNextSyncs(int n);
  // The next `n` put() (and putUnsynced()) calls fail with an error of class `cls` (and store nothing).
  void failNextPuts(int n, ErrorClass cls = ErrorClass::kTransientBackend);
  std::vector<std::string> keys() const;
  uint64_t putCount() const;  // successful puts, overwrites included

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> objects_;
  std::vector<std::pair<std::string, std::string>> pending_;
  int fail_next_ = 0;
  int fail_syncs_ = 0;
  ErrorClass fail_class_ = ErrorClass::kTransientBackend;
  uint64_t puts_ = 0;
};

}  // namespace mx::store
