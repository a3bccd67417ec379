// lambda/lambda_config.h — the [lambda] section, owned by the Lambda entry point
// (config_table.h): what only `mxgate-lambda` reads. Everything else (store, sinks, tenants,
// pipeline.parse) is the server's own configuration, given to the function the same way —
// MXGATE_* environment variables (MXGATE_STORE_S3_BUCKET, MXGATE_EVENTS_SINK, …) or a file
// named by MXGATE_CONFIG packaged beside `bootstrap`.
#pragma once

#include <cstdint>
#include <string>

#include "core/config_table.h"

namespace mx::lambda {

struct LambdaSettings {
  std::string ses_bucket;         // where the SES receipt rule's S3 action stores messages
  std::string ses_prefix;         // that action's object key prefix ("" or e.g. "inbound/")
  uint64_t max_message_size = 0;  // objects larger fail for good; 0: limits.max_message_size
  Millis deadline_margin{2'000};  // records not started this close to the invocation's deadline
};

const config::Table<LambdaSettings>& lambdaTable();

}  // namespace mx::lambda
