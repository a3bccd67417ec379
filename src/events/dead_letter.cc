// events/dead_letter.cc — see dead_letter.h.
#include "events/dead_letter.h"

#include <vector>

#include "core/json_writer.h"
#include "core/time_format.h"

namespace mx::events {

Result<std::unique_ptr<DeadLetterFile>> DeadLetterFile::open(const std::string& path, bool fsync) {
  auto f = JsonLinesFile::open(path, fsync);
  if (!f.ok()) return f.error();
  return std::unique_ptr<DeadLetterFile>(new DeadLetterFile(std::move(*f)));
}

Status DeadLetterFile::write(std::string_view sink, std::span<const DeadLetter> letters) {
  std::vector<std::string> text;
  text.reserve(letters.size());
  for (const auto& d : letters) {
    std::string line;
    line.reserve(d.event->json.size() + d.reason.size() + 160);
    JsonWriter w(line);
    w.beginObject();
    w.field("dead_lettered_at", formatRfc3339(d.at));
    w.field("sink", sink);
    w.field("error_class", errorClassName(d.error_class));
    w.field("reason", d.reason);
    w.field("attempts", static_cast<uint64_t>(d.attempts));
    w.key("event");
    if (d.event->json.empty()) {
      w.null();
    } else {
      w.raw(d.event->json);
    }
    w.endObject();
    text.push_back(std::move(line));
  }
  std::vector<std::string_view> views(text.begin(), text.end());
  return file_->append(views);
}

}  // namespace mx::events
