// store/keys.cc — see keys.h. UTF-8 per RFC 3629 (no overlongs, no surrogates, at most
// U+10FFFF); the characters removed or replaced are listed in keys.h.
#include "store/keys.h"

#include <cctype>

#include "core/time_format.h"

namespace mx::store {
namespace {

// Decodes one UTF-8 sequence at s[i]; returns its length (0 if invalid) and sets cp.
size_t decodeUtf8(std::string_view s, size_t i, uint32_t& cp) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  size_t n;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return n;
}

bool invisibleFormat(uint32_t cp) {
  return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x061C || cp == 0xFEFF || cp == 0x2028 ||
         cp == 0x2029;
}

bool slashLike(uint32_t cp) {
  return cp == 0x2044 || cp == 0x2215 || cp == 0x29F8 || cp == 0xFF0F || cp == 0xFF3C || cp == 0x2216;
}

bool trimmable(char c) { return c == '.' || c == ' '; }

// Length of the longest prefix of s, at most `max` bytes, that ends on a character
// boundary (s is valid UTF-8).
size_t utf8Prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

bool deviceName(std::string_view s) {
  std::string_view stem = s.substr(0, s.find('.'));
  while (!stem.empty() && stem.back() == ' ') stem.remove_suffix(1);
  std::string up;
  for (char c : stem) up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (up == "CON" || up == "PRN" || up == "AUX" || up == "NUL") return true;
  return up.size() == 4 && (up.compare(0, 3, "COM") == 0 || up.compare(0, 3, "LPT") == 0) &&
         up[3] >= '1' && up[3] <= '9';
}

std::string sanitizeSegment(std::string_view s, size_t max, std::string_view fallback) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool keep = std::isalnum(c) || c == '.' || c == '-' || c == '_';
    out.push_back(keep && c < 0x80 ? ch : '_');
  }
  size_t lead = 0;
  while (lead < out.size() && out[lead] == '.') ++lead;
  out.erase(0, lead);
  if (out.size() > max) out.resize(max);
  if (out.empty()) out = fallback;
  return out;
}

}  // namespace

std::string sanitizeTenant(std::string_view tenant) {
  return sanitizeSegment(tenant, kMaxTenantBytes, "default");
}

std::string sanitizeFilename(std::string_view name, size_t max_bytes) {
  if (max_bytes < 16) max_bytes = 16;
  size_t sep = name.find_last_of("/\\");
  if (sep != std::string_view::npos) name = name.substr(sep + 1);
  std::string out;
  for (size_t i = 0; i < name.size();) {
    uint32_t cp;
    size_t n = decodeUtf8(name, i, cp);
    if (n == 0) {
      out.push_back('_');
      ++i;
      continue;
    }
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || invisibleFormat(cp)) {
      // removed
    } else if (cp == ':' || cp == '*' || cp == '?' || cp == '"' || cp == '<' || cp == '>' ||
               cp == '|' || slashLike(cp)) {
      out.push_back('_');
    } else {
      out.append(name.substr(i, n));
    }
    i += n;
  }
  size_t lead = 0;
  while (lead < out.size() && trimmable(out[lead])) ++lead;
  out.erase(0, lead);
  while (!out.empty() && trimmable(out.back())) out.pop_back();
  if (out.empty()) return "attachment";
  // Cuts `out` to `limit` bytes, keeping a short extension.
  auto cut = [&](size_t limit) {
    std::string ext;
    size_t dot = out.rfind('.');
    if (dot != std::string::npos && dot > 0 && out.size() - dot >= 2 && out.size() - dot <= 16 &&
        out.size() - dot <= limit / 2) {
      ext = out.substr(dot);
    }
    std::string stem = out.substr(0, out.size() - ext.size());
    stem.resize(utf8Prefix(stem, limit - ext.size()));
    while (!stem.empty() && trimmable(stem.back())) stem.pop_back();
    if (stem.empty()) stem = "file";
    return stem + ext;
  };
  std::string full = out;
  if (out.size() > max_bytes) out = cut(max_bytes);
  if (deviceName(out)) {
    if (out.size() + 1 > max_bytes) {
      out = full;
      out = cut(max_bytes - 1);
    }
    out.insert(out.begin(), '_');
  }
  return out;
}

KeyLayout::KeyLayout(std::string_view prefix) {
  size_t start = 0;
  while (start < prefix.size()) {
    size_t end = prefix.find('/', start);
    if (end == std::string_view::npos) end = prefix.size();
    std::string_view seg = prefix.substr(start, end - start);
    if (!seg.empty()) prefix_ += sanitizeSegment(seg, 128, "_") + "/";
    start = end + 1;
  }
}

std::string KeyLayout::dated(std::string_view tenant, std::string_view kind, WallTime t,
                             const MessageId& id, std::string_view ext) const {
  std::string k = prefix_;
  k += sanitizeTenant(tenant);
  k += '/';
  k += kind;
  k += '/';
  k += formatDatePath(t);
  k += '/';
  k += id.toString();
  k += ext;
  return k;
}

std::string KeyLayout::raw(std::string_view tenant, WallTime received_at, const MessageId& id) const {
  return dated(tenant, "raw", received_at, id, ".eml");
}

std::optional<RawKeyParts> KeyLayout::parseRaw(std::string_view key) const {
  if (key.size() <= prefix_.size() || key.substr(0, prefix_.size()) != prefix_) return std::nullopt;
  key.remove_prefix(prefix_.size());
  // tenant "/raw/" yyyy "/" mm "/" dd "/" id ".eml"
  constexpr size_t kTail = 4 + 1 + 2 + 1 + 2 + 1 + MessageId::kTextLength + 4;  // "yyyy/mm/dd/<id>.eml"
  const size_t slash = key.find('/');
  if (slash == std::string_view::npos || slash == 0 || key.size() != slash + 5 + kTail ||
      key.substr(slash, 5) != "/raw/") {
    return std::nullopt;
  }
  RawKeyParts p;
  p.tenant = std::string(key.substr(0, slash));
  if (sanitizeTenant(p.tenant) != p.tenant) return std::nullopt;
  std::string_view tail = key.substr(slash + 5);
  auto id = MessageId::parse(tail.substr(11, MessageId::kTextLength));
  if (!id || tail.substr(11 + MessageId::kTextLength) != ".eml") return std::nullopt;
  p.id = *id;
  const std::string date(tail.substr(0, 10));
  const WallTime id_time{std::chrono::milliseconds(static_cast<int64_t>(id->millis()))};
  if (formatDatePath(id_time) == date) {
    p.received_at = id_time;
  } else {
    auto midnight = parseRfc3339(date.substr(0, 4) + "-" + date.substr(5, 2) + "-" + date.substr(8, 2) + "T00:00:00Z");
    if (!midnight || date[4] != '/' || date[7] != '/') return std::nullopt;
    p.received_at = *midnight;
  }
  if (raw(p.tenant, p.received_at, p.id) != std::string(prefix_) + std::string(key)) return std::nullopt;
  return p;
}

std::string KeyLayout::parsed(std::string_view tenant, WallTime received_at, const MessageId& id) const {
  return dated(tenant, "parsed", received_at, id, ".json");
}

std::string KeyLayout::attachment(std::string_view tenant, const MessageId& id, size_t n,
                                  std::string_view filename) const {
  std::string k = prefix_;
  k += sanitizeTenant(tenant);
  k += "/attachments/";
  k += id.toString();
  k += '/';
  k += std::to_string(n);
  k += '-';
  k += sanitizeFilename(filename);
  return k;
}

}  // namespace mx::store
