// policy/tenants.cc — see tenants.h.
#include "policy/tenants.h"

#include "policy/glob.h"

#include <crypt.h>

#include <algorithm>
#include <cstring>

namespace mx::policy {
namespace {

// Constant-time comparison so the hash check does not leak how much of it matched.
bool equalConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

std::string normalizeDomain(std::string_view domain) {
  std::string d(domain);
  if (!d.empty() && d.back() == '.') d.pop_back();
  for (char& c : d) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return d;
}

std::string checkDomain(std::string_view domain) {
  std::string_view name = domain;
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name == ".") return "is empty";
  if (name.find('*') != std::string_view::npos) {
    return "has a '*' that is not the whole leftmost label (write \"*.example.com\")";
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '@') return "has a space, control character or '@'";
  }
  if (name.front() == '.' || name.find("..") != std::string_view::npos) return "has an empty label";
  return {};
}

namespace {

// "'<value>' <why>": a problem message naming the value at fault.
std::string quoted(std::string_view value, std::string_view why) {
  std::string m = "'";
  m += value;
  m += "' ";
  m += why;
  return m;
}

}  // namespace

std::vector<TenantProblem> checkTenant(const TenantConfig& t) {
  std::vector<TenantProblem> out;
  for (const auto& d : t.domains) {
    if (std::string why = checkDomain(d); !why.empty()) out.push_back({"domains", quoted(d, why)});
  }
  const RecipientRules& r = t.recipients;
  if (r.rule != "catch_all" && r.rule != "list" && r.rule != "lookup") {
    out.push_back({"recipients.rule", "must be \"catch_all\", \"list\" or \"lookup\""});
  }
  if (r.rule == "lookup") {
    const std::string_view url = r.url;
    const size_t scheme = url.starts_with("https://") ? 8 : url.starts_with("http://") ? 7 : 0;
    if (scheme == 0 || url.size() == scheme || url[scheme] == '/' ||
        url.find_first_of(" \t\r\n") != std::string_view::npos) {
      out.push_back({"recipients.url", "rule = \"lookup\" needs an http:// or https:// URL with a host"});
    }
    if (r.method != "GET" && r.method != "POST") out.push_back({"recipients.method", "must be \"GET\" or \"POST\""});
    if (r.on_failure != "tempfail" && r.on_failure != "accept") {
      out.push_back({"recipients.on_failure", "must be \"tempfail\" or \"accept\""});
    }
    if (r.timeout.count() <= 0) out.push_back({"recipients.timeout", "must be more than 0"});
    if (r.authorization.find_first_of("\r\n") != std::string::npos) {
      out.push_back({"recipients.authorization", "must be one line"});
    }
  }
  if (r.rule == "list" && r.addresses.empty() && r.patterns.empty()) {
    out.push_back(
        {"recipients.rule", "\"list\" needs recipients.addresses or recipients.patterns (else nobody is accepted)"});
  }
  for (const auto& a : r.addresses) {
    const size_t at = a.rfind('@');
    if (a.empty() || at == 0 || (at != std::string::npos && at + 1 == a.size())) {
      out.push_back({"recipients.addresses", quoted(a, "must be a local part or local@domain")});
    }
  }
  for (const auto& p : r.patterns) {
    if (std::string why = checkGlob(p); !why.empty()) out.push_back({"recipients.patterns", quoted(p, why)});
  }
  return out;
}

namespace {

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

TenantPolicy compileTenant(const TenantConfig& t) {
  TenantPolicy p;
  p.name = t.name;
  p.max_message_size = t.max_message_size;
  const RecipientRules& r = t.recipients;
  p.rule = r.rule == "list"     ? RecipientRule::kList
           : r.rule == "lookup" ? RecipientRule::kLookup
                                : RecipientRule::kCatchAll;
  p.lookup = LookupSettings{r.url,          r.method,       r.authorization,          r.timeout,
                            r.positive_ttl, r.negative_ttl, r.on_failure == "accept", r.cache_size};
  p.plus_addressing = r.plus_addressing;
  for (const auto& a : r.addresses) {
    const size_t at = a.rfind('@');
    if (at == std::string::npos) {
      p.local_parts.insert(lowerAscii(a));
    } else {
      p.addresses.insert(lowerAscii(a.substr(0, at)) + "@" + normalizeDomain(a.substr(at + 1)));
    }
  }
  for (const auto& g : r.patterns) {
    (g.find('@') == std::string::npos ? p.local_patterns : p.address_patterns).push_back(g);
  }
  return p;
}

// Whether `local`@`domain` (domain normalised) is listed or matches a pattern.
bool listed(const TenantPolicy& t, std::string_view local, const std::string& domain) {
  const std::string l = lowerAscii(local);
  if (t.local_parts.count(l) != 0 || t.addresses.count(l + "@" + domain) != 0) return true;
  for (const auto& g : t.local_patterns) {
    if (globMatch(g, local)) return true;
  }
  if (t.address_patterns.empty()) return false;
  const std::string address = std::string(local) + "@" + domain;
  for (const auto& g : t.address_patterns) {
    if (globMatch(g, address)) return true;
  }
  return false;
}

}  // namespace

RecipientCheck Directory::checkRecipient(const TenantPolicy& t, std::string_view address) {
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos) return RecipientCheck::kKnown;  // bare "postmaster" (routed as such)
  const std::string_view local = address.substr(0, at);
  const std::string domain = normalizeDomain(address.substr(at + 1));
  // RFC 5321 4.5.1: every domain we receive for has a postmaster.
  if (lowerAscii(local) == "postmaster" || t.rule == RecipientRule::kCatchAll) return RecipientCheck::kKnown;
  if (listed(t, local, domain)) return RecipientCheck::kKnown;
  // RFC 5233: "user+detail" is "user" with a detail. A quoted local part is taken whole.
  if (t.plus_addressing && !local.starts_with('"')) {
    const size_t plus = local.find('+');
    if (plus != std::string_view::npos && plus > 0 && listed(t, local.substr(0, plus), domain)) {
      return RecipientCheck::kKnown;
    }
  }
  return t.rule == RecipientRule::kLookup ? RecipientCheck::kLookup : RecipientCheck::kUnknown;
}

std::string Directory::mailboxOf(const TenantPolicy& t, std::string_view address) {
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos) return std::string(address);
  std::string_view local = address.substr(0, at);
  if (t.plus_addressing && !local.starts_with('"')) {
    const size_t plus = local.find('+');
    if (plus != std::string_view::npos && plus > 0) local = local.substr(0, plus);
  }
  // Lower-cased as a whole: the cache matches case-insensitively, so the application must
  // be asked one spelling for every spelling the cache answers.
  std::string out = lowerAscii(local);
  out += '@';
  out += normalizeDomain(address.substr(at + 1));
  return out;
}

std::shared_ptr<const Directory> Directory::build(const std::vector<TenantConfig>& tenants,
                                                  const std::vector<UserConfig>& users,
                                                  std::string* error) {
  auto dir = std::make_shared<Directory>();
  for (const auto& t : tenants) {
    if (t.name.empty()) {
      *error = "tenant with an empty name";
      return nullptr;
    }
    if (dir->default_tenant_.empty()) dir->default_tenant_ = t.name;
    if (auto problems = checkTenant(t); !problems.empty()) {
      *error = "tenant '" + t.name + "': " + problems.front().key + ": " + problems.front().message;
      return nullptr;
    }
    if (!dir->tenants_.emplace(t.name, compileTenant(t)).second) {
      *error = "tenant '" + t.name + "' is defined twice";
      return nullptr;
    }
    for (const auto& d : t.domains) {
      std::string nd = normalizeDomain(d);
      const bool wildcard = nd.starts_with("*.");
      auto& index = wildcard ? dir->wildcard_to_tenant_ : dir->domain_to_tenant_;
      auto [it, inserted] = index.emplace(wildcard ? nd.substr(2) : nd, t.name);
      if (!inserted && it->second != t.name) {
        *error = "domain '" + nd + "' belongs to both tenant '" + it->second + "' and '" +
                 t.name + "'";
        return nullptr;
      }
    }
  }
  if (dir->default_tenant_.empty()) dir->default_tenant_ = "default";
  for (const auto& [name, t] : dir->tenants_) {
    if (t.max_message_size == 0) {
      dir->largest_message_size_ = 0;
      break;
    }
    dir->largest_message_size_ = std::max(dir->largest_message_size_, t.max_message_size);
  }
  for (const auto& u : users) {
    if (u.name.empty()) {
      *error = "user with an empty name";
      return nullptr;
    }
    if (std::string e = checkPasswordHash(u.password_hash); !e.empty()) {
      *error = "user '" + u.name + "': password_hash " + e;
      return nullptr;
    }
    UserConfig copy = u;
    if (copy.tenant.empty()) copy.tenant = dir->default_tenant_;
    if (!dir->users_.emplace(u.name, std::move(copy)).second) {
      *error = "user '" + u.name + "' is defined twice";
      return nullptr;
    }
  }
  return dir;
}

std::string checkPasswordHash(std::string_view hash) {
  for (std::string_view prefix : {"$y$", "$gy$", "$6$"}) {
    // The scheme's id, then its parameters and salt, then the hash itself.
    if (hash.starts_with(prefix) && hash.size() > prefix.size() + 8 &&
        hash.find('$', prefix.size()) != std::string_view::npos)
      return {};
  }
  if (hash.starts_with("$1$") || hash.starts_with("$md5") || hash.starts_with("$5$") || hash.starts_with("$2") ||
      (!hash.empty() && hash[0] != '$')) {
    return "uses a weak scheme (DES, MD5, SHA-256 or bcrypt): use yescrypt (\"mkpasswd -m yescrypt\", $y$...) "
           "or SHA-512 ($6$...)";
  }
  return "must be a yescrypt ($y$...) or SHA-512 ($6$...) crypt(3) hash";
}

RecipientRoute Directory::routeRecipient(std::string_view address,
                                         std::string_view auth_user) const {
  RecipientRoute r;
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) {
    // RFC 5321 section 4.5.1: "postmaster" without a domain must be accepted.
    std::string local = normalizeDomain(address);
    if (local == "postmaster") {
      r.accepted = true;
      r.tenant = default_tenant_;
      return r;
    }
    r.refusal = smtp::ReplyId::kRecipientNeedsDomain;
    return r;
  }
  if (const std::string* tenant = tenantOfDomain(normalizeDomain(address.substr(at + 1)))) {
    r.accepted = true;
    r.local = true;
    r.tenant = *tenant;
    return r;
  }
  if (!auth_user.empty()) {
    // An authenticated submitter may address anyone; the message belongs to its tenant.
    auto u = users_.find(std::string(auth_user));
    r.accepted = true;
    r.tenant = u != users_.end() ? u->second.tenant : default_tenant_;
    return r;
  }
  r.refusal = smtp::ReplyId::kRelayDenied;
  return r;
}

const std::string* Directory::tenantOfDomain(const std::string& domain) const {
  if (auto it = domain_to_tenant_.find(domain); it != domain_to_tenant_.end()) return &it->second;
  if (wildcard_to_tenant_.empty()) return nullptr;
  // "*.parent" covers every name below parent: try the parents from the longest (the most
  // specific wildcard) to the shortest. The apex itself is never a wildcard's.
  for (size_t dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1)) {
    auto it = wildcard_to_tenant_.find(domain.substr(dot + 1));
    if (it != wildcard_to_tenant_.end()) return &it->second;
  }
  return nullptr;
}

const TenantPolicy* Directory::tenant(std::string_view name) const {
  auto it = tenants_.find(std::string(name));
  return it == tenants_.end() ? nullptr : &it->second;
}

std::optional<std::string> Directory::authenticate(std::string_view user,
                                                   std::string_view password) const {
  auto it = users_.find(std::string(user));
  // Unknown users still pay for one hash so timing does not reveal which names exist.
  static const std::string kDummyHash =
      "$6$mxgatedummysalt$0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
  const std::string& hash = it != users_.end() ? it->second.password_hash : kDummyHash;
  std::string pw(password);
  auto data = std::make_unique<crypt_data>();  // large; keep it off the stack
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_r(pw.c_str(), hash.c_str(), data.get());
  std::memset(pw.data(), 0, pw.size());
  if (out == nullptr || out[0] == '*' || it == users_.end()) return std::nullopt;
  if (!equalConstantTime(out, hash)) return std::nullopt;
  return it->second.tenant;
}

}  // namespace mx::policy
