// policy/policy_config.cc — see policy_config.h.
#include "policy/policy_config.h"

namespace mx::policy {

const config::Table<TenantConfig>& tenantTable() {
  static const config::Table<TenantConfig> t = [] {
    config::Table<TenantConfig> t("tenant", "who mail is accepted for, addressed by `name`", /*array=*/true);
    t.add("domains", &TenantConfig::domains,
          "recipient domains of this tenant (case-insensitive); a recipient in no tenant's domain is "
          "refused with `550 5.7.1` unless the session is authenticated");
    t.add("sinks", &TenantConfig::sinks, "the [[sink]] names this tenant's events go to (empty: every sink)");
    return t;
  }();
  return t;
}

const config::Table<UserConfig>& userTable() {
  static const config::Table<UserConfig> t = [] {
    config::Table<UserConfig> t("user", "submission accounts (SASL PLAIN/LOGIN), addressed by `name` (the authcid)",
                                /*array=*/true);
    t.secret(
        "password_hash", [](UserConfig& u) -> std::string& { return u.password_hash; },
        "crypt(3) hash: `$y$` (yescrypt, `mkpasswd -m yescrypt`) or `$6$` (SHA-512); weaker "
        "schemes (DES, MD5, SHA-256, bcrypt) are refused");
    t.add("tenant", &UserConfig::tenant, "the tenant its mail belongs to (empty: the first tenant)");
    return t;
  }();
  return t;
}

std::vector<TenantConfig> defaultTenants() { return {{"default", {"example.test", "localhost"}, {}}}; }

}  // namespace mx::policy
