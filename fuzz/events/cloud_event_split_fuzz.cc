// fuzz/events/cloud_event_split_fuzz.cc — libFuzzer target for events::splitCloudEvent (the
// Kafka binary mode's reader of structured CloudEvents JSON read back from the outbox): any
// bytes must give a value or a kProtocol error, never a crash (ASan/UBSan), and a value must
// be consistent:
//  - `data`, when present, is a span of the input that itself splits as a JSON value (checked
//    by wrapping it as {"data":<span>} and splitting again: same span text back);
//  - every attribute name is lower-case a-z0-9 (or data_base64) and unique, so `ce_<name>` is a
//    safe Kafka header name; the count respects the limit;
//  - re-encoding the attributes as JSON strings and splitting that gives the same values
//    (the unescaping round-trips, and every value is valid UTF-8).
// Input: the raw bytes are the JSON text. Small limits (depth 8, 16 attributes) so that the
// fuzzer reaches them quickly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "core/json_writer.h"
#include "events/cloud_event_split.h"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "cloud_event_split_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  mx::events::SplitLimits limits;
  limits.max_bytes = 1u << 16;
  limits.max_depth = 8;
  limits.max_attributes = 16;
  auto parts = mx::events::splitCloudEvent(in, limits);
  if (!parts.ok()) {
    check(parts.error().errorClass() == mx::ErrorClass::kProtocol, "error class is not kProtocol");
    check(parts.error().message().rfind("cloudevent: ", 0) == 0, "error message lacks its prefix");
    return 0;
  }
  check(parts->attributes.size() <= limits.max_attributes, "attribute limit broken");
  std::set<std::string> names;
  for (const auto& [name, value] : parts->attributes) {
    check(names.insert(name).second, "duplicate attribute returned");
    check(!name.empty(), "empty attribute name");
    for (char c : name) {
      check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_', "attribute name outside a-z0-9_");
    }
  }
  if (parts->data) {
    const std::string_view d = *parts->data;
    check(d.data() >= in.data() && d.data() + d.size() <= in.data() + in.size(), "data is not a span of the input");
    check(!d.empty(), "empty data span");
    const std::string wrapped = "{\"data\":" + std::string(d) + "}";  // outlives `again`'s view
    auto again = mx::events::splitCloudEvent(wrapped, limits);
    check(again.ok() && again->data && *again->data == d, "data span does not split again");
  }
  // Re-encode the attributes (values as JSON strings) and split again.
  std::string json;
  mx::JsonWriter w(json);
  w.beginObject();
  for (const auto& [name, value] : parts->attributes) {
    w.field(name, value);
  }
  w.endObject();
  auto round = mx::events::splitCloudEvent(json, limits);
  check(round.ok(), "re-encoded attributes do not split");
  check(round->attributes == parts->attributes, "re-encoded attributes differ");
  return 0;
}
