// core/error.cc — names of the error classes, as they appear in logs and metrics.
#include "core/error.h"

namespace mx {

std::string_view errorClassName(ErrorClass c) {
  switch (c) {
    case ErrorClass::kProtocol: return "protocol";
    case ErrorClass::kPolicy: return "policy";
    case ErrorClass::kResource: return "resource";
    case ErrorClass::kTransientBackend: return "transient_backend";
    case ErrorClass::kPermanentBackend: return "permanent_backend";
    case ErrorClass::kConfig: return "config";
    case ErrorClass::kNotFound: return "not_found";
  }
  return "unknown";
}

}  // namespace mx
