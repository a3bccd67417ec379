// store/local/local_blob_store.h — BlobStore over a local directory tree: key "a/b/c" is
// the file <root>/a/b/c. The embedded default (mxgate on a laptop or one server).
//
// Durability (blob_store.h contract): put() writes a hidden temporary file beside the
// target (".tmp.<hex>"), fdatasyncs it, renames it over the target and fsyncs the
// directory; a directory created on the way has its parent fsync'ed too, so after put()
// returns ok the object survives power loss. Readers never see a partial object.
// A crash mid-put can leave a ".tmp.*" file behind; keys never start with '.', so these
// never collide with objects and can be removed by hand (TODO: sweep them on open — safe to
// leave for now, they only cost space).
//
// Threads: thread-safe; puts to different keys run in parallel.
// Trust: keys are validated (validateKey) and files are opened with O_NOFOLLOW; the root
// itself is trusted configuration.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "store/blob_store.h"

namespace mx::store {

struct LocalBlobStoreOptions {
  std::string root;   // created if missing
  bool fsync = true;  // false only for benchmarks and tests that do not crash
};

class LocalBlobStore final : public BlobStore {
 public:
  // Creates the root directory if needed. Errors name the path.
  static Result<std::unique_ptr<LocalBlobStore>> open(const LocalBlobStoreOptions& options);

  // BlobStore
  Status put(std::string_view key, std::string_view bytes) override;
  Status putFile(std::string_view key, const std::string& path) override;
  Result<std::string> get(std::string_view key) override;
  Result<bool> exists(std::string_view key) override;

  // The file a (valid) key maps to.
  std::string pathOf(std::string_view key) const { return root_ + "/" + std::string(key); }
  // fsyncs performed (files and directories), for tests and metrics.
  uint64_t syncCount() const { return syncs_.load(std::memory_order_relaxed); }

 private:
  explicit LocalBlobStore(const LocalBlobStoreOptions& options);
  // Creates <root>/<dir> and its missing parents durably. `dir` is a validated key prefix.
  Status ensureDir(std::string_view dir);
  // Runs `fill(fd, tmp_path)` on a new temporary file in the key's directory, then syncs,
  // renames it to the key and syncs the directory.
  template <typename Fill>
  Status writeAtomically(std::string_view key, Fill fill);
  Status syncPath(const std::string& path, bool directory);

  const std::string root_;
  const bool fsync_;
  const uint64_t tmp_prefix_;
  std::atomic<uint64_t> tmp_counter_{0};
  std::atomic<uint64_t> syncs_{0};
  std::mutex dirs_mu_;
  std::unordered_set<std::string> known_dirs_;  // directories known to exist durably
};

}  // namespace mx::store
