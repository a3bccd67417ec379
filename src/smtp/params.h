// smtp/params.h — the Mail-parameters and Rcpt-parameters of MAIL FROM and RCPT TO.
//
// Standards: RFC 5321 section 4.1.2 (esmtp-param = esmtp-keyword ["=" esmtp-value]),
// RFC 1870 section 3 (SIZE=1*20DIGIT), RFC 6152 section 2 and RFC 3030 section 3
// (BODY=7BIT / 8BITMIME / BINARYMIME), RFC 6531 section 3.4 (SMTPUTF8, no value; UTF-8 in
// esmtp-value), RFC 4954 section 5 (AUTH=<mailbox> on MAIL, accepted and ignored: this
// session never relays, so the original submitter it names is not needed). Unknown
// keywords are refused with 555 5.5.4 (RFC 5321 section 4.1.1.11).
//
// Trust: untrusted input (the remainder of a command line after the path). Views point
// into it; nothing is allocated.
#pragma once

#include <cstdint>
#include <string_view>

#include "smtp/session.h"

namespace mx::smtp {

enum class ParamError : uint8_t {
  kNone,
  kSyntax,       // not a sequence of esmtp-params separated by SP (501 5.5.4)
  kUnknown,      // keyword not supported here (555 5.5.4)
  kBadValue,     // supported keyword with a value it cannot take (501 5.5.4)
  kDuplicate,    // the same keyword twice (501 5.5.4)
};

struct ParamOffer {
  bool chunking = false;   // BODY=BINARYMIME is valid only when CHUNKING is offered
  bool smtputf8 = false;   // SMTPUTF8 is valid only when offered
};

struct MailParams {
  ParamError error = ParamError::kNone;
  std::string_view bad_keyword;  // the offending keyword for kUnknown/kBadValue/kDuplicate
  bool has_size = false;
  uint64_t size = 0;             // saturates at UINT64_MAX for 20-digit values
  BodyType body = BodyType::kSevenBit;
  bool smtputf8 = false;

  bool ok() const { return error == ParamError::kNone; }
};

struct RcptParams {
  ParamError error = ParamError::kNone;
  std::string_view bad_keyword;
  bool ok() const { return error == ParamError::kNone; }
};

// `in` is what follows the closing '>' of the path: empty, or SP-separated parameters.
MailParams parseMailParams(std::string_view in, const ParamOffer& offer);
RcptParams parseRcptParams(std::string_view in);

// Calls fn(keyword, value, has_value) for each esmtp-param; returns false on a syntax
// error (fn is then not called for the rest). Exposed for tests.
template <typename Fn>
bool forEachParam(std::string_view in, Fn&& fn);

bool isEsmtpKeyword(std::string_view s);
bool isEsmtpValue(std::string_view s);

template <typename Fn>
bool forEachParam(std::string_view in, Fn&& fn) {
  size_t i = 0;
  while (i < in.size()) {
    // RFC 5321 says exactly one SP; several (and trailing ones) are tolerated, as Postfix
    // does, because they carry no ambiguity.
    if (in[i] != ' ') return false;
    while (i < in.size() && in[i] == ' ') ++i;
    if (i == in.size()) break;
    size_t end = in.find(' ', i);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view param = in.substr(i, end - i);
    const size_t eq = param.find('=');
    const std::string_view key = param.substr(0, eq);
    if (!isEsmtpKeyword(key)) return false;
    if (eq == std::string_view::npos) {
      if (!fn(key, std::string_view(), false)) return true;
    } else {
      const std::string_view value = param.substr(eq + 1);
      if (!isEsmtpValue(value)) return false;
      if (!fn(key, value, true)) return true;
    }
    i = end;
  }
  return true;
}

}  // namespace mx::smtp
