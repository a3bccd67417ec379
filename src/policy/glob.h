// policy/glob.h — the shell-style patterns of a tenant's recipient rules
// ([tenant.recipients] patterns = ["ticket-*", "*@eu.acme.test"]): `*` stands for any run of
// octets (the empty one too), `?` for exactly one octet, every other octet for itself, with
// ASCII letters compared case-insensitively (domains are case-insensitive, RFC 5321 2.4, and
// mail systems treat local parts so in practice, as Postfix's lookups do). There are no
// character classes and no escapes: a local part that holds a literal `*` or `?` is matched by
// `?` (or listed in `addresses`).
//
// Matching is iterative (one backtrack point, the last `*`): O(pattern × text) in the worst
// case and no recursion, so a hostile address cannot make it slow or deep; patterns and
// addresses are bounded (checkGlob(), RFC 5321 4.5.3.1.3) anyway.
// Trust: the pattern is the operator's (checked at load); the text is client bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mx::policy {

// The longest pattern accepted: a path is at most 256 octets (RFC 5321 4.5.3.1.3).
inline constexpr size_t kMaxGlobLength = 256;

// True when `text` matches `pattern` as a whole.
bool globMatch(std::string_view pattern, std::string_view text);

// Checks a configured pattern: "" or what is wrong (empty, too long, a control octet).
std::string checkGlob(std::string_view pattern);

}  // namespace mx::policy
