// policy/policy_config.h — the configuration sections the policy owns (config_table.h):
// [[tenant]] (the domains a tenant receives for) and [[user]] (submission accounts). The
// defaults are the structs' defaults; the embedded tenant is defaultTenants().
#pragma once

#include <vector>

#include "core/config_table.h"
#include "policy/tenants.h"

namespace mx::policy {

const config::Table<TenantConfig>& tenantTable();
const config::Table<UserConfig>& userTable();

// The embedded default: tenant "default" for example.test and localhost.
std::vector<TenantConfig> defaultTenants();

}  // namespace mx::policy
