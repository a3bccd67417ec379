// app/backends.cc — see backends.h. The rows are compiled in by the MXGATE_WITH_<BACKEND>
// definitions that src/app/CMakeLists.txt sets for each backend library this build has.
#include "app/backends.h"

#ifdef MXGATE_WITH_STORE_LOCAL
#include "store/local/local_blob_store.h"
#endif
#ifdef MXGATE_WITH_EVENTS_FILE
#include "events/file/file_event_sink.h"
#endif

namespace mx::app {
namespace {

#ifdef MXGATE_WITH_STORE_LOCAL
Result<store::BlobStorePtr> makeLocalStore(const Config& c) {
  store::LocalBlobStoreOptions o;
  o.root = c.store.dir;
  o.sync_method = c.store.sync == "file" ? store::SyncMethod::kPerFile : store::SyncMethod::kFilesystem;
  auto s = store::LocalBlobStore::open(o);
  if (!s.ok()) return Error(s.error().errorClass(), "store.dir " + c.store.dir + ": " + s.error().message());
  return store::BlobStorePtr(std::move(*s));
}
#endif

#ifdef MXGATE_WITH_EVENTS_FILE
Result<events::EventSinkPtr> makeFileSink(const Config& c) {
  auto s = events::FileEventSink::open({c.events.file, true});
  if (!s.ok()) return Error(s.error().errorClass(), "events.file " + c.events.file + ": " + s.error().message());
  return events::EventSinkPtr(std::move(*s));
}
#endif

constexpr StoreBackend kStoreBackends[] = {
#ifdef MXGATE_WITH_STORE_LOCAL
    {"local", "a directory tree under store.dir (durable puts, batch sync per store.sync)", makeLocalStore},
#endif
    {{}, {}, nullptr},  // end marker, so the table is never empty
};

constexpr SinkBackend kSinkBackends[] = {
#ifdef MXGATE_WITH_EVENTS_FILE
    {"file", "one CloudEvents JSON line per message appended to events.file", makeFileSink},
#endif
    {{}, {}, nullptr},
};

template <typename T, size_t N>
std::span<const T> rows(const T (&table)[N]) {
  return std::span<const T>(table, N - 1);  // without the end marker
}

template <typename T>
const T* find(std::span<const T> table, std::string_view name) {
  for (const auto& b : table) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

template <typename T>
std::string known(std::span<const T> table, std::string_view option_family) {
  if (table.empty()) return "this build has none (enable one with -DMXGATE_WITH_" + std::string(option_family) + "_<NAME>=ON)";
  std::string s = "this build has ";
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0) s += ", ";
    s += "\"" + std::string(table[i].name) + "\"";
  }
  return s;
}

int lineOf(const Config& c, const char* key) {
  auto it = c.key_lines.find(key);
  return it == c.key_lines.end() ? 0 : it->second;
}

}  // namespace

std::span<const StoreBackend> storeBackends() { return rows(kStoreBackends); }
std::span<const SinkBackend> sinkBackends() { return rows(kSinkBackends); }

void validateBackends(const Config& c, std::vector<ConfigError>* errors) {
  if (!find(storeBackends(), c.store.backend)) {
    errors->push_back({"store.backend", lineOf(c, "store.backend"),
                       "unknown backend \"" + c.store.backend + "\"; " + known(storeBackends(), "STORE")});
  }
  if (!find(sinkBackends(), c.events.sink)) {
    errors->push_back({"events.sink", lineOf(c, "events.sink"),
                       "unknown sink \"" + c.events.sink + "\"; " + known(sinkBackends(), "EVENTS")});
  }
}

Result<store::BlobStorePtr> makeStore(const Config& c) {
  const StoreBackend* b = find(storeBackends(), c.store.backend);
  if (!b) return Error(ErrorClass::kConfig, "store.backend: unknown backend \"" + c.store.backend + "\"");
  return b->make(c);
}

Result<events::EventSinkPtr> makeSink(const Config& c) {
  const SinkBackend* b = find(sinkBackends(), c.events.sink);
  if (!b) return Error(ErrorClass::kConfig, "events.sink: unknown sink \"" + c.events.sink + "\"");
  return b->make(c);
}

}  // namespace mx::app
