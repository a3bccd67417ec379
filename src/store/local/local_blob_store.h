// store/local/local_blob_store.h — BlobStore over a local directory tree: key "a/b/c" is
// the file <root>/a/b/c. The embedded default (mxgate on a laptop or one server).
//
// Durability (blob_store.h contract): put() writes a temporary file in <root>/.staging
// (no key can start with '.', so it never collides with an object), fdatasyncs it, renames
// it over the target and fsyncs the target's directory; a directory created on the way has
// its parent fsync'ed too, so after put() returns ok the object survives power loss.
// Readers never see a partial object. A crash mid-put leaves a temporary in .staging;
// open() removes those older than an hour (younger ones may be another instance's).
//
// Group durability: putUnsynced() writes the temporary file only; sync() makes all pending
// temporaries durable, renames them into place, then makes the renames durable. Objects
// become visible at sync(); a failed sync() removes every pending temporary. Two methods:
//   kFilesystem  syncfs(2) on the store's filesystem, before and after the renames: two
//                flushes per batch whatever its size. It also flushes other writers' dirty
//                data on that filesystem. Linux >= 5.8 reports writeback errors of any
//                file on it through syncfs, so a failed write is never taken for durable.
//   kPerFile     fdatasync of each temporary (in parallel, so a journal can commit them
//                together), then fsync of each directory involved. Touches nothing else.
// On a 2-core VM's ext4 (no journal) kFilesystem was 3-7x faster for batches of 500-2,000
// 1 KiB objects; it is the default.
//
// Threads: thread-safe; puts to different keys run in parallel. sync() covers the
// putUnsynced() calls of every thread made before it.
// Trust: keys are validated (validateKey) and files are opened with O_NOFOLLOW; the root
// itself is trusted configuration.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "store/blob_store.h"

namespace mx::store {

enum class SyncMethod { kFilesystem, kPerFile };

struct LocalBlobStoreOptions {
  std::string root;   // created if missing
  bool fsync = true;  // false only for benchmarks and tests that do not crash
  SyncMethod sync_method = SyncMethod::kFilesystem;  // how sync() makes a batch durable
};

class LocalBlobStore final : public BlobStore {
 public:
  // Creates the root directory if needed. Errors name the path.
  static Result<std::unique_ptr<LocalBlobStore>> open(const LocalBlobStoreOptions& options);
  // Removes temporaries of putUnsynced() calls never synced.
  ~LocalBlobStore() override;

  // BlobStore
  Status put(std::string_view key, std::string_view bytes) override;
  Status putFile(std::string_view key, const std::string& path) override;
  Result<std::string> get(std::string_view key) override;
  Result<bool> exists(std::string_view key) override;
  Status putUnsynced(std::string_view key, std::string_view bytes) override;
  Status sync() override;

  // The file a (valid) key maps to.
  std::string pathOf(std::string_view key) const { return root_ + "/" + std::string(key); }
  // fsyncs and syncfs calls performed (files, directories, filesystem), for tests and metrics.
  uint64_t syncCount() const { return syncs_.load(std::memory_order_relaxed); }

 private:
  LocalBlobStore(const LocalBlobStoreOptions& options, int root_fd);
  // A written, not yet synced temporary file (fd owned until committed or discarded; -1
  // once written when the batch is synced with syncfs).
  struct Staged {
    int fd = -1;
    std::string tmp;
    std::string final_path;
    std::string dir;
  };
  // Creates <root>/<dir> and its missing parents. With `defer` null they are made durable
  // now; otherwise the directories to fsync are appended to *defer and the directory is
  // recorded as known only by markKnown() after they are synced.
  Status ensureDir(std::string_view dir, std::vector<std::string>* defer);
  void markKnown(const std::string& dir);
  // Creates a temporary file in the key's directory and runs `fill(fd, tmp_path)` on it.
  template <typename Fill>
  Result<Staged> stage(std::string_view key, std::vector<std::string>* defer_dirs, Fill fill);
  // fdatasync, rename into place, fsync the directory.
  Status commitOne(Staged& staged);
  Status syncPath(const std::string& path, bool directory);
  // sync() with each method, for the batch taken from pending_.
  Status syncPerFile(std::vector<Staged>& staged, std::vector<std::string>& dirs);
  Status syncFilesystem(std::vector<Staged>& staged);
  Status syncfsRoot();
  // Closes and removes the temporaries from `from` on (the batch failed).
  static void discardFrom(std::vector<Staged>& staged, size_t from);
  // Renames every temporary into place in put order; on failure discards the rest.
  static Status renameAll(std::vector<Staged>& staged);

  const std::string root_;
  const bool fsync_;
  const SyncMethod sync_method_;
  const int root_fd_;  // for syncfs: opened before any write, so its errors cover them all
  const uint64_t tmp_prefix_;
  std::atomic<uint64_t> tmp_counter_{0};
  std::atomic<uint64_t> syncs_{0};
  std::mutex dirs_mu_;
  std::unordered_set<std::string> known_dirs_;  // directories known to exist durably

  std::mutex pending_mu_;
  std::vector<Staged> pending_;                  // putUnsynced() since the last sync()
  std::vector<std::string> pending_dir_syncs_;   // parents of directories created for them
  std::vector<std::string> pending_known_;       // those directories, known after sync()
};

}  // namespace mx::store
