// spool/spool_config.h — the [spool] section, owned by the spool (config_table.h): its
// keys are SpoolOptions members and their defaults are SpoolOptions' defaults.
#pragma once

#include "core/config_table.h"
#include "spool/spool.h"

namespace mx::spool {

const config::Table<SpoolOptions>& spoolTable();

}  // namespace mx::spool
