// lambda/lambda_config.cc — see lambda_config.h.
#include "lambda/lambda_config.h"

namespace mx::lambda {

const config::Table<LambdaSettings>& lambdaTable() {
  static const config::Table<LambdaSettings> t = [] {
    config::Table<LambdaSettings> t("lambda", "the Lambda entry point (`mxgate-lambda`, docs/lambda.md)");
    t.add("ses_bucket", &LambdaSettings::ses_bucket,
          "the bucket an SES receipt rule's S3 action stores messages in (SES events name only the message id)");
    t.add("ses_prefix", &LambdaSettings::ses_prefix, "that S3 action's object key prefix, e.g. `\"inbound/\"`");
    t.add("max_message_size", &LambdaSettings::max_message_size,
          "an object larger than this fails for good (logged, then the event source's dead-letter queue); "
          "`0`: limits.max_message_size");
    t.add("deadline_margin", &LambdaSettings::deadline_margin,
          "records not yet started this close to the invocation's deadline are reported failed (retried) "
          "instead of being cut off");
    return t;
  }();
  return t;
}

}  // namespace mx::lambda
