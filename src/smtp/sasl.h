// smtp/sasl.h — decoding of the SASL mechanisms the session offers, with no state: the
// AUTH exchange itself (334 challenges, "*" cancellation, RFC 4954 section 4) lives in
// the session.
//
// Standards: RFC 4954 section 4 (base64 responses, "=" for an empty initial response,
// "*" to cancel), RFC 4616 section 2 (PLAIN: [authzid] NUL authcid NUL passwd, each UTF-8,
// authcid and passwd non-empty), the LOGIN mechanism (draft-murchison-sasl-login: two
// base64 responses, user name then password).
//
// Trust: untrusted input. Decoded secrets are returned in std::string so the caller can
// wipe them (see wipeString); nothing here keeps a copy.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mx::smtp {

enum class SaslDecodeError { kNone, kBadBase64, kMalformed };

// RFC 4954 section 4: a client response is base64, or "=" for an empty one.
// Returns nullopt for anything that is not strict base64 (501 5.5.2).
std::optional<std::string> decodeSaslResponse(std::string_view line);

struct PlainCredentials {
  std::string authzid;
  std::string authcid;
  std::string password;
};

// Splits a decoded PLAIN message (RFC 4616 section 2). False when it is malformed: not
// exactly two NULs, an empty authcid or password, or text that is not UTF-8.
bool splitPlain(std::string_view message, PlainCredentials& out);

// True when s is a usable LOGIN user name or password: non-empty UTF-8 with no NUL.
bool isValidLoginField(std::string_view s);

// Overwrites the bytes of s (so a password does not linger in freed heap memory) and
// empties it. The write cannot be optimised away.
void wipeString(std::string& s);
void wipeBytes(char* p, size_t n);

}  // namespace mx::smtp
