// events/file/file_event_sink.cc — see file_event_sink.h.
#include "events/file/file_event_sink.h"

#include <vector>

namespace mx::events {

Result<std::unique_ptr<FileEventSink>> FileEventSink::open(const FileEventSinkOptions& options) {
  auto f = JsonLinesFile::open(options.path, options.fsync);
  if (!f.ok()) return f.error();
  return std::unique_ptr<FileEventSink>(new FileEventSink(std::move(*f)));
}

Status FileEventSink::publish(std::span<const Event> batch) {
  std::vector<std::string_view> lines;
  lines.reserve(batch.size());
  for (const auto& e : batch) lines.push_back(e.json);
  return file_->append(lines);
}

}  // namespace mx::events
