// app/config.cc — see config.h. TOML v1.0 through toml++ (Debian's libtomlplusplus-dev).
// The sections themselves are the modules' field tables; this file binds each table to its
// place in Config and walks the file and the environment over those bindings.
#include "app/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>

extern char** environ;

namespace mx::app {
namespace {

using config::Input;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = c == '-' || c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A secret's value from its `_file` companion: the file's content without the trailing
// line end. Returns "" and sets *error when it cannot be read.
std::string readSecretFile(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read '" + path + "': " + std::strerror(errno);
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string v = ss.str();
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  return v;
}

// One section bound to its place in a Config: a struct, or a vector of named entries.
class Binding {
 public:
  virtual ~Binding() = default;
  virtual const std::string& name() const = 0;
  virtual const std::string& help() const = 0;
  virtual bool array() const = 0;
  // Arrays: the spelling of the entry whose upper-cased name is `upname` (the
  // environment's form), or its lower-cased form for a new entry.
  virtual std::string entryName(const std::string& upname) const { return lower(upname); }
  // The key's field, if the section has one: its type and whether it is a secret.
  virtual bool has(std::string_view key, bool* secret) const = 0;
  virtual std::vector<std::string> keys() const = 0;
  // True when some key is "<group>.<name>": the section has a sub-table `group`.
  bool hasGroup(std::string_view group) const {
    const std::string prefix = std::string(group) + ".";
    for (const auto& k : keys()) {
      if (k.starts_with(prefix)) return true;
    }
    return false;
  }
  // Sets `key` of the struct, or of the entry named `entry` (created if new, with
  // `kind` for kind-specific defaults). Returns "" or what the value must be.
  virtual std::string set(const std::string& entry, std::string_view key, const Input& in) = 0;
  // Creates the entry if missing (file order), recording its line.
  virtual void touch(const std::string& entry, const std::string& kind, int line) = 0;
  // The file's entries replace the defaults: called once before the first entry.
  virtual void clearEntries() = 0;
  virtual std::vector<config::DocRow> docs() const = 0;
};

template <typename T>
class StructBinding final : public Binding {
 public:
  StructBinding(const config::Table<T>& t, T& target) : table_(t), target_(target) {}
  const std::string& name() const override { return table_.name(); }
  const std::string& help() const override { return table_.help(); }
  bool array() const override { return false; }
  bool has(std::string_view key, bool* secret) const override {
    const auto* f = table_.find(key);
    if (f && secret) *secret = f->secret;
    return f != nullptr;
  }
  std::vector<std::string> keys() const override {
    std::vector<std::string> k;
    for (const auto& f : table_.fields()) k.push_back(f.name);
    return k;
  }
  std::string set(const std::string&, std::string_view key, const Input& in) override {
    return table_.find(key)->set(target_, in);
  }
  void touch(const std::string&, const std::string&, int) override {}
  void clearEntries() override {}
  std::vector<config::DocRow> docs() const override { return config::docRows(table_, T{}); }

 private:
  const config::Table<T>& table_;
  T& target_;
};

template <typename T>
class ArrayBinding final : public Binding {
 public:
  using Make = std::function<T(const std::string& name, const std::string& kind)>;
  ArrayBinding(const config::Table<T>& t, std::vector<T>& entries, Make make)
      : table_(t), entries_(entries), make_(std::move(make)) {}
  const std::string& name() const override { return table_.name(); }
  const std::string& help() const override { return table_.help(); }
  bool array() const override { return true; }
  std::string entryName(const std::string& upname) const override {
    for (const auto& e : entries_) {
      if (upper(e.name) == upname) return e.name;
    }
    return lower(upname);
  }
  bool has(std::string_view key, bool* secret) const override {
    const auto* f = table_.find(key);
    if (f && secret) *secret = f->secret;
    return f != nullptr;
  }
  std::vector<std::string> keys() const override {
    std::vector<std::string> k;
    for (const auto& f : table_.fields()) k.push_back(f.name);
    return k;
  }
  std::string set(const std::string& entry, std::string_view key, const Input& in) override {
    return table_.find(key)->set(find(entry, "", 0), in);
  }
  void touch(const std::string& entry, const std::string& kind, int line) override { find(entry, kind, line); }
  void clearEntries() override { entries_.clear(); }
  std::vector<config::DocRow> docs() const override {
    std::vector<config::DocRow> rows = config::docRows(table_, make_("", ""));
    for (auto& r : rows) r.key = "[[" + table_.name() + "]] " + r.key;
    return rows;
  }
 private:
  T& find(const std::string& entry, const std::string& kind, int line) {
    for (auto& e : entries_) {
      if (e.name == entry) return e;
    }
    entries_.push_back(make_(entry, kind));
    if constexpr (requires(T x) { x.line; }) entries_.back().line = line;
    return entries_.back();
  }
  const config::Table<T>& table_;
  std::vector<T>& entries_;
  Make make_;
};

std::vector<std::unique_ptr<Binding>> bindings(Config& c) {
  std::vector<std::unique_ptr<Binding>> b;
  auto add = [&b](auto& table, auto& target) {
    using T = std::remove_reference_t<decltype(target)>;
    b.push_back(std::make_unique<StructBinding<T>>(table, target));
  };
  add(server::serverTable(), c.server);
  add(server::limitsTable(), c.server);
  add(server::timeoutsTable(), c.server);
  add(server::tlsTable(), c.tls);
  add(spool::spoolTable(), c.spool);
  add(store::storeTable(), c.store);
  add(store::s3Table(), c.store.s3);
  add(events::eventsTable(), c.events);
  add(pipeline::pipelineTable(), c.pipeline);
  add(server::httpTable(), c.http);
  add(server::logTable(), c.log);
  add(policy::rateLimitsTable(), c.rate_limits);
  add(policy::authLimitsTable(), c.auth_limits);
  add(lambda::lambdaTable(), c.lambda);
  b.push_back(std::make_unique<ArrayBinding<server::ListenerSettings>>(
      server::listenerTable(), c.listeners, [](const std::string& name, const std::string& kind) {
        // Kind-specific defaults; the kind itself is then set (and checked) by its key.
        server::ListenerSettings l = server::ListenerSettings::defaultsForKind(name, kind.empty() ? "smtp" : kind);
        l.kind = "smtp";
        return l;
      }));
  b.push_back(std::make_unique<ArrayBinding<events::SinkSettings>>(events::sinkTable(), c.sinks,
                                                                   [](const std::string& name, const std::string&) {
                                                                     events::SinkSettings s;
                                                                     s.name = name;
                                                                     return s;
                                                                   }));
  b.push_back(std::make_unique<ArrayBinding<policy::TenantConfig>>(
      policy::tenantTable(), c.tenants, [](const std::string& name, const std::string&) {
        policy::TenantConfig t;
        t.name = name;
        return t;
      }));
  b.push_back(std::make_unique<ArrayBinding<policy::UserConfig>>(
      policy::userTable(), c.users, [](const std::string& name, const std::string&) {
        policy::UserConfig u;
        u.name = name;
        return u;
      }));
  b.push_back(std::make_unique<ArrayBinding<policy::RateLimitConfig>>(policy::rateLimitTable(), c.rate_limit,
                                                                      [](const std::string& name, const std::string&) {
                                                                        policy::RateLimitConfig l;
                                                                        l.name = name;
                                                                        return l;
                                                                      }));
  return b;
}

int lineOf(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

// A TOML value as table input; false when it has no config form (a table, a date).
bool toInput(const toml::node& n, Input* in) {
  if (n.is_string()) {
    in->kind = Input::Kind::kString;
    in->text = *n.value<std::string>();
  } else if (n.is_boolean()) {
    in->kind = Input::Kind::kBool;
    in->boolean = *n.value<bool>();
  } else if (n.is_integer()) {
    in->kind = Input::Kind::kInteger;
    in->integer = *n.value<int64_t>();
  } else if (const toml::array* a = n.as_array()) {
    in->kind = Input::Kind::kList;
    for (const auto& e : *a) {
      if (!e.is_string()) return false;
      in->list.push_back(*e.value<std::string>());
    }
  } else if (const toml::table* t = n.as_table()) {
    // A table of scalars ([sink.properties]): each value as text.
    in->kind = Input::Kind::kTable;
    for (const auto& [k, v] : *t) {
      std::string text;
      if (v.is_string()) {
        text = *v.value<std::string>();
      } else if (v.is_boolean()) {
        text = *v.value<bool>() ? "true" : "false";
      } else if (v.is_integer()) {
        text = std::to_string(*v.value<int64_t>());
      } else {
        return false;
      }
      in->table.emplace_back(std::string(k.str()), std::move(text));
    }
  } else {
    return false;
  }
  return true;
}

class Loader {
 public:
  Loader(Config& c, std::vector<ConfigError>* errors) : c_(c), errors_(errors), bindings_(bindings(c)) {}

  void applyFile(const toml::table& root) { walkTable(root, ""); }
  void applyEnv(const std::vector<std::string>& env);

 private:
  Binding* section(std::string_view name) {
    for (auto& b : bindings_) {
      if (b->name() == name) return b.get();
    }
    return nullptr;
  }
  bool isSectionPrefix(const std::string& prefix) {
    for (auto& b : bindings_) {
      if (b->name().rfind(prefix + ".", 0) == 0) return true;
    }
    return false;
  }
  // Sets one key (or its secret `_file` companion) of a section; records errors.
  void setKey(Binding& b, const std::string& entry, const std::string& where, std::string_view key,
              Input in, int line) {
    bool secret = false;
    std::string_view field = key;
    bool from_file = false;
    if (!b.has(field, &secret) && key.size() > 5 && key.substr(key.size() - 5) == "_file") {
      field = key.substr(0, key.size() - 5);
      from_file = b.has(field, &secret) && secret;
      if (!from_file) field = key;
    }
    if (!b.has(field, nullptr)) {
      errors_->push_back({where, line, "unknown key"});
      return;
    }
    if (from_file) {
      if (in.kind != Input::Kind::kString && in.kind != Input::Kind::kText) {
        errors_->push_back({where, line, "must be a path (a string)"});
        return;
      }
      std::string error;
      std::string v = readSecretFile(in.text, &error);
      if (!error.empty()) {
        errors_->push_back({where, line, error});
        return;
      }
      in = Input::fromText(v);
      in.kind = Input::Kind::kString;
    }
    if (std::string e = b.set(entry, field, in); !e.empty()) errors_->push_back({where, line, e});
  }

  void walkTable(const toml::table& t, const std::string& prefix) {
    for (const auto& [k, v] : t) {
      std::string name = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      Binding* b = section(name);
      if (b && b->array()) {
        applyArray(*b, v);
      } else if (b) {
        const toml::table* st = v.as_table();
        if (!st) {
          errors_->push_back({name, lineOf(v), "must be a table ([" + name + "])"});
          continue;
        }
        applySection(*b, *st, name);
      } else if (v.is_table() && isSectionPrefix(name)) {
        walkTable(*v.as_table(), name);
      } else {
        errors_->push_back({name, lineOf(v), "unknown section or key"});
      }
    }
  }

  void applySection(Binding& b, const toml::table& t, const std::string& name) {
    for (const auto& [k, v] : t) {
      std::string key = name + "." + std::string(k.str());
      if (v.is_table() && section(key)) {  // a nested section ([store.s3] inside [store])
        applySection(*section(key), *v.as_table(), key);
        continue;
      }
      c_.key_lines[key] = lineOf(v);
      Input in;
      if (!toInput(v, &in)) {
        errors_->push_back({key, lineOf(v), b.has(k.str(), nullptr) ? "has an unsupported type" : "unknown key"});
        continue;
      }
      setKey(b, "", key, k.str(), std::move(in), lineOf(v));
    }
  }

  void applyArray(Binding& b, const toml::node& node) {
    const toml::array* arr = node.as_array();
    if (!arr || !arr->is_array_of_tables()) {
      errors_->push_back({b.name(), lineOf(node), "must be an array of tables ([[" + b.name() + "]])"});
      return;
    }
    b.clearEntries();  // the file's entries replace the defaults
    size_t index = 0;
    for (const auto& item : *arr) {
      const toml::table& t = *item.as_table();
      const toml::node* name = t.get("name");
      if (!name || !name->is_string() || name->value<std::string>()->empty()) {
        errors_->push_back({b.name() + "[" + std::to_string(index) + "].name", lineOf(item),
                            "is required (a non-empty string)"});
        ++index;
        continue;
      }
      ++index;
      std::string entry = *name->value<std::string>();
      std::string kind;
      // Kind-specific defaults apply before the table's own keys.
      if (const toml::node* k = t.get("kind"); k && k->is_string()) kind = *k->value<std::string>();
      b.touch(entry, kind, lineOf(item));
      for (const auto& [k, v] : t) {
        if (k.str() == "name") continue;
        // A sub-table of the entry ([tenant.recipients] after [[tenant]]) whose keys the
        // table names "recipients.<key>": each of its keys is set as such.
        if (const toml::table* sub = v.as_table(); sub && !b.has(k.str(), nullptr) && b.hasGroup(k.str())) {
          for (const auto& [sk, sv] : *sub) {
            const std::string key = std::string(k.str()) + "." + std::string(sk.str());
            setEntryKey(b, entry, key, sv);
          }
          continue;
        }
        setEntryKey(b, entry, std::string(k.str()), v);
      }
    }
  }

  void setEntryKey(Binding& b, const std::string& entry, const std::string& key, const toml::node& v) {
    std::string where = b.name() + "." + entry + "." + key;
    c_.key_lines[where] = lineOf(v);
    Input in;
    if (!toInput(v, &in)) {
      errors_->push_back({where, lineOf(v), b.has(key, nullptr) ? "has an unsupported type" : "unknown key"});
      return;
    }
    setKey(b, entry, where, key, std::move(in), lineOf(v));
  }

  Config& c_;
  std::vector<ConfigError>* errors_;
  std::vector<std::unique_ptr<Binding>> bindings_;
};

void Loader::applyEnv(const std::vector<std::string>& env) {
  // Variables of the tools (tests, benchmarks, scripts), not config keys: reserved, so
  // that the strict check still catches a mistyped config variable.
  static constexpr std::string_view kToolVariables[] = {"MXGATE_CONFIG", "MXGATE_SOURCE_DIR", "MXGATE_CORPUS_DIR",
                                                        "MXGATE_SHARED_DIR"};
  static constexpr std::string_view kToolPrefixes[] = {"MXGATE_TEST_", "MXGATE_BENCH_", "MXGATE_FUZZ_",
                                                       "MXGATE_BUILD_"};
  for (const auto& kv : env) {
    if (kv.rfind("MXGATE_", 0) != 0) continue;
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string var = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (std::find(std::begin(kToolVariables), std::end(kToolVariables), var) != std::end(kToolVariables) ||
        std::any_of(std::begin(kToolPrefixes), std::end(kToolPrefixes),
                    [&var](std::string_view p) { return var.rfind(p, 0) == 0; }))
      continue;
    const std::string name = var.substr(7);
    bool handled = false;
    // Struct sections: SECTION_KEY, or SECTION_KEY_FILE for a secret. Longest section
    // name first, so that STORE_S3_BUCKET is [store.s3] bucket, not [store] s3_bucket.
    std::vector<Binding*> order;
    for (auto& b : bindings_) order.push_back(b.get());
    std::sort(order.begin(), order.end(), [](Binding* a, Binding* b) { return a->name().size() > b->name().size(); });
    for (Binding* b : order) {
      if (handled) break;
      std::string prefix = upper(b->name()) + "_";
      if (name.rfind(prefix, 0) != 0) continue;
      std::string rest = name.substr(prefix.size());
      // Longest key first, so that SINK_Q_QUEUE_URL is entry Q's queue_url, not entry
      // Q_QUEUE's url (both are [[sink]] keys).
      std::vector<std::string> keys = b->keys();
      std::stable_sort(keys.begin(), keys.end(),
                       [](const std::string& x, const std::string& y) { return x.size() > y.size(); });
      for (const auto& key : keys) {
        std::string up = upper(key);
        if (b->array()) {
          // ARRAY_<NAME>_<KEY>[_FILE]: the entry is what stands before the key.
          bool secret = false;
          b->has(key, &secret);
          for (const std::string& suffix : {"_" + up, "_" + up + "_FILE"}) {
            if (suffix.ends_with("_FILE") && !secret) continue;
            if (rest.size() <= suffix.size() || rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) != 0)
              continue;
            std::string upname = rest.substr(0, rest.size() - suffix.size());
            // An existing entry keeps its spelling (names are matched case-insensitively).
            std::string entry = b->entryName(upname);
            b->touch(entry, "", 0);
            setKey(*b, entry, var, suffix.ends_with("_FILE") ? key + "_file" : key, Input::fromText(value), 0);
            handled = true;
            break;
          }
        } else if (bool secret = false; rest == up || (rest == up + "_FILE" && b->has(key, &secret) && secret)) {
          setKey(*b, "", var, rest == up ? key : key + "_file", Input::fromText(value), 0);
          handled = true;
        }
        if (handled) break;
      }
    }
    if (!handled) errors_->push_back({var, 0, "unknown configuration variable"});
  }
}

}  // namespace

int Config::lineOf(const std::string& key) const {
  auto it = key_lines.find(key);
  return it == key_lines.end() ? 0 : it->second;
}

Config defaultConfig() {
  Config c;
  c.listeners = server::defaultListeners();
  c.tenants = policy::defaultTenants();
  return c;
}

std::string ConfigError::format(const std::string& source) const {
  std::string s = source;
  if (line > 0) s += ":" + std::to_string(line);
  return s + ": " + key + ": " + message;
}

namespace {

Config loadParsed(const std::string& source, const std::function<toml::table()>& parse,
                  const std::vector<std::string>& env, std::vector<ConfigError>* errors) {
  Config c = defaultConfig();
  Loader loader(c, errors);
  if (parse) {
    c.source = source;
    // toml++ reports syntax errors by exception; config loading is startup-only, where
    // exceptions are fine (STYLE.md "Errors").
    toml::table root;
    try {
      root = parse();
    } catch (const toml::parse_error& e) {
      errors->push_back({"(syntax)", static_cast<int>(e.source().begin.line), std::string(e.description())});
      return c;
    }
    loader.applyFile(root);
  }
  loader.applyEnv(env);
  return c;
}

}  // namespace

Config loadConfig(const std::string& path, const std::vector<std::string>& env,
                  std::vector<ConfigError>* errors) {
  if (path.empty()) return loadParsed("", nullptr, env, errors);
  return loadParsed(path, [&path] { return toml::parse_file(path); }, env, errors);
}

Config loadConfigText(const std::string& text, const std::string& source, const std::vector<std::string>& env,
                      std::vector<ConfigError>* errors) {
  return loadParsed(source, [&text, &source] { return toml::parse(text, source); }, env, errors);
}

namespace {
bool isWildcard(const std::string& address) { return address == "0.0.0.0" || address == "::" || address == "[::]"; }
}  // namespace

void validateConfig(const Config& c, std::vector<ConfigError>* errors) {
  if (c.listeners.empty()) errors->push_back({"listener", 0, "at least one [[listener]] is needed"});
  std::vector<std::string> names;
  std::vector<std::pair<const server::ListenerSettings*, server::ListenerOptions>> bound;
  for (const auto& l : c.listeners) {
    std::string where = "listener." + l.name;
    if (std::find(names.begin(), names.end(), l.name) != names.end())
      errors->push_back({where, l.line, "listener name used twice"});
    names.push_back(l.name);
    auto o = server::listenerOptions(l, c.tls.enabled);
    if (o.ok() && o->port != 0) {
      // Acceptors are SO_REUSEPORT, so a second bind of the same address would succeed and
      // the kernel would share connections between two listeners with different rules.
      for (const auto& [other, oo] : bound) {
        if (oo.port == o->port && (oo.address == o->address || isWildcard(oo.address) || isWildcard(o->address))) {
          errors->push_back({where + ".listen", c.lineOf(where + ".listen") ? c.lineOf(where + ".listen") : l.line,
                             "port " + std::to_string(o->port) + " is already listener." + other->name + "'s (line " +
                                 std::to_string(other->line) + ")"});
          break;
        }
      }
      bound.emplace_back(&l, *o);
    }
    if (!o.ok()) {
      // "key: message" from the server's parse, so the error names the key.
      const std::string& m = o.error().message();
      size_t colon = m.find(": ");
      std::string key = where + "." + m.substr(0, colon);
      int line = c.lineOf(key) ? c.lineOf(key) : l.line;
      errors->push_back({key, line, colon == std::string::npos ? m : m.substr(colon + 2)});
    }
  }
  std::string host;
  uint16_t port;
  if (c.http.enabled && !server::splitHostPort(c.http.listen, &host, &port))
    errors->push_back({"http.listen", c.lineOf("http.listen"), "must be \"host:port\""});
  if (c.store.backend == "s3") {
    // [store.s3]'s formats and cross-field rules (store_config.h); the per-key checks ran at load.
    for (const auto& e : store::checkS3Settings(c.store.s3)) {
      std::string key = "store.s3." + e.key;
      errors->push_back({key, c.lineOf(key), e.message});
    }
    if (c.store.s3.ack_after == "store" && !c.pipeline.enabled) {
      // The gate puts the raw message; only the pipeline stores the rest and publishes.
      errors->push_back({"store.s3.ack_after", c.lineOf("store.s3.ack_after"),
                         "\"store\" needs pipeline.enabled = true (the pipeline stores the parsed JSON, "
                         "attachments and event behind the acknowledged raw message)"});
    }
  }
  bool weak_hash = false;
  for (const auto& u : c.users) {
    if (std::string e = policy::checkPasswordHash(u.password_hash); !e.empty()) {
      const std::string key = "user." + u.name + ".password_hash";
      errors->push_back({key, c.lineOf(key), e});
      weak_hash = true;
    }
  }
  // [[tenant]]: each entry's own rules with the key and its line (tenants.h checkTenant()),
  // then what only the whole directory can tell (a domain of two tenants, users).
  bool tenants_ok = true;
  for (const auto& t : c.tenants) {
    for (const auto& p : policy::checkTenant(t)) {
      const std::string key = "tenant." + t.name + "." + p.key;
      errors->push_back({key, c.lineOf(key) ? c.lineOf(key) : t.line, p.message});
      tenants_ok = false;
    }
  }
  for (const auto& t : c.tenants) {
    // The server answers 451 4.3.0 itself after policy_timeout: a slower lookup could never
    // reach its own on_failure.
    if (t.recipients.rule == "lookup" && t.recipients.timeout >= c.server.policy_timeout) {
      const std::string key = "tenant." + t.name + ".recipients.timeout";
      errors->push_back({key, c.lineOf(key) ? c.lineOf(key) : t.line, "must be below server.policy_timeout"});
    }
  }
  std::string dir_error;
  if (tenants_ok && !weak_hash && !policy::Directory::build(c.tenants, c.users, &dir_error))
    errors->push_back({"tenant/user", 0, dir_error});
  std::set<std::string> sink_names;
  for (const auto& s : c.sinks) {
    const std::string where = "sink." + s.name;
    if (!sink_names.insert(s.name).second) errors->push_back({where, s.line, "sink name used twice"});
    for (const auto& e : events::checkSinkSettings(s)) {
      errors->push_back(
          {where + "." + e.key, c.lineOf(where + "." + e.key) ? c.lineOf(where + "." + e.key) : s.line, e.message});
    }
  }
  for (const auto& s : c.sinks) {
    if (!s.dead_letter_sink.empty() && !sink_names.count(s.dead_letter_sink)) {
      errors->push_back({"sink." + s.name + ".dead_letter_sink", c.lineOf("sink." + s.name + ".dead_letter_sink"),
                         "names no [[sink]]: \"" + s.dead_letter_sink + "\""});
    }
  }
  // [[rate_limit]]: the cross-field rules (policy/rate_limits/rate_limit_config.h).
  std::set<std::string> limit_names;
  for (const auto& l : c.rate_limit) {
    const std::string where = "rate_limit." + l.name;
    if (!limit_names.insert(l.name).second) errors->push_back({where, l.line, "rate_limit name used twice"});
    for (const auto& p : policy::checkRateLimit(l)) {
      const std::string key = where + "." + p.key;
      errors->push_back({key, c.lineOf(key) ? c.lineOf(key) : l.line, p.message});
    }
  }
  if (c.rate_limits.backend == "redis") {
    policy::RedisEndpoint endpoint;
    if (std::string e = policy::parseRedisUrl(c.rate_limits.redis_url, &endpoint); !e.empty())
      errors->push_back({"rate_limits.redis_url", c.lineOf("rate_limits.redis_url"), e});
  }
  for (const auto& t : c.tenants) {
    for (const auto& name : t.sinks) {
      bool known = c.sinks.empty() ? name == c.events.sink : sink_names.count(name) > 0;
      if (!known) {
        errors->push_back({"tenant." + t.name + ".sinks", c.lineOf("tenant." + t.name + ".sinks"),
                           "names no sink: \"" + name + "\""});
      }
    }
  }
}

std::vector<events::SinkSettings> effectiveSinks(const Config& c) {
  if (!c.sinks.empty()) return c.sinks;
  events::SinkSettings s;
  s.name = c.events.sink;
  s.kind = c.events.sink;
  if (s.kind == "file") s.path = c.events.file;
  return {s};
}

std::function<std::vector<size_t>(std::string_view)> tenantSinkRoute(const Config& c,
                                                                     const std::vector<events::SinkSettings>& sinks) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < sinks.size(); ++i) index[sinks[i].name] = i;
  // Tenants with a `sinks` list go to those; every other tenant to every sink.
  auto routes = std::make_shared<std::map<std::string, std::vector<size_t>>>();
  for (const auto& t : c.tenants) {
    if (t.sinks.empty()) continue;
    std::vector<size_t> v;
    for (const auto& name : t.sinks) {
      if (auto it = index.find(name); it != index.end()) v.push_back(it->second);
    }
    (*routes)[t.name] = v;
  }
  const size_t n = sinks.size();
  return [routes, n](std::string_view tenant) {
    if (auto it = routes->find(std::string(tenant)); it != routes->end()) return it->second;
    std::vector<size_t> all(n);
    for (size_t i = 0; i < n; ++i) all[i] = i;
    return all;
  };
}

std::vector<server::ListenerOptions> listenerOptions(const Config& c) {
  std::vector<server::ListenerOptions> out;
  for (const auto& l : c.listeners) out.push_back(*server::listenerOptions(l, c.tls.enabled));
  return out;
}

std::string configReference() {
  Config c = defaultConfig();
  auto b = bindings(c);
  std::string out = R"(# Configuration reference

<!-- Generated by `mxgate config-reference` from the modules' field tables
     (src/*/…_config.cc); do not edit by hand. tests/app checks it is current. -->

One TOML file (`mxgate serve -c mxgate.toml`, or `$MXGATE_CONFIG`); with none, the embedded
defaults below apply. `mxgate check-config` validates without starting; every error names
the key and, for the file, the line (`mxgate.toml:3: server.threads: must be a non-negative
integer`).

**Environment.** Every key can be set from the environment: `section.key` is
`MXGATE_SECTION_KEY` (`MXGATE_SPOOL_DIR=/data/spool`), a nested section's `section.sub.key`
is `MXGATE_SECTION_SUB_KEY`. Array entries are addressed by their `name`:
`MXGATE_LISTENER_<NAME>_<KEY>`, `MXGATE_TENANT_<NAME>_DOMAINS` (comma-separated list),
`MXGATE_USER_<NAME>_PASSWORD_HASH`; a name the file does not define creates a new entry.
Unknown keys in the file and unknown `MXGATE_*` variables are errors, so a typo never falls
back to a default silently. The environment wins over the file.

**Secrets.** A secret key is never printed. It also takes `<key>_file` — a path whose
content (without its final line end) is the value — in the file and
`MXGATE_…_<KEY>_FILE` in the environment, so that the value itself need not be in either.

**Units.** Durations: `"500ms"`, `"30s"`, `"5m"`, `"1h"`. Sizes: an integer (bytes) or a
string with a unit: `"64KiB"`, `"50MiB"`, `"1GiB"`, `"10MB"`.

**Embedded listeners**: `smtp` on `127.0.0.1:2525`, `submission` on `127.0.0.1:2587`,
`smtps` on `127.0.0.1:2465`. **Embedded tenant**: `default` for `example.test` and
`localhost`. A file's `[[listener]]` or `[[tenant]]` entries replace these.
)";
  auto cell = [](const std::string& s) {
    std::string o;
    for (char ch : s) {
      if (ch == '|') o += "\\|";
      else o += ch;
    }
    return o;
  };
  for (const auto& s : b) {
    out += "\n## " + std::string(s->array() ? "[[" + s->name() + "]]" : "[" + s->name() + "]") + "\n\n";
    std::string help = s->help();
    if (!help.empty()) help[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(help[0])));
    out += help + ".\n\n| key | default | meaning |\n|---|---|---|\n";
    for (const auto& r : s->docs()) {
      out += "| `" + cell(r.key) + "` | `" + cell(r.default_value) + "` | " + cell(r.help) + " |\n";
    }
  }
  return out;
}

std::vector<std::string> processEnvironment() {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) out.emplace_back(*e);
  return out;
}

}  // namespace mx::app
