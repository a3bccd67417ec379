// events/outbox/outbox_record.cc — see outbox_record.h.
#include "events/outbox/outbox_record.h"

#include <charconv>

namespace mx::events {
namespace {

constexpr std::string_view kMagic = "mxo1 ";
constexpr size_t kMaxHeader = 512;

// Reads one decimal integer ending at a space; advances *s past the space.
template <typename T>
bool readNumber(std::string_view* s, T* out) {
  size_t sp = s->find(' ');
  if (sp == std::string_view::npos || sp == 0) return false;
  auto [p, ec] = std::from_chars(s->data(), s->data() + sp, *out);
  if (ec != std::errc() || p != s->data() + sp) return false;
  s->remove_prefix(sp + 1);
  return true;
}

Status malformed(std::string_view what) { return Error(ErrorClass::kProtocol, "outbox record: " + std::string(what)); }

}  // namespace

std::string encodeOutboxBody(const OutboxEntry& e) {
  std::string out;
  out.reserve(e.event.json.size() + e.event.type.size() + 96);
  out += kMagic;
  out += std::to_string(e.attempts);
  out += ' ';
  out += std::to_string(e.first_failure_ms);
  out += ' ';
  out += std::to_string(e.not_before_ms);
  out += ' ';
  out += std::to_string(e.dead_lettered_ms);
  out += ' ';
  out += e.event.type;
  out += '\n';
  out += e.event.json;
  return out;
}

Status decodeOutboxBody(std::string_view body, OutboxEntry* out) {
  if (body.substr(0, kMagic.size()) != kMagic) return malformed("no mxo1 header");
  size_t nl = body.find('\n');
  if (nl == std::string_view::npos || nl > kMaxHeader) return malformed("header line missing or too long");
  std::string_view h = body.substr(kMagic.size(), nl - kMagic.size());
  if (!readNumber(&h, &out->attempts) || !readNumber(&h, &out->first_failure_ms) ||
      !readNumber(&h, &out->not_before_ms) || !readNumber(&h, &out->dead_lettered_ms)) {
    return malformed("bad number in the header");
  }
  if (h.empty() || h.find(' ') != std::string_view::npos) return malformed("bad event type");
  if (out->first_failure_ms < 0 || out->not_before_ms < 0 || out->dead_lettered_ms < 0) {
    return malformed("negative time in the header");
  }
  out->event.type.assign(h);
  out->event.json.assign(body.substr(nl + 1));
  if (out->event.json.empty()) return malformed("no event");
  return okStatus();
}

}  // namespace mx::events
