// tests/mime/json_value.h — a small, strict RFC 8259 JSON parser for tests and the JSON
// fuzz target: rejects trailing commas, leading zeros, unescaped control characters, lone
// surrogate escapes, invalid UTF-8, and anything after the value except whitespace.
// Duplicate keys are accepted (RFC 8259 only says names SHOULD be unique). Header-only.
// Trust: input is the parser's own output or test data; still bounded: nesting > 512 fails.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mx::testing {

struct JsonMember;

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool b = false;
  double num = 0;
  bool is_integer = false;
  int64_t integer = 0;
  std::string str;
  std::vector<JsonValue> arr;
  std::vector<JsonMember> obj;  // in document order

  bool isNull() const { return type == Type::kNull; }
  bool isString() const { return type == Type::kString; }
  bool isObject() const { return type == Type::kObject; }
  bool isArray() const { return type == Type::kArray; }
  const JsonValue* get(std::string_view key) const;
  // "" for non-strings.
  std::string_view s() const { return type == Type::kString ? std::string_view(str) : ""; }
  const JsonValue& operator[](std::string_view key) const;
  const JsonValue& operator[](size_t i) const;
  size_t size() const;
};

// An object member (a struct rather than std::pair so that JsonValue may be incomplete).
struct JsonMember {
  std::string first;
  JsonValue second;
};

inline const JsonValue* JsonValue::get(std::string_view key) const {
  if (type != Type::kObject) return nullptr;
  for (const auto& [k, v] : obj) {
    if (k == key) return &v;
  }
  return nullptr;
}
inline const JsonValue& JsonValue::operator[](std::string_view key) const {
  static const JsonValue kNull;
  const JsonValue* v = get(key);
  return v ? *v : kNull;
}
inline const JsonValue& JsonValue::operator[](size_t i) const {
  static const JsonValue kNull;
  return type == Type::kArray && i < arr.size() ? arr[i] : kNull;
}
inline size_t JsonValue::size() const { return type == Type::kArray ? arr.size() : obj.size(); }

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}

  // Parses the whole input as one JSON text. On failure returns false and sets error().
  bool parse(JsonValue* out) {
    *out = JsonValue();
    skipWs();
    if (!value(out, 0)) return false;
    skipWs();
    if (i_ != s_.size()) return fail("trailing characters");
    return true;
  }
  const std::string& error() const { return error_; }
  size_t position() const { return i_; }

 private:
  bool fail(const char* why) {
    if (error_.empty()) error_ = std::string(why) + " at offset " + std::to_string(i_);
    return false;
  }
  void skipWs() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  bool literal(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) return fail("bad literal");
    i_ += lit.size();
    return true;
  }
  bool value(JsonValue* v, int depth) {
    if (depth > 512) return fail("nesting too deep");
    if (i_ >= s_.size()) return fail("unexpected end");
    const char c = s_[i_];
    if (c == '{') return object(v, depth);
    if (c == '[') return array(v, depth);
    if (c == '"') {
      v->type = JsonValue::Type::kString;
      return string(&v->str);
    }
    if (c == 't') {
      v->type = JsonValue::Type::kBool;
      v->b = true;
      return literal("true");
    }
    if (c == 'f') {
      v->type = JsonValue::Type::kBool;
      return literal("false");
    }
    if (c == 'n') {
      v->type = JsonValue::Type::kNull;
      return literal("null");
    }
    return number(v);
  }
  bool object(JsonValue* v, int depth) {
    v->type = JsonValue::Type::kObject;
    ++i_;
    skipWs();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return true;
    }
    for (;;) {
      skipWs();
      if (i_ >= s_.size() || s_[i_] != '"') return fail("expected key");
      std::string key;
      if (!string(&key)) return false;
      skipWs();
      if (i_ >= s_.size() || s_[i_] != ':') return fail("expected ':'");
      ++i_;
      skipWs();
      JsonValue child;
      if (!value(&child, depth + 1)) return false;
      v->obj.push_back(JsonMember{std::move(key), std::move(child)});
      skipWs();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }
  bool array(JsonValue* v, int depth) {
    v->type = JsonValue::Type::kArray;
    ++i_;
    skipWs();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return true;
    }
    for (;;) {
      skipWs();
      JsonValue child;
      if (!value(&child, depth + 1)) return false;
      v->arr.push_back(std::move(child));
      skipWs();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }
  static void appendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(uint32_t* v) {
    if (s_.size() - i_ < 4) return fail("short \\u escape");
    uint32_t x = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      x <<= 4;
      if (c >= '0' && c <= '9') {
        x |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        x |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        x |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return fail("bad hex digit");
      }
    }
    *v = x;
    return true;
  }
  bool string(std::string* out) {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return fail("control character in string");
      if (c == '\\') {
        if (++i_ >= s_.size()) return fail("end in escape");
        const char e = s_[i_++];
        switch (e) {
          case '"':
            *out += '"';
            break;
          case '\\':
            *out += '\\';
            break;
          case '/':
            *out += '/';
            break;
          case 'b':
            *out += '\b';
            break;
          case 'f':
            *out += '\f';
            break;
          case 'n':
            *out += '\n';
            break;
          case 'r':
            *out += '\r';
            break;
          case 't':
            *out += '\t';
            break;
          case 'u': {
            uint32_t cp = 0;
            if (!hex4(&cp)) return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (s_.substr(i_, 2) != "\\u") return fail("lone high surrogate");
              i_ += 2;
              uint32_t lo = 0;
              if (!hex4(&lo)) return false;
              if (lo < 0xDC00 || lo > 0xDFFF) return fail("bad low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              return fail("lone low surrogate");
            }
            appendUtf8(out, cp);
            break;
          }
          default:
            return fail("bad escape");
        }
        continue;
      }
      if (c < 0x80) {
        *out += static_cast<char>(c);
        ++i_;
        continue;
      }
      // UTF-8 sequence: validate strictly (RFC 3629).
      size_t n;
      uint32_t cp;
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
        return fail("invalid UTF-8 lead byte");
      }
      if (s_.size() - i_ < n) return fail("truncated UTF-8");
      for (size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(s_[i_ + k]);
        if ((cc & 0xC0) != 0x80) return fail("invalid UTF-8 continuation");
        cp = (cp << 6) | (cc & 0x3F);
      }
      if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
          (cp >= 0xD800 && cp <= 0xDFFF)) {
        return fail("invalid UTF-8 code point");
      }
      out->append(s_.data() + i_, n);
      i_ += n;
    }
    return fail("unterminated string");
  }
  bool number(JsonValue* v) {
    const size_t b = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size()) return fail("bad number");
    if (s_[i_] == '0') {
      ++i_;
    } else if (s_[i_] >= '1' && s_[i_] <= '9') {
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    } else {
      return fail("bad value");
    }
    bool integer = true;
    if (i_ < s_.size() && s_[i_] == '.') {
      integer = false;
      ++i_;
      if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') return fail("bad fraction");
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      integer = false;
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') return fail("bad exponent");
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    const std::string text(s_.substr(b, i_ - b));
    v->type = JsonValue::Type::kNumber;
    v->num = std::strtod(text.c_str(), nullptr);
    v->is_integer = integer;
    if (integer) v->integer = std::strtoll(text.c_str(), nullptr, 10);
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string error_;
};

inline bool parseJson(std::string_view s, JsonValue* out, std::string* error = nullptr) {
  JsonParser p(s);
  const bool ok = p.parse(out);
  if (!ok && error) *error = p.error();
  return ok;
}

}  // namespace mx::testing
