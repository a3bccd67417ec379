// store/store_config.cc — see store_config.h.
#include "store/store_config.h"

namespace mx::store {

const config::Table<StoreSettings>& storeTable() {
  static const config::Table<StoreSettings> t = [] {
    config::Table<StoreSettings> t("store", "where raw messages, parsed JSON and attachments go (same keys on every backend)");
    t.add("backend", &StoreSettings::backend, "the store backend, by name (`mxgate check-config` lists this build's)",
          config::Check::nonEmpty());
    t.add("dir", &StoreSettings::dir, "root of the local store", config::Check::nonEmpty());
    t.add("sync", &StoreSettings::sync,
          "how the pipeline makes a batch of objects durable on the local store: `\"filesystem\"` = one "
          "`syncfs` before and one after the renames (fast; also flushes other writers on that "
          "filesystem), `\"file\"` = `fdatasync` per object and `fsync` per directory (touches nothing else)",
          config::Check::oneOf({"filesystem", "file"}));
    return t;
  }();
  return t;
}

}  // namespace mx::store
