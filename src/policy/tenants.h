// policy/tenants.h — who we accept mail for, and who may submit it.
//
// A Directory maps recipient domains to tenants and holds the submission users. It answers
// the two questions the SMTP session parks on: "is this recipient ours (and whose)?" and
// "are these credentials right?". Relay protection lives here (DESIGN.md "Secure by
// default"): a recipient in no configured domain is refused with 550 5.7.1 unless the
// session is authenticated, in which case it is accepted for the submitter's tenant.
// Refusals name replies of the SMTP reply table (smtp/reply.h, the only link to smtp).
//
// Domains: exact names, and wildcards "*.example.com" that match every subdomain at any
// depth (a.example.com, b.a.example.com) but not the apex example.com, which must be listed
// itself. An exact name wins over a wildcard; among wildcards the longest suffix wins
// ("*.eu.example.com" over "*.example.com"), so the most specific entry decides.
// Each tenant may lower the message size limit (max_message_size; 0: the listener's).
//
// Recipients ([tenant.recipients], checked at RCPT so that nobody gets a bounce later):
// "catch_all" (every local part), or "list": the local parts ("sales") and full addresses
// ("sales@eu.acme.test") in `addresses` and the glob patterns (glob.h) in `patterns` — a
// pattern with an "@" is matched against the whole address, one without against the local
// part. Local parts and domains are compared case-insensitively (ASCII). With
// plus_addressing (the default), "user+detail@" that is not itself listed is checked as
// "user@" (RFC 5233 sub-addressing with "+"; the detail stays in the address, and the
// parsed JSON and event carry it as rcpt_to[].detail). "postmaster@" every domain of the
// tenant is always accepted (RFC 5321 4.5.1). An unknown recipient: 550 5.1.1.
// "lookup": what `addresses`/`patterns` do not accept is asked of the customer's application
// (recipient_lookup.h), by its mailbox (plus-detail removed when plus_addressing is on).
//
// Standards: RFC 5321 section 4.1.1.3 (postmaster must be accepted), RFC 5890 (domains are
// compared case-insensitively in their ASCII/A-label form; U-label domains are compared
// byte-wise after ASCII lower-casing, since we do not link an IDNA library).
//
// Trust: addresses and credentials come from the network (untrusted); the directory's
// contents come from the operator's config (trusted, validated at load).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "policy/recipient_lookup.h"
#include "smtp/reply.h"

namespace mx::policy {

// [tenant.recipients]: which recipients a tenant has.
struct RecipientRules {
  std::string rule = "catch_all";      // "catch_all" | "list" | "lookup"
  std::vector<std::string> addresses;  // local parts or full addresses
  std::vector<std::string> patterns;   // globs over the local part, or the address with "@"
  bool plus_addressing = true;         // "user+detail@" falls back to "user@"
  // rule = "lookup" (recipient_lookup.h LookupSettings, as configured):
  std::string url;
  std::string method = "GET";  // "GET" | "POST"
  std::string authorization;   // secret: the Authorization header's value
  Millis timeout{2'000};
  Millis positive_ttl{600'000};
  Millis negative_ttl{60'000};
  std::string on_failure = "tempfail";  // "tempfail" (451 4.3.0) | "accept"
  uint32_t cache_size = 10'000;
};

struct TenantConfig {
  std::string name;
  std::vector<std::string> domains;  // exact, or "*.parent" for every subdomain of parent
  std::vector<std::string> sinks{};  // the [[sink]] names its events go to; empty: every sink
  uint64_t max_message_size = 0;     // octets; 0: only the listener's limit applies
  RecipientRules recipients{};
  int line = 0;  // where the entry starts in the file (0: environment)
};

// A problem with one tenant's settings: the key at fault ("domains", "recipients.rule")
// and what is wrong. src/app reports it with the key's line.
struct TenantProblem {
  std::string key;
  std::string message;
};
std::vector<TenantProblem> checkTenant(const TenantConfig& t);

enum class RecipientRule : uint8_t { kCatchAll, kList, kLookup };

// What the directory keeps of a tenant for the per-message questions.
struct TenantPolicy {
  std::string name;
  uint64_t max_message_size = 0;  // 0: no limit of its own
  RecipientRule rule = RecipientRule::kCatchAll;
  std::unordered_set<std::string> local_parts;  // lower-cased
  std::unordered_set<std::string> addresses;    // lower-cased local@domain
  std::vector<std::string> local_patterns;      // globs without "@"
  std::vector<std::string> address_patterns;    // globs with "@"
  bool plus_addressing = true;
  LookupSettings lookup;  // kLookup
};

// The answer of Directory::checkRecipient(): known, unknown, or to be asked of the
// tenant's lookup (with mailboxOf() the address to ask about).
enum class RecipientCheck : uint8_t { kKnown, kUnknown, kLookup };

struct UserConfig {
  std::string name;           // the SASL authcid
  std::string password_hash;  // crypt(3) format: $y$ / $gy$ (yescrypt) or $6$ (SHA-512) only
  std::string tenant;
};

struct RecipientRoute {
  bool accepted = false;
  std::string tenant;         // when accepted
  bool local = false;         // the domain is the tenant's (not an authenticated relay)
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

  // Applies the tenant's recipient rule to `address` (a forward-path that routed to it).
  static RecipientCheck checkRecipient(const TenantPolicy& tenant, std::string_view address);
  // The mailbox a lookup asks about, lower-cased: the local part (without "+detail" when
  // the tenant has plus_addressing), "@", the domain.
  static std::string mailboxOf(const TenantPolicy& tenant, std::string_view address);

  // Checks a password against the user's crypt(3) hash. Slow on purpose (yescrypt/sha512
  // rounds): call it off the I/O threads. Returns the user's tenant on success.
  std::optional<std::string> authenticate(std::string_view user, std::string_view password) const;

  const std::string& defaultTenant() const { return default_tenant_; }

  // The tenant named `name`, or null (a tenant name from an older directory after a reload,
  // or the embedded "default" when no tenant is configured).
  const TenantPolicy* tenant(std::string_view name) const;

  // The largest message any tenant accepts: 0 when some tenant has no limit of its own.
  // A declared SIZE= above it fits no recipient, so MAIL can refuse it at once (with one
  // tenant, that tenant's limit).
  uint64_t largestMessageSize() const { return largest_message_size_; }

 private:
  const std::string* tenantOfDomain(const std::string& domain) const;

  std::unordered_map<std::string, std::string> domain_to_tenant_;
  std::unordered_map<std::string, std::string> wildcard_to_tenant_;  // "*.x.y" stored as "x.y"
  std::unordered_map<std::string, TenantPolicy> tenants_;
  uint64_t largest_message_size_ = 0;
  std::unordered_map<std::string, UserConfig> users_;
  std::string default_tenant_;
};

using DirectoryPtr = std::shared_ptr<const Directory>;

// Lower-cases ASCII and drops one trailing dot: the form domains are compared in.
std::string normalizeDomain(std::string_view domain);

// Checks one configured domain: a name, or "*." followed by a name (the wildcard only as
// the whole leftmost label). Returns "" or what is wrong.
std::string checkDomain(std::string_view domain);

}  // namespace mx::policy
