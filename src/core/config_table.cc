// core/config_table.cc — see config_table.h.
#include "core/config_table.h"

#include <cctype>
#include <charconv>

namespace mx::config {
namespace {

bool parseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::string mustBe(Type t) { return "must be " + std::string(typeDescription(t)); }

std::string rangeError(uint64_t v, const Check& c, Type t) {
  if (v >= c.min && v <= c.max) return {};
  auto show = [t](uint64_t x) {
    if (t == Type::kSize) return formatSize(x);
    if (t == Type::kDuration) return formatDuration(Millis(static_cast<int64_t>(x)));
    return std::to_string(x);
  };
  if (c.max == std::numeric_limits<uint64_t>::max()) return "must be at least " + show(c.min);
  return "must be between " + show(c.min) + " and " + show(c.max);
}

}  // namespace

std::string_view typeDescription(Type t) {
  switch (t) {
    case Type::kString: return "a string";
    case Type::kBool: return "a boolean";
    case Type::kCount: return "a non-negative integer";
    case Type::kSize: return "a size (bytes, or a number with KiB/MiB/GiB/KB/MB/GB)";
    case Type::kDuration: return "a duration such as \"500ms\", \"30s\", \"5m\" or \"1h\"";
    case Type::kList: return "a list of strings";
    case Type::kMap:
      return "a table of names to values (\"k=v,k=v\" in the environment)";
  }
  return "a value";
}

bool parseSize(std::string_view s, uint64_t* out) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  uint64_t n;
  if (!parseU64(s.substr(0, i), &n)) return false;
  std::string_view unit = s.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1}, {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
      {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000}, {"K", 1ull << 10}, {"M", 1ull << 20},
      {"G", 1ull << 30}};
  for (const auto& [name, mult] : kUnits) {
    if (unit == name) {
      if (n > UINT64_MAX / mult) return false;
      *out = n * mult;
      return true;
    }
  }
  return false;
}

bool parseDuration(std::string_view s, Millis* out) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  uint64_t n;
  if (!parseU64(s.substr(0, i), &n)) return false;
  std::string_view unit = s.substr(i);
  uint64_t mult;
  if (unit == "ms") {
    mult = 1;
  } else if (unit == "s") {
    mult = 1000;
  } else if (unit == "m") {
    mult = 60'000;
  } else if (unit == "h") {
    mult = 3'600'000;
  } else {
    return false;
  }
  if (n > (1ull << 40)) return false;
  *out = Millis(static_cast<int64_t>(n * mult));
  return true;
}

std::vector<std::string> splitList(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string formatSize(uint64_t b) {
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  for (const auto& [name, mult] : kUnits) {
    if (b != 0 && b % mult == 0) return std::to_string(b / mult) + name;
  }
  return std::to_string(b);
}

std::string formatDuration(Millis d) {
  int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

namespace detail {

std::string assign(std::string& out, const Input& in, const Check& c) {
  if (in.kind != Input::Kind::kText && in.kind != Input::Kind::kString) return mustBe(Type::kString);
  if (c.non_empty && in.text.empty()) return "must not be empty";
  if (!c.choices.empty()) {
    bool known = false;
    for (const auto& ch : c.choices) known = known || ch == in.text;
    if (!known) {
      std::string m = "must be one of";
      for (size_t i = 0; i < c.choices.size(); ++i) m += (i ? ", \"" : " \"") + c.choices[i] + "\"";
      return m;
    }
  }
  out = in.text;
  return {};
}

std::string assign(bool& out, const Input& in, const Check&) {
  if (in.kind == Input::Kind::kBool) {
    out = in.boolean;
    return {};
  }
  if (in.kind == Input::Kind::kText) {
    if (in.text == "true" || in.text == "1" || in.text == "yes") {
      out = true;
      return {};
    }
    if (in.text == "false" || in.text == "0" || in.text == "no") {
      out = false;
      return {};
    }
  }
  return mustBe(Type::kBool);
}

std::string assign(uint32_t& out, const Input& in, const Check& c) {
  uint64_t v;
  if (in.kind == Input::Kind::kInteger && in.integer >= 0) {
    v = static_cast<uint64_t>(in.integer);
  } else if (in.kind != Input::Kind::kText || !parseU64(in.text, &v)) {
    return mustBe(Type::kCount);
  }
  if (v > UINT32_MAX) return mustBe(Type::kCount);
  if (std::string e = rangeError(v, c, Type::kCount); !e.empty()) return e;
  out = static_cast<uint32_t>(v);
  return {};
}

std::string assign(uint64_t& out, const Input& in, const Check& c) {
  uint64_t v;
  if (in.kind == Input::Kind::kInteger && in.integer >= 0) {
    v = static_cast<uint64_t>(in.integer);
  } else if ((in.kind != Input::Kind::kText && in.kind != Input::Kind::kString) || !parseSize(in.text, &v)) {
    return mustBe(Type::kSize);
  }
  if (std::string e = rangeError(v, c, Type::kSize); !e.empty()) return e;
  out = v;
  return {};
}

std::string assign(Millis& out, const Input& in, const Check& c) {
  Millis v{};
  if ((in.kind != Input::Kind::kText && in.kind != Input::Kind::kString) || !parseDuration(in.text, &v)) {
    return mustBe(Type::kDuration);
  }
  if (std::string e = rangeError(static_cast<uint64_t>(v.count()), c, Type::kDuration); !e.empty()) return e;
  out = v;
  return {};
}

std::string assign(std::vector<std::string>& out, const Input& in, const Check& c) {
  std::vector<std::string> v;
  if (in.kind == Input::Kind::kList) {
    v = in.list;
  } else if (in.kind == Input::Kind::kText) {
    v = splitList(in.text);
  } else {
    return mustBe(Type::kList);
  }
  if (c.non_empty && v.empty()) return "must not be empty";
  out = std::move(v);
  return {};
}

std::string assign(std::map<std::string, std::string>& out, const Input& in, const Check& c) {
  std::map<std::string, std::string> m;
  if (in.kind == Input::Kind::kTable) {
    for (const auto& [k, v] : in.table) m[k] = v;
  } else if (in.kind == Input::Kind::kText) {
    for (const auto& item : splitList(in.text)) {
      size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0) return "must be name=value pairs separated by commas";
      m[item.substr(0, eq)] = item.substr(eq + 1);
    }
  } else {
    return mustBe(Type::kMap);
  }
  if (c.non_empty && m.empty()) return "must not be empty";
  out = std::move(m);
  return {};
}

std::string render(const std::string& v) {
  std::string out = "\"";
  for (char ch : v) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}
std::string render(bool v) { return v ? "true" : "false"; }
std::string render(uint32_t v) { return std::to_string(v); }
std::string render(uint64_t v) {
  std::string s = formatSize(v);
  return s.find_first_not_of("0123456789") == std::string::npos ? s : "\"" + s + "\"";
}
std::string render(Millis v) { return "\"" + formatDuration(v) + "\""; }
std::string render(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + render(v[i]);
  return out + "]";
}

std::string render(const std::map<std::string, std::string>& v) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, val] : v) {
    out += (first ? " " : ", ") + render(k) + " = " + render(val);
    first = false;
  }
  return out + (v.empty() ? "}" : " }");
}

}  // namespace detail
}  // namespace mx::config
