// smtp/params.cc — see params.h.
// Trust: untrusted input; bounds-checked views only.
#include "smtp/params.h"

#include "smtp/ascii.h"

namespace mx::smtp {

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool isEsmtpKeyword(std::string_view s) {
  if (s.empty() || !isAlnum(s[0])) return false;
  for (char c : s) {
    if (!isAlnum(c) && c != '-') return false;
  }
  return true;
}

// esmtp-value = 1*(%d33-60 / %d62-126), plus UTF8-non-ascii (RFC 6531 section 3.3).
bool isEsmtpValue(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) continue;
    if (u < 33 || u > 126 || u == '=') return false;
  }
  return isValidUtf8(s);
}

MailParams parseMailParams(std::string_view in, const ParamOffer& offer) {
  MailParams out;
  bool seen_body = false;
  bool seen_auth = false;
  auto fail = [&out](ParamError e, std::string_view key) {
    out.error = e;
    out.bad_keyword = key;
    return false;  // stop iterating
  };
  const bool syntax_ok = forEachParam(in, [&](std::string_view key, std::string_view value,
                                              bool has_value) {
    if (equalsIgnoreCase(key, "SIZE")) {
      // RFC 1870 section 3: size-value ::= 1*20DIGIT
      if (out.has_size) return fail(ParamError::kDuplicate, key);
      if (!has_value || !parseDecimal(value, 20, out.size)) return fail(ParamError::kBadValue, key);
      out.has_size = true;
      return true;
    }
    if (equalsIgnoreCase(key, "BODY")) {
      if (seen_body) return fail(ParamError::kDuplicate, key);
      seen_body = true;
      if (!has_value) return fail(ParamError::kBadValue, key);
      if (equalsIgnoreCase(value, "7BIT")) {
        out.body = BodyType::kSevenBit;
      } else if (equalsIgnoreCase(value, "8BITMIME")) {
        out.body = BodyType::kEightBitMime;
      } else if (equalsIgnoreCase(value, "BINARYMIME") && offer.chunking) {
        // RFC 3030 section 3: BINARYMIME needs CHUNKING, so it is only offered with it.
        out.body = BodyType::kBinaryMime;
      } else {
        return fail(ParamError::kBadValue, key);
      }
      return true;
    }
    if (equalsIgnoreCase(key, "SMTPUTF8") && offer.smtputf8) {
      // RFC 6531 section 3.4: the parameter has no value.
      if (out.smtputf8) return fail(ParamError::kDuplicate, key);
      if (has_value) return fail(ParamError::kBadValue, key);
      out.smtputf8 = true;
      return true;
    }
    if (equalsIgnoreCase(key, "AUTH")) {
      // RFC 4954 section 5: a server that offers AUTH must accept AUTH=<mailbox> / <>.
      if (seen_auth) return fail(ParamError::kDuplicate, key);
      seen_auth = true;
      if (!has_value) return fail(ParamError::kBadValue, key);
      return true;
    }
    return fail(ParamError::kUnknown, key);
  });
  if (!syntax_ok) {
    out.error = ParamError::kSyntax;
    out.bad_keyword = {};
  }
  return out;
}

RcptParams parseRcptParams(std::string_view in) {
  // No RCPT parameter is offered (DSN's NOTIFY/ORCPT are not advertised).
  RcptParams out;
  const bool syntax_ok = forEachParam(in, [&](std::string_view key, std::string_view, bool) {
    out.error = ParamError::kUnknown;
    out.bad_keyword = key;
    return false;
  });
  if (!syntax_ok) {
    out.error = ParamError::kSyntax;
    out.bad_keyword = {};
  }
  return out;
}

}  // namespace mx::smtp
