// smtp/verdict.cc — see verdict.h.
// Trust: none needed (constant names).
#include "smtp/verdict.h"

namespace mx::smtp {

std::string_view policyStageName(PolicyStage s) {
  switch (s) {
    case PolicyStage::kConnect: return "connect";
    case PolicyStage::kHelo: return "helo";
    case PolicyStage::kMailFrom: return "mail";
    case PolicyStage::kRcptTo: return "rcpt";
    case PolicyStage::kAuth: return "auth";
  }
  return "?";
}

}  // namespace mx::smtp
