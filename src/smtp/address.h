// smtp/address.h — the reverse-path / forward-path parser of the MAIL and RCPT commands.
//
// Standards: RFC 5321 section 4.1.2 (Path, Mailbox, Local-part, Domain, address-literal),
// 4.1.3 (IPv4/IPv6/general address literals), 4.1.1.3 (<Postmaster>), 4.5.3.1.1-3 (64 octet
// local-part, 255 octet domain, 256 octet path), Appendix C and 4.1.1.3 (source routes are
// accepted and their A-d-l ignored), RFC 6531 section 3.3 (UTF-8 in atext, qtext and
// U-label sub-domains, only with SMTPUTF8).
//
// Trust: the input is the untrusted remainder of a command line (bounded by the 512 octet
// command line limit, but the parser does not rely on that). It never reads past it and
// returns views into it; it allocates nothing.
#pragma once

#include <cstdint>
#include <string_view>

namespace mx::smtp {

enum class PathError : uint8_t {
  kNone,
  kSyntax,    // not a Path per RFC 5321 4.1.2 (or not well-formed UTF-8)
  kTooLong,   // local-part > 64, domain > 255 or path > 256 octets (RFC 5321 4.5.3.1)
  kNonAscii,  // well-formed, but holds UTF-8 and the transaction has no SMTPUTF8
};

struct PathRules {
  bool allow_null = false;        // "<>" (reverse-path only)
  bool allow_postmaster = false;  // "<Postmaster>" without a domain (forward-path only)
  bool allow_utf8 = false;        // RFC 6531: the transaction declared SMTPUTF8
};

struct ParsedPath {
  PathError error = PathError::kNone;
  // The mailbox as sent, without angle brackets and without any source route (empty for
  // "<>"). A view into the input.
  std::string_view mailbox;
  std::string_view local_part;
  std::string_view domain;     // includes the brackets of an address literal
  std::string_view rest;       // everything after the closing '>' (the parameters)
  bool null_path = false;
  bool postmaster = false;     // the bare "<Postmaster>" form
  bool source_route = false;   // an A-d-l was present and has been stripped
  bool address_literal = false;
  bool non_ascii = false;

  bool ok() const { return error == PathError::kNone; }
};

// Limits of RFC 5321 section 4.5.3.1.
inline constexpr size_t kMaxLocalPart = 64;
inline constexpr size_t kMaxDomain = 255;
inline constexpr size_t kMaxPath = 256;

// Parses a Path starting at in[0] ('<'). On success `rest` holds what follows '>'.
ParsedPath parsePath(std::string_view in, const PathRules& rules);

// Domain (RFC 5321 4.1.2, with RFC 6531 U-labels when allow_utf8) or address-literal.
// Exposed for tests and for the EHLO argument check.
bool isValidDomain(std::string_view s, bool allow_utf8);
bool isValidAddressLiteral(std::string_view s);  // including the brackets

}  // namespace mx::smtp
