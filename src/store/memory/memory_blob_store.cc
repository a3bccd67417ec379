// store/memory/memory_blob_store.cc — see memory_blob_store.h.
#include "store/memory/memory_blob_store.h"

namespace mx::store {

Status MemoryBlobStore::put(std::string_view key, std::string_view bytes) {
  if (auto s = validateKey(key); !s.ok()) return s;
  std::lock_guard l(mu_);
  if (fail_next_ > 0) {
    --fail_next_;
    return Error(fail_class_, "store: injected failure for " + std::string(key));
  }
  objects_[std::string(key)] = std::string(bytes);
  ++puts_;
  return okStatus();
}

Status MemoryBlobStore::putUnsynced(std::string_view key, std::string_view bytes) {
  if (auto s = validateKey(key); !s.ok()) return s;
  std::lock_guard l(mu_);
  if (fail_next_ > 0) {
    --fail_next_;
    return Error(fail_class_, "store: injected failure for " + std::string(key));
  }
  pending_.emplace_back(std::string(key), std::string(bytes));
  return okStatus();
}

Status MemoryBlobStore::sync() {
  std::lock_guard l(mu_);
  if (fail_syncs_ > 0) {
    --fail_syncs_;
    pending_.clear();
    return Error(ErrorClass::kTransientBackend, "store: injected sync failure");
  }
  for (auto& [k, v] : pending_) {
    objects_[k] = std::move(v);
    ++puts_;
  }
  pending_.clear();
  return okStatus();
}

void MemoryBlobStore::failNextSyncs(int n) {
  std::lock_guard l(mu_);
  fail_syncs_ = n;
}

Result<std::string> MemoryBlobStore::get(std::string_view key) {
  if (auto s = validateKey(key); !s.ok()) return s.error();
  std::lock_guard l(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Error(ErrorClass::kNotFound, "store: no object " + std::string(key));
  return it->second;
}

Result<bool> MemoryBlobStore::exists(std::string_view key) {
  if (auto s = validateKey(key); !s.ok()) return s.error();
  std::lock_guard l(mu_);
  return objects_.find(key) != objects_.end();
}

void MemoryBlobStore::failNextPuts(int n, ErrorClass cls) {
  std::lock_guard l(mu_);
  fail_next_ = n;
  fail_class_ = cls;
}

std::vector<std::string> MemoryBlobStore::keys() const {
  std::lock_guard l(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : objects_) out.push_back(k);
  return out;
}

uint64_t MemoryBlobStore::putCount() const {
  std::lock_guard l(mu_);
  return puts_;
}

}  // namespace mx::store
