// tests/mime/schema_validator.h — validates a JsonValue against a JSON Schema (draft
// 2020-12), for the keywords schemas/parsed-email.schema.json uses: type, required,
// properties, additionalProperties, items, $ref to "#/$defs/...", enum, const, pattern,
// oneOf, minimum, and format "date-time" (RFC 3339 section 5.6, checked). Other keywords are
// reported as unsupported so that a schema change cannot silently weaken the tests.
// Trust: test code; the schema is the project's own file.
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "tests/mime/json_value.h"

namespace mx::testing {

class SchemaValidator {
 public:
  explicit SchemaValidator(const JsonValue& schema) : root_(schema) {}

  // Returns the violations (empty when valid), each "path: message".
  std::vector<std::string> validate(const JsonValue& doc) {
    errors_.clear();
    check(root_, doc, "");
    return errors_;
  }

 private:
  static bool equal(const JsonValue& a, const JsonValue& b) {
    if (a.type != b.type) return false;
    switch (a.type) {
      case JsonValue::Type::kNull:
        return true;
      case JsonValue::Type::kBool:
        return a.b == b.b;
      case JsonValue::Type::kNumber:
        return a.num == b.num;
      case JsonValue::Type::kString:
        return a.str == b.str;
      case JsonValue::Type::kArray:
        if (a.arr.size() != b.arr.size()) return false;
        for (size_t i = 0; i < a.arr.size(); ++i) {
          if (!equal(a.arr[i], b.arr[i])) return false;
        }
        return true;
      case JsonValue::Type::kObject:
        if (a.obj.size() != b.obj.size()) return false;
        for (const auto& [k, v] : a.obj) {
          const JsonValue* o = b.get(k);
          if (!o || !equal(v, *o)) return false;
        }
        return true;
    }
    return false;
  }

  static bool hasType(const JsonValue& v, const std::string& t) {
    switch (v.type) {
      case JsonValue::Type::kNull:
        return t == "null";
      case JsonValue::Type::kBool:
        return t == "boolean";
      case JsonValue::Type::kNumber:
        return t == "number" ||
               (t == "integer" &&
                (v.is_integer || v.num == static_cast<double>(static_cast<int64_t>(v.num))));
      case JsonValue::Type::kString:
        return t == "string";
      case JsonValue::Type::kArray:
        return t == "array";
      case JsonValue::Type::kObject:
        return t == "object";
    }
    return false;
  }

  static bool isDateTime(const std::string& s) {
    // RFC 3339 date-time: full-date "T" full-time; the offset is Z or +hh:mm / -hh:mm.
    static const std::regex re(
        R"(^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$)");
    std::smatch m;
    if (!std::regex_match(s, m, re)) return false;
    const int y = std::stoi(m[1]), mo = std::stoi(m[2]), d = std::stoi(m[3]);
    const int h = std::stoi(m[4]), mi = std::stoi(m[5]), se = std::stoi(m[6]);
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1) return false;
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return false;
    if (h > 23 || mi > 59 || se > 60) return false;
    if (m[9].matched && (std::stoi(m[9]) > 23 || std::stoi(m[10]) > 59)) return false;
    return true;
  }

  const JsonValue* resolve(const std::string& ref) {
    const std::string prefix = "#/$defs/";
    if (ref.compare(0, prefix.size(), prefix) != 0) return nullptr;
    const JsonValue* defs = root_.get("$defs");
    return defs ? defs->get(ref.substr(prefix.size())) : nullptr;
  }

  void error(const std::string& path, const std::string& msg) {
    if (errors_.size() < 50) errors_.push_back((path.empty() ? "/" : path) + ": " + msg);
  }

  void check(const JsonValue& schema, const JsonValue& v, const std::string& path) {
    if (schema.type == JsonValue::Type::kBool) {
      if (!schema.b) error(path, "schema false");
      return;
    }
    for (const auto& [kw, arg] : schema.obj) {
      if (kw == "$schema" || kw == "$id" || kw == "title" || kw == "description" || kw == "$defs" ||
          kw == "examples") {
        continue;
      }
      if (kw == "$ref") {
        const JsonValue* target = resolve(arg.str);
        if (!target) {
          error(path, "unresolvable $ref " + arg.str);
        } else {
          check(*target, v, path);
        }
      } else if (kw == "type") {
        bool ok = false;
        if (arg.isString()) {
          ok = hasType(v, arg.str);
        } else {
          for (const auto& t : arg.arr) ok = ok || hasType(v, t.str);
        }
        if (!ok) error(path, "wrong type");
      } else if (kw == "required") {
        if (v.isObject()) {
          for (const auto& r : arg.arr) {
            if (!v.get(r.str)) error(path, "missing required " + r.str);
          }
        }
      } else if (kw == "properties") {
        if (v.isObject()) {
          for (const auto& [k, sub] : arg.obj) {
            if (const JsonValue* c = v.get(k)) check(sub, *c, path + "/" + k);
          }
        }
      } else if (kw == "additionalProperties") {
        if (v.isObject()) {
          const JsonValue* props = schema.get("properties");
          for (const auto& [k, c] : v.obj) {
            if (props && props->get(k)) continue;
            if (arg.type == JsonValue::Type::kBool) {
              if (!arg.b) error(path, "additional property " + k);
            } else {
              check(arg, c, path + "/" + k);
            }
          }
        }
      } else if (kw == "items") {
        if (v.isArray()) {
          for (size_t i = 0; i < v.arr.size(); ++i) {
            check(arg, v.arr[i], path + "/" + std::to_string(i));
          }
        }
      } else if (kw == "enum") {
        bool ok = false;
        for (const auto& e : arg.arr) ok = ok || equal(e, v);
        if (!ok) error(path, "not in enum");
      } else if (kw == "const") {
        if (!equal(arg, v)) error(path, "not the const value");
      } else if (kw == "pattern") {
        if (v.isString() && !std::regex_search(v.str, std::regex(arg.str))) {
          error(path, "does not match " + arg.str);
        }
      } else if (kw == "minimum") {
        if (v.type == JsonValue::Type::kNumber && v.num < arg.num) error(path, "below minimum");
      } else if (kw == "oneOf") {
        int matches = 0;
        for (const auto& alt : arg.arr) {
          SchemaValidator sub(root_);
          sub.check(alt, v, path);
          if (sub.errors_.empty()) ++matches;
        }
        if (matches != 1) error(path, "oneOf matched " + std::to_string(matches));
      } else if (kw == "format") {
        if (arg.str == "date-time" && v.isString() && !isDateTime(v.str)) {
          error(path, "not an RFC 3339 date-time: " + v.str);
        }
      } else {
        error(path, "unsupported schema keyword " + kw);
      }
    }
  }

  const JsonValue& root_;
  std::vector<std::string> errors_;
};

}  // namespace mx::testing
