// smtp/sasl.cc — see sasl.h.
// Trust: untrusted input of any length.
#include "smtp/sasl.h"

#include <string.h>  // explicit_bzero (glibc)

#include "core/base64.h"
#include "smtp/ascii.h"

namespace mx::smtp {

std::optional<std::string> decodeSaslResponse(std::string_view line) {
  if (line == "=") return std::string();
  if (line.empty()) return std::nullopt;  // an empty line is not base64 (RFC 4954 says "=")
  return base64DecodeStrict(line);
}

bool splitPlain(std::string_view message, PlainCredentials& out) {
  const size_t first = message.find('\0');
  if (first == std::string_view::npos) return false;
  const size_t second = message.find('\0', first + 1);
  if (second == std::string_view::npos) return false;
  if (message.find('\0', second + 1) != std::string_view::npos) return false;
  const std::string_view authzid = message.substr(0, first);
  const std::string_view authcid = message.substr(first + 1, second - first - 1);
  const std::string_view password = message.substr(second + 1);
  if (authcid.empty() || password.empty()) return false;
  if (!isValidUtf8(authzid) || !isValidUtf8(authcid) || !isValidUtf8(password)) return false;
  out.authzid.assign(authzid);
  out.authcid.assign(authcid);
  out.password.assign(password);
  return true;
}

bool isValidLoginField(std::string_view s) {
  return !s.empty() && s.find('\0') == std::string_view::npos && isValidUtf8(s);
}

void wipeBytes(char* p, size_t n) {
  if (n > 0) explicit_bzero(p, n);
}

void wipeString(std::string& s) {
  // Wipe the whole capacity: an earlier, longer value may have lived there.
  s.resize(s.capacity());
  wipeBytes(s.data(), s.size());
  s.clear();
}

}  // namespace mx::smtp
