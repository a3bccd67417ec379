// app/config.cc — see config.h. TOML v1.0 through toml++ (Debian's libtomlplusplus-dev).
#include "app/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <functional>

#include "server/cidr.h"

extern char** environ;

namespace mx::app {
namespace {

enum class Kind { kString, kBool, kU32, kSize, kDuration, kStringList };

// One settable key: where it lives and how to parse it.
struct Field {
  const char* key;
  Kind kind;
  void* target;
};

std::string upper(std::string s) {
  for (char& c : s) c = c == '-' || c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string kindName(Kind k) {
  switch (k) {
    case Kind::kString: return "a string";
    case Kind::kBool: return "a boolean";
    case Kind::kU32: return "a non-negative integer";
    case Kind::kSize: return "a size (bytes, or a number with KiB/MiB/GiB/KB/MB/GB)";
    case Kind::kDuration: return "a duration such as \"500ms\", \"30s\", \"5m\" or \"1h\"";
    case Kind::kStringList: return "a list of strings";
  }
  return "a value";
}

bool parseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parseSize(std::string_view s, uint64_t* out) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  uint64_t n;
  if (!parseU64(s.substr(0, i), &n)) return false;
  std::string unit(s.substr(i));
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  static const std::pair<const char*, uint64_t> kUnits[] = {
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
  if (unit == "ms") mult = 1;
  else if (unit == "s") mult = 1000;
  else if (unit == "m") mult = 60'000;
  else if (unit == "h") mult = 3'600'000;
  else return false;
  if (n > (1ull << 40)) return false;
  *out = Millis(static_cast<int64_t>(n * mult));
  return true;
}

std::vector<std::string> splitList(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item(s.substr(start, comma == std::string_view::npos ? s.npos : comma - start));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// Sets a field from environment text. Returns false when the text does not parse.
bool setFromText(const Field& f, const std::string& text) {
  switch (f.kind) {
    case Kind::kString: *static_cast<std::string*>(f.target) = text; return true;
    case Kind::kBool:
      if (text == "true" || text == "1" || text == "yes") { *static_cast<bool*>(f.target) = true; return true; }
      if (text == "false" || text == "0" || text == "no") { *static_cast<bool*>(f.target) = false; return true; }
      return false;
    case Kind::kU32: {
      uint64_t v;
      if (!parseU64(text, &v) || v > UINT32_MAX) return false;
      *static_cast<uint32_t*>(f.target) = static_cast<uint32_t>(v);
      return true;
    }
    case Kind::kSize: return parseSize(text, static_cast<uint64_t*>(f.target));
    case Kind::kDuration: return parseDuration(text, static_cast<Millis*>(f.target));
    case Kind::kStringList: *static_cast<std::vector<std::string>*>(f.target) = splitList(text); return true;
  }
  return false;
}

// Sets a field from a TOML node. Returns false on a type mismatch.
bool setFromNode(const Field& f, const toml::node& n) {
  switch (f.kind) {
    case Kind::kString:
      if (auto v = n.value<std::string>(); v && n.is_string()) { *static_cast<std::string*>(f.target) = *v; return true; }
      return false;
    case Kind::kBool:
      if (n.is_boolean()) { *static_cast<bool*>(f.target) = *n.value<bool>(); return true; }
      return false;
    case Kind::kU32:
      if (n.is_integer()) {
        int64_t v = *n.value<int64_t>();
        if (v < 0 || v > UINT32_MAX) return false;
        *static_cast<uint32_t*>(f.target) = static_cast<uint32_t>(v);
        return true;
      }
      return false;
    case Kind::kSize:
      if (n.is_integer()) {
        int64_t v = *n.value<int64_t>();
        if (v < 0) return false;
        *static_cast<uint64_t*>(f.target) = static_cast<uint64_t>(v);
        return true;
      }
      if (n.is_string()) return parseSize(*n.value<std::string>(), static_cast<uint64_t*>(f.target));
      return false;
    case Kind::kDuration:
      if (n.is_string()) return parseDuration(*n.value<std::string>(), static_cast<Millis*>(f.target));
      return false;
    case Kind::kStringList: {
      const toml::array* arr = n.as_array();
      if (!arr) return false;
      std::vector<std::string> out;
      for (const auto& e : *arr) {
        if (!e.is_string()) return false;
        out.push_back(*e.value<std::string>());
      }
      *static_cast<std::vector<std::string>*>(f.target) = std::move(out);
      return true;
    }
  }
  return false;
}

std::vector<Field> sectionFields(Config& c) {
  return {
      {"server.hostname", Kind::kString, &c.hostname},
      {"server.threads", Kind::kU32, &c.threads},
      {"server.max_connections", Kind::kU32, &c.max_connections},
      {"server.max_connections_per_ip", Kind::kU32, &c.max_connections_per_ip},
      {"server.drain_timeout", Kind::kDuration, &c.drain_timeout},
      {"limits.max_message_size", Kind::kSize, &c.max_message_size},
      {"limits.max_recipients", Kind::kU32, &c.max_recipients},
      {"limits.max_errors", Kind::kU32, &c.max_errors},
      {"limits.max_messages_per_session", Kind::kU32, &c.max_messages_per_session},
      {"timeouts.proxy_header", Kind::kDuration, &c.proxy_header_timeout},
      {"timeouts.tls_handshake", Kind::kDuration, &c.tls_handshake_timeout},
      {"timeouts.greeting", Kind::kDuration, &c.greeting_timeout},
      {"timeouts.idle", Kind::kDuration, &c.idle_timeout},
      {"timeouts.command", Kind::kDuration, &c.command_timeout},
      {"timeouts.data", Kind::kDuration, &c.data_timeout},
      {"tls.enabled", Kind::kBool, &c.tls_enabled},
      {"tls.cert_file", Kind::kString, &c.tls_cert_file},
      {"tls.key_file", Kind::kString, &c.tls_key_file},
      {"tls.self_signed", Kind::kBool, &c.tls_self_signed},
      {"spool.dir", Kind::kString, &c.spool_dir},
      {"spool.segment_size", Kind::kSize, &c.spool_segment_size},
      {"spool.inline_max", Kind::kSize, &c.spool_inline_max},
      {"spool.fsync", Kind::kBool, &c.spool_fsync},
      {"spool.min_free", Kind::kSize, &c.spool_min_free},
      {"store.backend", Kind::kString, &c.store_backend},
      {"store.dir", Kind::kString, &c.store_dir},
      {"store.sync", Kind::kString, &c.store_sync},
      {"events.sink", Kind::kString, &c.events_sink},
      {"events.file", Kind::kString, &c.events_file},
      {"events.dead_letter_file", Kind::kString, &c.events_dead_letter_file},
      {"pipeline.enabled", Kind::kBool, &c.pipeline_enabled},
      {"pipeline.parse", Kind::kBool, &c.pipeline_parse},
      {"pipeline.nice", Kind::kU32, &c.pipeline_nice},
      {"pipeline.batch", Kind::kU32, &c.pipeline_batch},
      {"pipeline.sched_idle", Kind::kBool, &c.pipeline_sched_idle},
      {"pipeline.give_up_after", Kind::kDuration, &c.pipeline_give_up_after},
      {"http.enabled", Kind::kBool, &c.http_enabled},
      {"http.listen", Kind::kString, &c.http_listen},
      {"log.file", Kind::kString, &c.log_file},
  };
}

std::vector<Field> listenerFields(ListenerConfig& l) {
  return {
      {"kind", Kind::kString, &l.kind},
      {"listen", Kind::kString, &l.listen},
      {"proxy_protocol", Kind::kBool, &l.proxy_protocol},
      {"trusted_proxies", Kind::kStringList, &l.trusted_proxies},
      {"auth_plaintext", Kind::kBool, &l.auth_plaintext},
      {"require_tls", Kind::kBool, &l.require_tls},
      {"auth_required", Kind::kBool, &l.auth_required},
  };
}

std::vector<Field> tenantFields(policy::TenantConfig& t) {
  return {{"domains", Kind::kStringList, &t.domains}};
}

std::vector<Field> userFields(policy::UserConfig& u) {
  return {{"password_hash", Kind::kString, &u.password_hash}, {"tenant", Kind::kString, &u.tenant}};
}

ListenerConfig defaultListener(const std::string& name, const std::string& kind,
                               const std::string& listen) {
  ListenerConfig l;
  l.name = name;
  l.kind = kind;
  l.listen = listen;
  if (kind == "submission") {
    l.require_tls = true;
    l.auth_required = true;
  }
  if (kind == "smtps") l.auth_required = true;
  return l;
}

void setDefaults(Config& c) {
  c.listeners = {defaultListener("smtp", "smtp", "127.0.0.1:2525"),
                 defaultListener("submission", "submission", "127.0.0.1:2587"),
                 defaultListener("smtps", "smtps", "127.0.0.1:2465")};
  c.tenants = {{"default", {"example.test", "localhost"}}};
}

int lineOf(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

// Applies one [[array]] of tables. `make` creates an entry by name; `fields` lists its keys.
template <typename T, typename FieldsFn, typename MakeFn>
void applyArray(const toml::table& root, const char* array_key, std::vector<T>& out,
                FieldsFn fields, MakeFn make, std::vector<ConfigError>* errors) {
  const toml::node* node = root.get(array_key);
  if (!node) return;
  const toml::array* arr = node->as_array();
  if (!arr) {
    errors->push_back({array_key, lineOf(*node), "must be an array of tables ([[" + std::string(array_key) + "]])"});
    return;
  }
  out.clear();  // the file's entries replace the defaults
  size_t index = 0;
  for (const auto& item : *arr) {
    std::string where = std::string(array_key) + "[" + std::to_string(index++) + "]";
    const toml::table* t = item.as_table();
    if (!t) {
      errors->push_back({where, lineOf(item), "must be a table"});
      continue;
    }
    const toml::node* name = t->get("name");
    if (!name || !name->is_string() || name->value<std::string>()->empty()) {
      errors->push_back({where + ".name", lineOf(item), "is required (a non-empty string)"});
      continue;
    }
    T entry = make(*name->value<std::string>(), lineOf(item), *t);
    auto fs = fields(entry);
    for (const auto& [k, v] : *t) {
      std::string key(k.str());
      if (key == "name") continue;
      auto f = std::find_if(fs.begin(), fs.end(), [&](const Field& x) { return key == x.key; });
      if (f == fs.end()) {
        errors->push_back({where + "." + key, lineOf(v), "unknown key"});
      } else if (!setFromNode(*f, v)) {
        errors->push_back({where + "." + key, lineOf(v), "must be " + kindName(f->kind)});
      }
    }
    out.push_back(std::move(entry));
  }
}

void applyFile(Config& c, const toml::table& root, std::vector<ConfigError>* errors) {
  auto fields = sectionFields(c);
  for (const auto& [sk, sv] : root) {
    std::string section(sk.str());
    if (section == "listener" || section == "tenant" || section == "user") continue;
    const toml::table* st = sv.as_table();
    bool known_section = std::any_of(fields.begin(), fields.end(), [&](const Field& f) {
      return std::string_view(f.key).substr(0, std::string_view(f.key).find('.')) == section;
    });
    if (!known_section) {
      errors->push_back({section, lineOf(sv), "unknown section or key"});
      continue;
    }
    if (!st) {
      errors->push_back({section, lineOf(sv), "must be a table ([" + section + "])"});
      continue;
    }
    for (const auto& [k, v] : *st) {
      std::string key = section + "." + std::string(k.str());
      c.key_lines[key] = lineOf(v);
      auto f = std::find_if(fields.begin(), fields.end(), [&](const Field& x) { return key == x.key; });
      if (f == fields.end()) {
        errors->push_back({key, lineOf(v), "unknown key"});
      } else if (!setFromNode(*f, v)) {
        errors->push_back({key, lineOf(v), "must be " + kindName(f->kind)});
      }
    }
  }
  applyArray(root, "listener", c.listeners, listenerFields,
             [](const std::string& name, int line, const toml::table& t) {
               // Kind-specific defaults apply before the table's own keys.
               std::string kind = "smtp";
               if (const toml::node* k = t.get("kind"); k && k->is_string()) kind = *k->value<std::string>();
               ListenerConfig l = defaultListener(name, kind, "");
               l.line = line;
               return l;
             },
             errors);
  applyArray(root, "tenant", c.tenants, tenantFields,
             [](const std::string& name, int, const toml::table&) {
               policy::TenantConfig t;
               t.name = name;
               return t;
             },
             errors);
  applyArray(root, "user", c.users, userFields,
             [](const std::string& name, int, const toml::table&) {
               policy::UserConfig u;
               u.name = name;
               return u;
             },
             errors);
}

// MXGATE_LISTENER_<NAME>_<KEY>: finds the entry whose upper-cased name prefixes `rest`.
template <typename T, typename FieldsFn, typename MakeFn>
bool applyArrayEnv(const std::string& var, const std::string& rest, const std::string& value,
                   std::vector<T>& entries, FieldsFn fields, MakeFn make,
                   std::vector<ConfigError>* errors) {
  // Try existing names first (longest match), then a new entry named by the prefix before
  // the longest known key suffix.
  T probe = make("");
  auto fs = fields(probe);
  for (const auto& f : fs) {
    std::string suffix = "_" + upper(f.key);
    if (rest.size() <= suffix.size() || rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    std::string upname = rest.substr(0, rest.size() - suffix.size());
    T* target = nullptr;
    for (auto& e : entries) {
      if (upper(e.name) == upname) target = &e;
    }
    if (!target) {
      std::string name = upname;
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      entries.push_back(make(name));
      target = &entries.back();
    }
    auto tf = fields(*target);
    const Field& field = *std::find_if(tf.begin(), tf.end(), [&](const Field& x) { return std::string(x.key) == f.key; });
    if (!setFromText(field, value)) errors->push_back({var, 0, "must be " + kindName(field.kind)});
    return true;
  }
  return false;
}

void applyEnv(Config& c, const std::vector<std::string>& env, std::vector<ConfigError>* errors) {
  auto fields = sectionFields(c);
  for (const auto& kv : env) {
    if (kv.rfind("MXGATE_", 0) != 0) continue;
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string var = kv.substr(0, eq), value = kv.substr(eq + 1);
    // Variables of the tools (tests, benchmarks, scripts), not config keys: reserved
    // prefixes, so that the strict check still catches a mistyped config variable.
    static constexpr std::string_view kToolVariables[] = {
        "MXGATE_CONFIG", "MXGATE_SOURCE_DIR", "MXGATE_CORPUS_DIR", "MXGATE_SHARED_DIR"};
    static constexpr std::string_view kToolPrefixes[] = {
        "MXGATE_TEST_", "MXGATE_BENCH_", "MXGATE_FUZZ_", "MXGATE_BUILD_"};
    if (std::find(std::begin(kToolVariables), std::end(kToolVariables), var) != std::end(kToolVariables) ||
        std::any_of(std::begin(kToolPrefixes), std::end(kToolPrefixes),
                    [&var](std::string_view p) { return var.rfind(p, 0) == 0; }))
      continue;
    std::string name = var.substr(7);
    auto f = std::find_if(fields.begin(), fields.end(), [&](const Field& x) { return upper(x.key) == name; });
    if (f != fields.end()) {
      if (!setFromText(*f, value)) errors->push_back({var, 0, "must be " + kindName(f->kind)});
      continue;
    }
    bool handled = false;
    if (name.rfind("LISTENER_", 0) == 0) {
      handled = applyArrayEnv(var, name.substr(9), value, c.listeners, listenerFields,
                              [](const std::string& n) { return defaultListener(n, "smtp", ""); }, errors);
    } else if (name.rfind("TENANT_", 0) == 0) {
      handled = applyArrayEnv(var, name.substr(7), value, c.tenants, tenantFields,
                              [](const std::string& n) { policy::TenantConfig t; t.name = n; return t; }, errors);
    } else if (name.rfind("USER_", 0) == 0) {
      handled = applyArrayEnv(var, name.substr(5), value, c.users, userFields,
                              [](const std::string& n) { policy::UserConfig u; u.name = n; return u; }, errors);
    }
    if (!handled) errors->push_back({var, 0, "unknown configuration variable"});
  }
}

}  // namespace

std::string ConfigError::format(const std::string& source) const {
  std::string s = source;
  if (line > 0) s += ":" + std::to_string(line);
  return s + ": " + key + ": " + message;
}

bool splitHostPort(const std::string& s, std::string* host, uint16_t* port) {
  size_t colon;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    *host = s.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    *host = s.substr(0, colon);
    if (host->find(':') != std::string::npos) return false;  // bare IPv6 needs brackets
  }
  uint64_t p;
  if (!parseU64(std::string_view(s).substr(colon + 1), &p) || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

Config loadConfig(const std::string& path, const std::vector<std::string>& env,
                  std::vector<ConfigError>* errors) {
  Config c;
  setDefaults(c);
  if (!path.empty()) {
    c.source = path;
    // toml++ reports syntax errors by exception; config loading is startup-only, where
    // exceptions are fine (STYLE.md "Errors").
    toml::table root;
    try {
      root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      errors->push_back({"(syntax)", static_cast<int>(e.source().begin.line), std::string(e.description())});
      return c;
    }
    applyFile(c, root, errors);
  }
  applyEnv(c, env, errors);
  return c;
}

void validateConfig(const Config& c, std::vector<ConfigError>* errors) {
  auto at = [&c](const char* key) {
    auto it = c.key_lines.find(key);
    return it == c.key_lines.end() ? 0 : it->second;
  };
  if (c.hostname.empty()) errors->push_back({"server.hostname", at("server.hostname"), "must not be empty"});
  if (c.listeners.empty()) errors->push_back({"listener", 0, "at least one [[listener]] is needed"});
  std::vector<std::string> names;
  for (const auto& l : c.listeners) {
    std::string where = "listener." + l.name;
    if (std::find(names.begin(), names.end(), l.name) != names.end())
      errors->push_back({where, l.line, "listener name used twice"});
    names.push_back(l.name);
    if (l.kind != "smtp" && l.kind != "submission" && l.kind != "smtps")
      errors->push_back({where + ".kind", l.line, "must be \"smtp\", \"submission\" or \"smtps\""});
    std::string host;
    uint16_t port;
    if (!splitHostPort(l.listen, &host, &port))
      errors->push_back({where + ".listen", l.line, "must be \"host:port\" (IPv6 as \"[addr]:port\")"});
    for (const auto& cidr : l.trusted_proxies) {
      if (!server::Cidr::parse(cidr))
        errors->push_back({where + ".trusted_proxies", l.line, "'" + cidr + "' is not an address or CIDR"});
    }
    if (l.proxy_protocol && l.trusted_proxies.empty())
      errors->push_back({where + ".trusted_proxies", l.line, "proxy_protocol needs at least one trusted network"});
    if (l.kind == "smtps" && !c.tls_enabled)
      errors->push_back({where + ".kind", l.line, "smtps needs tls.enabled = true"});
  }
  std::string host;
  uint16_t port;
  if (c.http_enabled && !splitHostPort(c.http_listen, &host, &port))
    errors->push_back({"http.listen", at("http.listen"), "must be \"host:port\""});
  if (c.store_sync != "filesystem" && c.store_sync != "file")
    errors->push_back({"store.sync", at("store.sync"), "must be \"filesystem\" or \"file\""});
  if (c.pipeline_batch == 0 || c.pipeline_batch > 100000)
    errors->push_back({"pipeline.batch", at("pipeline.batch"), "must be between 1 and 100000"});
  if (c.max_message_size < 1024) errors->push_back({"limits.max_message_size", at("limits.max_message_size"), "must be at least 1KiB"});
  if (c.max_recipients == 0) errors->push_back({"limits.max_recipients", at("limits.max_recipients"), "must be at least 1"});
  if (c.spool_dir.empty()) errors->push_back({"spool.dir", at("spool.dir"), "must not be empty"});
  if (c.pipeline_enabled && c.events_dead_letter_file.empty())
    errors->push_back({"events.dead_letter_file", at("events.dead_letter_file"), "must not be empty"});
  std::string dir_error;
  if (!policy::Directory::build(c.tenants, c.users, &dir_error))
    errors->push_back({"tenant/user", 0, dir_error});
}

std::vector<std::string> processEnvironment() {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) out.emplace_back(*e);
  return out;
}

}  // namespace mx::app
