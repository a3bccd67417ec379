// policy/policy.cc — see policy.h.
#include "policy/policy.h"

namespace mx::policy {

std::string_view stageName(Stage s) {
  switch (s) {
    case Stage::kConnect: return "connect";
    case Stage::kHelo: return "helo";
    case Stage::kMailFrom: return "mail";
    case Stage::kRcptTo: return "rcpt";
    case Stage::kAuth: return "auth";
    case Stage::kEndOfData: return "data";
  }
  return "unknown";
}

Stage stageOf(smtp::PolicyStage s) {
  switch (s) {
    case smtp::PolicyStage::kConnect: return Stage::kConnect;
    case smtp::PolicyStage::kHelo: return Stage::kHelo;
    case smtp::PolicyStage::kMailFrom: return Stage::kMailFrom;
    case smtp::PolicyStage::kRcptTo: return Stage::kRcptTo;
    case smtp::PolicyStage::kAuth: return Stage::kAuth;
  }
  return Stage::kConnect;
}

}  // namespace mx::policy
