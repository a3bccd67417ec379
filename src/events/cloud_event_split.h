// events/cloud_event_split.h — splits one structured-mode CloudEvents JSON object (CloudEvents
// spec v1.0.2, JSON event format; RFC 8259 JSON) into its context attributes and the raw text
// of its `data` member, for sinks that carry the attributes apart from the data: the Kafka
// binary content mode (kafka-protocol-binding §3.2: one `ce_<name>` header per attribute, the
// data as the message value), and later the HTTP and SQS binary modes.
//
//   {"specversion":"1.0","id":"01J…","data":{"a":1}}
//     -> attributes [("specversion","1.0"), ("id","01J…")], data `{"a":1}` (the exact bytes)
//
// Attribute values come back in the canonical string form the protocol bindings use: strings
// unescaped (UTF-8), numbers as written, booleans as "true"/"false"; a null attribute is
// absent (JSON event format §2.2), so it is left out. Attributes keep document order.
//
// Trust: the text is untrusted — our own events, but read back from disk (the outbox's log),
// so it may be torn, corrupted or edited. The whole input is validated as JSON (string
// escapes, surrogate pairs, UTF-8, number grammar, nothing after the object), bounded
// (SplitLimits: input size, nesting depth of `data`, attribute count), and every failure is a
// kProtocol error naming the problem and its byte offset; no input crashes it or makes it
// recurse deeper than max_depth. Attribute names must follow the CloudEvents naming rule
// (lower-case a–z and 0–9 only; `data_base64` is the one exception the JSON format defines),
// which also makes every `ce_<name>` header name safe; duplicate names are refused.
// Threads: a pure function; call it from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace mx::events {

struct SplitLimits {
  size_t max_bytes = 8u << 20;  // the whole object
  int max_depth = 64;           // nesting inside `data` (the object itself is depth 1)
  size_t max_attributes = 64;   // top-level members other than `data`
};

struct CloudEventParts {
  // (name, value) in document order, without `data` and without null-valued attributes.
  std::vector<std::pair<std::string, std::string>> attributes;
  // The exact JSON text of the `data` member's value (a view into the input: valid while the
  // input is), or nullopt when the event has no `data`.
  std::optional<std::string_view> data;

  // The value of attribute `name`, or nullptr.
  const std::string* find(std::string_view name) const;
};

// Splits `json`; kProtocol ("cloudevent: <what> at offset <n>") when it is not one valid JSON
// object within `limits`, an attribute is an object or array, or a name breaks the rule above.
Result<CloudEventParts> splitCloudEvent(std::string_view json, const SplitLimits& limits = {});

}  // namespace mx::events
