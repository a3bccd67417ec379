// policy/policy_config.cc — see policy_config.h.
#include "policy/policy_config.h"

namespace mx::policy {

const config::Table<TenantConfig>& tenantTable() {
  static const config::Table<TenantConfig> t = [] {
    config::Table<TenantConfig> t("tenant", "who mail is accepted for, addressed by `name`", /*array=*/true);
    t.add("domains", &TenantConfig::domains,
          "recipient domains of this tenant (case-insensitive): exact names, or `*.example.com` for every "
          "subdomain of example.com (not example.com itself); an exact name wins over a wildcard, a longer "
          "wildcard over a shorter one. A recipient in no tenant's domain is refused with `550 5.7.1` unless "
          "the session is authenticated");
    t.add("sinks", &TenantConfig::sinks, "the [[sink]] names this tenant's events go to (empty: every sink)");
    t.add("max_message_size", &TenantConfig::max_message_size,
          "the largest message this tenant accepts (0: the listener's `limits.max_message_size` alone): "
          "`552 5.3.4` at MAIL when SIZE= exceeds every tenant's limit, at RCPT when it exceeds this "
          "tenant's, else at the end of data. It can only lower the listener's limit");
    // [tenant.recipients] (a sub-table of the entry; MXGATE_TENANT_<NAME>_RECIPIENTS_<KEY>).
    t.add(
        "recipients.rule", [](TenantConfig& c) -> std::string& { return c.recipients.rule; },
        "which recipients the tenant has, checked at RCPT (unknown: `550 5.1.1`): `catch_all` every local "
        "part; `list` those in recipients.addresses and recipients.patterns; `lookup` those and what the "
        "customer's application confirms (recipients.url). `postmaster` is always accepted",
        config::Check::oneOf({"catch_all", "list", "lookup"}));
    t.add(
        "recipients.addresses", [](TenantConfig& c) -> std::vector<std::string>& { return c.recipients.addresses; },
        "local parts (`\"sales\"`: in every domain of the tenant) or full addresses (`\"sales@acme.example\"`), "
        "compared case-insensitively");
    t.add(
        "recipients.patterns", [](TenantConfig& c) -> std::vector<std::string>& { return c.recipients.patterns; },
        "glob patterns (`*` any run, `?` one character, case-insensitive) over the local part, or over the whole "
        "address when the pattern has an `@`: `\"ticket-*\"`, `\"*@eu.acme.example\"`");
    t.add(
        "recipients.plus_addressing", [](TenantConfig& c) -> bool& { return c.recipients.plus_addressing; },
        "`user+detail@` that is not listed itself is accepted when `user@` is (the detail is kept in the address "
        "and given as `rcpt_to[].detail` in the parsed JSON and the event)");
    t.add(
        "recipients.url", [](TenantConfig& c) -> std::string& { return c.recipients.url; },
        "rule = \"lookup\": the customer's endpoint (http or https). GET adds `?address=<mailbox>&tenant=<name>`; "
        "`200` accepts, `404` refuses with `550 5.1.1`, anything else or no answer in time is a failure");
    t.add(
        "recipients.method", [](TenantConfig& c) -> std::string& { return c.recipients.method; },
        "rule = \"lookup\": `GET`, or `POST` with the JSON body `{\"address\": …, \"tenant\": …}`",
        config::Check::oneOf({"GET", "POST"}));
    t.secret(
        "recipients.authorization", [](TenantConfig& c) -> std::string& { return c.recipients.authorization; },
        "rule = \"lookup\": the Authorization header sent with each lookup (`Bearer …`); empty: none");
    t.add(
        "recipients.timeout", [](TenantConfig& c) -> Millis& { return c.recipients.timeout; },
        "rule = \"lookup\": the whole exchange, connect included; keep it below `server.policy_timeout`",
        config::Check::atLeast(1));
    t.add(
        "recipients.positive_ttl", [](TenantConfig& c) -> Millis& { return c.recipients.positive_ttl; },
        "rule = \"lookup\": how long an accepted address is remembered (0: not at all)");
    t.add(
        "recipients.negative_ttl", [](TenantConfig& c) -> Millis& { return c.recipients.negative_ttl; },
        "rule = \"lookup\": how long an unknown address is remembered (0: not at all)");
    t.add(
        "recipients.on_failure", [](TenantConfig& c) -> std::string& { return c.recipients.on_failure; },
        "rule = \"lookup\": when the application fails or does not answer in time: `tempfail` (`451 4.3.0`, the "
        "client retries later) or `accept`",
        config::Check::oneOf({"tempfail", "accept"}));
    t.add(
        "recipients.cache_size", [](TenantConfig& c) -> uint32_t& { return c.recipients.cache_size; },
        "rule = \"lookup\": answers remembered for this tenant, least recently used first out (0: none)");
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
