// core/config_table.h — the field tables through which each module owns its part of the
// configuration (DESIGN.md "Seams: config belongs to its module", after Postfix's postconf
// tables and Envoy's per-extension typed config). A module declares one table per section
// it owns ([server], [store.s3], [[listener]] …): for every key its name, type, help text,
// validation, and where the value lives in the module's own options struct. The default
// of a key is the value that struct holds when default-constructed — one default per
// setting, in one place — and docs/config.md is generated from the tables.
//
// The loader (src/app/config_loader) walks the TOML file and the environment and hands
// each value to the table as an Input; the table checks type and range and stores it.
//
// Trust: inputs are the operator's, but every value is checked for type, range and
// choices; errors are values (the message says what the key must be), never crashes.
// Secrets (secret()) are never rendered: docs and diagnostics show "(secret)".
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace mx::config {

// One value as written: a TOML scalar or array, or an environment variable's text (which
// every type parses from).
struct Input {
  enum class Kind : uint8_t { kText, kString, kBool, kInteger, kList, kTable };
  Kind kind = Kind::kText;
  std::string text;                // kText and kString
  bool boolean = false;            // kBool
  int64_t integer = 0;             // kInteger
  std::vector<std::string> list;   // kList (strings only)
  std::vector<std::pair<std::string, std::string>> table;  // kTable: a TOML table of scalars, as text

  static Input fromText(std::string t) {
    Input i;
    i.text = std::move(t);
    return i;
  }
};

enum class Type : uint8_t { kString, kBool, kCount, kSize, kDuration, kList, kMap };
// "a string", "a boolean", "a non-negative integer", … (for error messages).
std::string_view typeDescription(Type t);

// Parsers shared with other config code: sizes take bytes or KiB/MiB/GiB/KB/MB/GB,
// durations a unit ("500ms", "30s", "5m", "1h"), lists are comma-separated in text.
bool parseSize(std::string_view s, uint64_t* out);
bool parseDuration(std::string_view s, Millis* out);
std::vector<std::string> splitList(std::string_view s);
std::string formatSize(uint64_t bytes);  // "50MiB", "1000"
std::string formatDuration(Millis d);    // "30s", "500ms", "5m"

// Per-field extras, all optional.
struct Check {
  std::vector<std::string> choices;     // kString: one of these
  uint64_t min = 0;                     // kCount/kSize: value, kDuration: milliseconds
  uint64_t max = std::numeric_limits<uint64_t>::max();
  bool non_empty = false;               // kString/kList: must not be empty

  static Check atLeast(uint64_t min) {
    Check c;
    c.min = min;
    return c;
  }
  static Check between(uint64_t min, uint64_t max) {
    Check c;
    c.min = min;
    c.max = max;
    return c;
  }
  static Check oneOf(std::vector<std::string> choices) {
    Check c;
    c.choices = std::move(choices);
    return c;
  }
  static Check nonEmpty() {
    Check c;
    c.non_empty = true;
    return c;
  }
};

// A field of a section whose values live in a struct of type T.
template <typename T>
struct Field {
  std::string name;  // the key within the section, e.g. "max_message_size"
  Type type;
  std::string help;
  Check check;
  bool secret = false;  // never rendered; also settable from "<name>_file"
  // Stores the input; returns "" or what the value must be ("must be a size …").
  std::function<std::string(T&, const Input&)> set;
  // The value as TOML text (for docs).
  std::function<std::string(const T&)> show;
};

namespace detail {

template <typename M>
constexpr Type typeOf() {
  if constexpr (std::is_same_v<M, std::string>) return Type::kString;
  else if constexpr (std::is_same_v<M, bool>) return Type::kBool;
  else if constexpr (std::is_same_v<M, uint32_t>) return Type::kCount;
  else if constexpr (std::is_same_v<M, uint64_t>) return Type::kSize;
  else if constexpr (std::is_same_v<M, Millis>) return Type::kDuration;
  else if constexpr (std::is_same_v<M, std::vector<std::string>>) return Type::kList;
  else if constexpr (std::is_same_v<M, std::map<std::string, std::string>>)
    return Type::kMap;
  else static_assert(sizeof(M) == 0, "unsupported config member type");
}

// Type-checked, range-checked parse of `in` into `out`; returns "" or the complaint.
std::string assign(std::string& out, const Input& in, const Check& c);
std::string assign(bool& out, const Input& in, const Check& c);
std::string assign(uint32_t& out, const Input& in, const Check& c);
std::string assign(uint64_t& out, const Input& in, const Check& c);
std::string assign(Millis& out, const Input& in, const Check& c);
std::string assign(std::vector<std::string>& out, const Input& in, const Check& c);
// A map: a TOML table of scalars, or in text "k=v,k=v" (environment).
std::string assign(std::map<std::string, std::string>& out, const Input& in, const Check& c);
std::string render(const std::string& v);
std::string render(bool v);
std::string render(uint32_t v);
std::string render(uint64_t v);
std::string render(Millis v);
std::string render(const std::vector<std::string>& v);
std::string render(const std::map<std::string, std::string>& v);

}  // namespace detail

// The table of one section. T must be default-constructible: its default-constructed
// values are the section's defaults.
template <typename T>
class Table {
 public:
  // `name` as written in the file: "server", "store.s3", or for an array of tables its
  // element name ("listener" for [[listener]]).
  Table(std::string name, std::string help, bool array = false)
      : name_(std::move(name)), help_(std::move(help)), array_(array) {}

  // A key stored in `ref(t)`, which must return a reference into t (a member or a member
  // of a member). The member's type gives the key's type.
  template <typename Ref>
  // (All three strings are moved from; clang-tidy 14 misreads the dependent body.)
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  Table& add(std::string key, Ref ref, std::string help, Check check = {}, bool secret = false) {
    using M = std::remove_reference_t<std::invoke_result_t<Ref, T&>>;
    Field<T> f;
    f.name = std::move(key);
    f.type = detail::typeOf<M>();
    f.help = std::move(help);
    f.check = std::move(check);
    f.secret = secret;
    f.set = [ref, c = f.check](T& t, const Input& in) { return detail::assign(ref(t), in, c); };
    f.show = [ref](const T& t) { return detail::render(ref(const_cast<T&>(t))); };
    fields_.push_back(std::move(f));
    return *this;
  }
  // A member pointer is the common case.
  template <typename M>
  Table& add(std::string key, M T::*member, std::string help, Check check = {}, bool secret = false) {
    return add(std::move(key), [member](T& t) -> M& { return t.*member; }, std::move(help), std::move(check), secret);
  }
  // As add(), for a secret: never shown; "<key>_file" names a file holding the value.
  template <typename Ref>
  Table& secret(std::string key, Ref ref, std::string help) {
    return add(std::move(key), ref, std::move(help), Check{}, true);
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  bool array() const { return array_; }
  const std::vector<Field<T>>& fields() const { return fields_; }
  const Field<T>* find(std::string_view key) const {
    for (const auto& f : fields_) {
      if (f.name == key) return &f;
    }
    return nullptr;
  }

 private:
  std::string name_, help_;
  bool array_;
  std::vector<Field<T>> fields_;
};

// A section's keys as documentation rows: key (with the section prefix or, for arrays,
// "[[name]] key"), default as TOML, help. Secrets show "(secret)".
struct DocRow {
  std::string key, default_value, help;
};
template <typename T>
std::vector<DocRow> docRows(const Table<T>& table, const T& defaults) {
  std::vector<DocRow> rows;
  for (const auto& f : table.fields()) {
    std::string key = table.array() ? f.name : table.name() + "." + f.name;
    std::string help = f.help;
    if (f.secret) help += " Secret: never printed; `" + f.name + "_file` names a file that holds it.";
    if (!f.check.choices.empty()) {
      help += " One of:";
      for (size_t i = 0; i < f.check.choices.size(); ++i) help += (i ? ", `\"" : " `\"") + f.check.choices[i] + "\"`";
      help += ".";
    }
    rows.push_back({key, f.secret ? "(secret)" : f.show(defaults), help});
  }
  return rows;
}

}  // namespace mx::config
