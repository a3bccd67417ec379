// mime/auth_results.h — Authentication-Results header fields (RFC 8601 section 2.2:
// authserv-id, optional version, then "; method[/version]=result (comment) reason=...
// ptype.property=value" resinfo entries), and the per-method summary over trusted ones.
// Trust: field values are untrusted and may come from anyone upstream; a result is marked
// trusted only when its authserv-id is one the caller configured (RFC 8601 section 5).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mime/message.h"

namespace mx::mime {

// Parses one field value and appends one AuthResult per method result. A field that says
// "none" (no results) appends nothing. Returns false if some resinfo was malformed (those
// are skipped up to the next ';').
bool parseAuthenticationResults(std::string_view raw, uint32_t header_index,
                                const std::vector<std::string>& trusted_ids,
                                std::vector<AuthResult>& out);

// Summary from trusted results: spf, dmarc and arc take the topmost trusted result; dkim is
// "pass" if any trusted dkim result passed (one good signature suffices), else the topmost.
// Result names outside the schema's AuthResultValue list (which holds every name RFC 8601
// section 2.7 and RFC 8617 define) become "unknown".
AuthSummary summarizeAuthResults(const std::vector<AuthResult>& results);

// The canonical result name for the summary ("pass", "fail", ..., or "unknown").
std::string_view canonicalAuthResult(std::string_view result);

}  // namespace mx::mime
