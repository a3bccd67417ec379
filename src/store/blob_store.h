// store/blob_store.h — BlobStore: where raw messages, parsed JSON and attachments end up
// (DESIGN.md "Storage layout"). One interface, one subdirectory per backend: local/ (a
// directory tree), memory/ (tests); s3/ later. Keys are '/'-separated relative paths built
// by store/keys.h.
//
// Threads: implementations are thread-safe unless they say otherwise.
// Errors: kTransientBackend — may heal, retry with backoff; kPermanentBackend — will not
// heal for this request (e.g. an invalid key); kNotFound — get() of a missing key.
// Trust: keys come from our own code (keys.h) but every backend still runs validateKey(),
// so a bug upstream can never write outside the store's root.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace mx::store {

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Stores `bytes` under `key`. When ok is returned the object is durable (a crash of the
  // process or the machine cannot lose it). Putting an existing key replaces the object
  // atomically: a reader sees the old bytes or the new, never a mix (idempotent retries).
  virtual Status put(std::string_view key, std::string_view bytes) = 0;

  // As put(), with the bytes taken from the file at `path` (for large bodies: a backend
  // may copy or stream it without holding it in memory). The default reads it into memory.
  virtual Status putFile(std::string_view key, const std::string& path);

  // The object's bytes; kNotFound if there is none.
  virtual Result<std::string> get(std::string_view key) = 0;

  // Whether an object exists under `key` (an error if that cannot be determined).
  virtual Result<bool> exists(std::string_view key) = 0;

  // Group durability, for a consumer that stores many objects per batch (the pipeline):
  // putUnsynced() stores like put() but may defer the expensive part; the object is
  // visible no later than the next sync() and durable only once sync() returns ok. If
  // sync() fails, no object put since the previous sync() is guaranteed to exist: put them
  // all again. A crash before sync() may lose them, but never leaves a partial object
  // visible. The defaults are put() and a no-op. Same threads and errors as put().
  virtual Status putUnsynced(std::string_view key, std::string_view bytes) { return put(key, bytes); }
  virtual Status sync() { return okStatus(); }

  // As put(), answered through `done` (once, on any thread) instead of the return value:
  // for callers that must not block (ack_after = "store" waits for it before the 250).
  // Backends that do network I/O override it to never block; the default calls put() on
  // the calling thread.
  // NOLINTNEXTLINE(performance-unnecessary-value-param): by value for the overriders, which keep both.
  virtual void putAsync(std::string_view key, std::string bytes, std::function<void(Status)> done) {
    done(put(key, bytes));
  }
};
using BlobStorePtr = std::unique_ptr<BlobStore>;

// Longest key accepted, in bytes, and longest single segment (NAME_MAX on Linux).
inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr size_t kMaxKeySegmentBytes = 255;

// A key is 1..kMaxKeyBytes bytes of '/'-separated segments; each segment is non-empty, at
// most kMaxKeySegmentBytes, does not start with '.' (so no "." or "..", and no clash with
// a backend's hidden temporary files), and holds no NUL, no control character (< 0x20,
// 0x7F) and no backslash. The key does not start or end with '/'. Errors are
// kPermanentBackend and name the problem.
Status validateKey(std::string_view key);

}  // namespace mx::store
