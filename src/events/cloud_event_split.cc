// events/cloud_event_split.cc — see cloud_event_split.h. A small validating JSON scanner
// (RFC 8259) specialised to one object: the top level is read member by member; `data` is
// skipped (validated, depth-bounded) and kept as a span of the input; every other member must
// be a scalar and is converted to its canonical string. One pass, no allocation beyond the
// attribute strings.
#include "events/cloud_event_split.h"

#include <cstdint>

namespace mx::events {
namespace {

class Scanner {
 public:
  Scanner(std::string_view in, const SplitLimits& limits) : in_(in), limits_(limits) {}

  Result<CloudEventParts> run();

 private:
  Error fail(std::string_view what) const {
    return Error(ErrorClass::kProtocol, "cloudevent: " + std::string(what) + " at offset " + std::to_string(pos_));
  }
  bool atEnd() const { return pos_ >= in_.size(); }
  char peek() const { return in_[pos_]; }
  void skipSpace() {
    // RFC 8259 §2: ws = space, horizontal tab, line feed, carriage return.
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  bool consume(char c) {
    skipSpace();
    if (atEnd() || peek() != c) return false;
    ++pos_;
    return true;
  }

  // Reads a string whose opening quote is at pos_; appends its unescaped UTF-8 to *out when
  // out is non-null. Returns an empty optional on success, the error otherwise.
  std::optional<Error> string(std::string* out);
  std::optional<Error> utf8Sequence(std::string* out);
  std::optional<Error> escape(std::string* out);
  std::optional<Error> number();
  std::optional<Error> literal(std::string_view word);
  // Skips any value at pos_ (after whitespace), `depth` being the nesting of its container.
  std::optional<Error> skipValue(int depth);

  std::string_view in_;
  const SplitLimits& limits_;
  size_t pos_ = 0;
};

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// CloudEvents v1.0.2 "Attribute Naming Convention": lower-case ASCII letters and digits.
// data_base64 is the JSON event format's own member (§3.1), carried as an attribute here so
// the caller can decide what to do with binary data.
bool validAttributeName(std::string_view name) {
  if (name == "data_base64") return true;
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::optional<Error> Scanner::utf8Sequence(std::string* out) {
  // RFC 3629 §4: the well-formed sequences; overlong forms, surrogates and code points above
  // U+10FFFF are refused so that a header value is always valid UTF-8.
  const auto b0 = static_cast<unsigned char>(in_[pos_]);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return fail("invalid UTF-8 lead byte");
  }
  if (in_.size() - pos_ < len) return fail("truncated UTF-8 sequence");
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(in_[pos_ + i]);
    const unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xBF;
    if (b < min || b > max) return fail("invalid UTF-8 sequence");
  }
  if (out != nullptr) out->append(in_.substr(pos_, len));
  pos_ += len;
  return std::nullopt;
}

std::optional<Error> Scanner::escape(std::string* out) {
  // pos_ is on the backslash (RFC 8259 §7).
  if (in_.size() - pos_ < 2) return fail("truncated escape");
  const char c = in_[pos_ + 1];
  if (c != 'u') {
    // The one-letter escapes and the characters they stand for.
    constexpr std::string_view kFrom = "\"\\/bfnrt", kTo = "\"\\/\b\f\n\r\t";
    const size_t which = kFrom.find(c);
    if (which == std::string_view::npos) return fail("invalid escape");
    if (out != nullptr) *out += kTo[which];
    pos_ += 2;
    return std::nullopt;
  }
  auto hex4 = [&](size_t at) -> int32_t {
    if (in_.size() < at + 4) return -1;
    int32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      int d = hexDigit(in_[at + i]);
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  };
  int32_t cp = hex4(pos_ + 2);
  if (cp < 0) return fail("invalid \\u escape");
  size_t consumed = 6;
  if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("unpaired low surrogate");
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    // A high surrogate must be followed by an escaped low surrogate (RFC 8259 §7); a lone one
    // has no UTF-8 form.
    if (in_.size() < pos_ + 12 || in_[pos_ + 6] != '\\' || in_[pos_ + 7] != 'u') return fail("unpaired high surrogate");
    int32_t low = hex4(pos_ + 8);
    if (low < 0xDC00 || low > 0xDFFF) return fail("unpaired high surrogate");
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    consumed = 12;
  }
  if (out != nullptr) appendUtf8(*out, static_cast<uint32_t>(cp));
  pos_ += consumed;
  return std::nullopt;
}

std::optional<Error> Scanner::string(std::string* out) {
  ++pos_;  // the opening quote
  while (true) {
    if (atEnd()) return fail("unterminated string");
    const auto c = static_cast<unsigned char>(peek());
    if (c == '"') {
      ++pos_;
      return std::nullopt;
    }
    if (c == '\\') {
      if (auto e = escape(out)) return e;
    } else if (c < 0x20) {
      return fail("control character in string");
    } else if (c >= 0x80) {
      if (auto e = utf8Sequence(out)) return e;
    } else {
      // A run of plain ASCII at once.
      size_t start = pos_;
      while (!atEnd()) {
        const auto d = static_cast<unsigned char>(peek());
        if (d == '"' || d == '\\' || d < 0x20 || d >= 0x80) break;
        ++pos_;
      }
      if (out != nullptr) out->append(in_.substr(start, pos_ - start));
    }
  }
}

std::optional<Error> Scanner::number() {
  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  auto digits = [&] {
    size_t start = pos_;
    while (!atEnd() && peek() >= '0' && peek() <= '9') ++pos_;
    return pos_ - start;
  };
  if (!atEnd() && peek() == '-') ++pos_;
  if (atEnd()) return fail("truncated number");
  if (peek() == '0') {
    ++pos_;
  } else if (digits() == 0) {
    return fail("invalid number");
  }
  if (!atEnd() && peek() == '.') {
    ++pos_;
    if (digits() == 0) return fail("invalid number fraction");
  }
  if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
    ++pos_;
    if (!atEnd() && (peek() == '+' || peek() == '-')) ++pos_;
    if (digits() == 0) return fail("invalid number exponent");
  }
  return std::nullopt;
}

std::optional<Error> Scanner::literal(std::string_view word) {
  if (in_.substr(pos_, word.size()) != word) return fail("invalid literal");
  pos_ += word.size();
  return std::nullopt;
}

std::optional<Error> Scanner::skipValue(int depth) {
  skipSpace();
  if (atEnd()) return fail("value expected");
  const char c = peek();
  if (c == '"') return string(nullptr);
  if (c == 't') return literal("true");
  if (c == 'f') return literal("false");
  if (c == 'n') return literal("null");
  if (c == '-' || (c >= '0' && c <= '9')) return number();
  if (c != '{' && c != '[') return fail("value expected");
  if (depth + 1 > limits_.max_depth) return fail("nesting deeper than " + std::to_string(limits_.max_depth));
  const bool object = c == '{';
  const char close = object ? '}' : ']';
  ++pos_;
  if (consume(close)) return std::nullopt;
  while (true) {
    if (object) {
      skipSpace();
      if (atEnd() || peek() != '"') return fail("member name expected");
      if (auto e = string(nullptr)) return e;
      if (!consume(':')) return fail("':' expected");
    }
    if (auto e = skipValue(depth + 1)) return e;
    if (consume(close)) return std::nullopt;
    if (!consume(',')) return fail(object ? "',' or '}' expected" : "',' or ']' expected");
  }
}

Result<CloudEventParts> Scanner::run() {
  if (in_.size() > limits_.max_bytes) {
    return Error(ErrorClass::kProtocol, "cloudevent: " + std::to_string(in_.size()) +
                                            " bytes, more than the limit of " + std::to_string(limits_.max_bytes));
  }
  CloudEventParts parts;
  if (!consume('{')) return fail("'{' expected");
  bool first = true;
  while (true) {
    if (first && consume('}')) break;
    first = false;
    skipSpace();
    if (atEnd() || peek() != '"') return fail("member name expected");
    const size_t name_at = pos_;
    std::string name;
    if (auto e = string(&name)) return *e;
    if (!consume(':')) return fail("':' expected");
    skipSpace();
    const size_t value_at = pos_;
    if (name == "data") {
      if (parts.data) {
        pos_ = name_at;
        return fail("duplicate member \"data\"");
      }
      if (auto e = skipValue(1)) return *e;
      parts.data = in_.substr(value_at, pos_ - value_at);
    } else {
      if (!validAttributeName(name)) {
        pos_ = name_at;
        return fail("attribute name is not lower-case a-z0-9");
      }
      for (const auto& [n, v] : parts.attributes) {
        if (n == name) {
          pos_ = name_at;
          return fail("duplicate attribute \"" + name + "\"");
        }
      }
      if (atEnd()) return fail("value expected");
      const char c = peek();
      std::string value;
      bool present = true;
      if (c == '"') {
        if (auto e = string(&value)) return *e;
      } else if (c == '{' || c == '[') {
        return fail("attribute \"" + name + "\" is an object or array");
      } else if (c == 'n') {
        if (auto e = literal("null")) return *e;
        present = false;  // JSON event format §2.2: null means absent
      } else {
        if (auto e = skipValue(1)) return *e;
        value = std::string(in_.substr(value_at, pos_ - value_at));
      }
      if (present) {
        if (parts.attributes.size() >= limits_.max_attributes) {
          pos_ = name_at;
          return fail("more than " + std::to_string(limits_.max_attributes) + " attributes");
        }
        parts.attributes.emplace_back(std::move(name), std::move(value));
      }
    }
    if (consume('}')) break;
    if (!consume(',')) return fail("',' or '}' expected");
  }
  skipSpace();
  if (!atEnd()) return fail("text after the object");
  return parts;
}

}  // namespace

const std::string* CloudEventParts::find(std::string_view name) const {
  for (const auto& [n, v] : attributes) {
    if (n == name) return &v;
  }
  return nullptr;
}

Result<CloudEventParts> splitCloudEvent(std::string_view json, const SplitLimits& limits) {
  return Scanner(json, limits).run();
}

}  // namespace mx::events
