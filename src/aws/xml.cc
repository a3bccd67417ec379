// aws/xml.cc — see xml.h.
#include "aws/xml.h"

#include <utility>

namespace mx::aws {

std::optional<std::string> xmlElementText(std::string_view xml, std::string_view tag, size_t max_bytes) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  size_t b = xml.find(open);
  if (b == std::string_view::npos) return std::nullopt;
  b += open.size();
  const size_t e = xml.find(close, b);
  if (e == std::string_view::npos || e - b > max_bytes) return std::nullopt;
  const std::string_view raw = xml.substr(b, e - b);
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    bool decoded = false;
    if (raw[i] == '&') {
      for (const auto& [name, ch] : kEntities) {
        if (raw.substr(i, name.size()) == name) {
          out += ch;
          i += name.size() - 1;
          decoded = true;
          break;
        }
      }
    }
    if (!decoded) out += raw[i];
  }
  return out;
}

}  // namespace mx::aws
