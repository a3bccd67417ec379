// core/json_writer.h — a small, fast JSON emitter that appends to a std::string (RFC 8259).
// Used for logs, events and the parsed-email documents. Strings are escaped and any
// invalid UTF-8 is replaced by U+FFFD, so output is always valid JSON whatever bytes come in.
// Misuse (a key outside an object, unbalanced end*) is a programming error: debug-asserted.
// Trust: values may be arbitrary untrusted bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mx {

// Appends `s` as a quoted JSON string. Returns true if the input was valid UTF-8 (false
// means at least one replacement character was written).
bool appendJsonString(std::string& out, std::string_view s);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view k);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(int64_t v);
  JsonWriter& value(uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(unsigned v) { return value(static_cast<uint64_t>(v)); }
  JsonWriter& value(long long v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(unsigned long long v) { return value(static_cast<uint64_t>(v)); }
  JsonWriter& value(double v);
  JsonWriter& value(bool v);
  JsonWriter& null();
  // Writes pre-encoded JSON text as one value (the caller vouches for it).
  JsonWriter& raw(std::string_view json);

  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }
  JsonWriter& nullField(std::string_view k) { key(k); return null(); }

  // False once any string written held invalid UTF-8.
  bool allValidUtf8() const { return valid_utf8_; }

 private:
  void separate();

  std::string& out_;
  // One entry per open container: true when the next element needs a leading comma.
  std::vector<bool> need_comma_;
  bool after_key_ = false;
  bool valid_utf8_ = true;
};

}  // namespace mx
