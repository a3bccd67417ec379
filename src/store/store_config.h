// store/store_config.h — the [store] section, owned by the store module (config_table.h).
// Which backend names exist depends on the build; src/app's registry checks the name.
#pragma once

#include <string>

#include "core/config_table.h"

namespace mx::store {

struct StoreSettings {
  std::string backend = "local";      // the registry's name: local, memory, (s3 …)
  std::string dir = "var/store";      // root of the local store
  std::string sync = "filesystem";    // local: filesystem | file
};

const config::Table<StoreSettings>& storeTable();

}  // namespace mx::store
