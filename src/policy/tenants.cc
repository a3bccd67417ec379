// policy/tenants.cc — see tenants.h.
#include "policy/tenants.h"

#include <crypt.h>

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
    for (const auto& d : t.domains) {
      std::string nd = normalizeDomain(d);
      if (nd.empty()) {
        *error = "tenant '" + t.name + "' has an empty domain";
        return nullptr;
      }
      auto [it, inserted] = dir->domain_to_tenant_.emplace(nd, t.name);
      if (!inserted && it->second != t.name) {
        *error = "domain '" + nd + "' belongs to both tenant '" + it->second + "' and '" +
                 t.name + "'";
        return nullptr;
      }
    }
  }
  if (dir->default_tenant_.empty()) dir->default_tenant_ = "default";
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
  auto it = domain_to_tenant_.find(normalizeDomain(address.substr(at + 1)));
  if (it != domain_to_tenant_.end()) {
    r.accepted = true;
    r.tenant = it->second;
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
