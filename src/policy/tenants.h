// policy/tenants.h — who we accept mail for, and who may submit it.
//
// A Directory maps recipient domains to tenants and holds the submission users. It answers
// the two questions the SMTP session parks on: "is this recipient ours (and whose)?" and
// "are these credentials right?". Relay protection lives here (DESIGN.md "Secure by
// default"): a recipient in no configured domain is refused with 550 5.7.1 unless the
// session is authenticated, in which case it is accepted for the submitter's tenant.
// Refusals name replies of the SMTP reply table (smtp/reply.h, the only link to smtp).
//
// Standards: RFC 5321 section 4.1.1.3 (postmaster must be accepted), RFC 5890 (domains are
// compared case-insensitively in their ASCII/A-label form; U-label domains are compared
// byte-wise after ASCII lower-casing, since we do not link an IDNA library).
//
// Trust: addresses and credentials come from the network (untrusted); the directory's
// contents come from the operator's config (trusted, validated at load).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "smtp/reply.h"

namespace mx::policy {

struct TenantConfig {
  std::string name;
  std::vector<std::string> domains;
  std::vector<std::string> sinks;  // the [[sink]] names its events go to; empty: every sink
};

struct UserConfig {
  std::string name;           // the SASL authcid
  std::string password_hash;  // crypt(3) format: $y$ / $gy$ (yescrypt) or $6$ (SHA-512) only
  std::string tenant;
};

struct RecipientRoute {
  bool accepted = false;
  std::string tenant;         // when accepted
  smtp::ReplyId refusal = smtp::ReplyId::kRelayDenied;  // when refused
};

// Empty when `hash` is a crypt(3) hash of a scheme we accept — yescrypt ($y$, $gy$) or
// SHA-512 ($6$) — else why not (DES, MD5, SHA-256, bcrypt and unknown schemes are refused:
// weak, or not what libxcrypt's defaults recommend).
std::string checkPasswordHash(std::string_view hash);

class Directory {
 public:
  // Validates and indexes the config. Errors name the tenant/user at fault.
  static std::shared_ptr<const Directory> build(const std::vector<TenantConfig>& tenants,
                                                const std::vector<UserConfig>& users,
                                                std::string* error);

  // Routes one RCPT TO forward-path (without brackets). `auth_user` is empty when the
  // session is not authenticated.
  RecipientRoute routeRecipient(std::string_view address, std::string_view auth_user) const;

  // Checks a password against the user's crypt(3) hash. Slow on purpose (yescrypt/sha512
  // rounds): call it off the I/O threads. Returns the user's tenant on success.
  std::optional<std::string> authenticate(std::string_view user, std::string_view password) const;

  const std::string& defaultTenant() const { return default_tenant_; }

 private:
  std::unordered_map<std::string, std::string> domain_to_tenant_;
  std::unordered_map<std::string, UserConfig> users_;
  std::string default_tenant_;
};

using DirectoryPtr = std::shared_ptr<const Directory>;

// Lower-cases ASCII and drops one trailing dot: the form domains are compared in.
std::string normalizeDomain(std::string_view domain);

}  // namespace mx::policy
