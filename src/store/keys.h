// store/keys.h — the storage key layout (DESIGN.md "Storage layout"), shared by every
// backend so a local directory and an S3 bucket hold the same keys:
//   {prefix}/{tenant}/raw/{yyyy}/{mm}/{dd}/{id}.eml
//   {prefix}/{tenant}/parsed/{yyyy}/{mm}/{dd}/{id}.json
//   {prefix}/{tenant}/attachments/{id}/{n}-{sanitised filename}
// The date is the UTC date the message was received.
//
// Trust: tenant strings come from configuration and routing; attachment filenames come
// straight from untrusted MIME headers (RFC 2183 filename, RFC 2231/2047-decoded). Both are
// sanitised here so that no input can produce a path: every key these functions return
// passes validateKey() (blob_store.h).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/message_id.h"

namespace mx::store {

inline constexpr size_t kMaxTenantBytes = 64;
inline constexpr size_t kMaxFilenameBytes = 100;

// Keeps ASCII letters, digits, '.', '-' and '_'; every other byte becomes '_'. Leading dots
// are removed, the result is cut to kMaxTenantBytes, and an empty result is "default".
std::string sanitizeTenant(std::string_view tenant);

// Makes an attachment filename safe to be one key segment, keeping it recognisable:
//  * only the last path component is kept (after the last '/' or '\');
//  * invalid UTF-8 bytes become '_'; C0/C1 control characters and DEL are removed, as are
//    invisible and bidirectional formatting characters (U+200B..U+200F, U+202A..U+202E,
//    U+2066..U+2069, U+061C, U+FEFF, U+2028, U+2029: "invoice\u202Efdp.exe" spoofing);
//  * characters reserved on common filesystems (: * ? " < > |) and look-alike slashes
//    (U+2044, U+2215, U+29F8, U+FF0F, U+FF3C, U+2216) become '_';
//  * leading dots and spaces and trailing dots and spaces are removed, and Windows device
//    names (CON, NUL, COM1, ...) get a '_' prefix;
//  * the result is at most `max_bytes` (at least 16) bytes, cut at a UTF-8 character
//    boundary, keeping the extension (up to 16 bytes, dot included) when there is one;
//  * an empty result is "attachment".
// Letters and other printable characters of any script are kept. The result is never
// empty, never "." or "..", and holds no '/', '\', NUL or control character.
std::string sanitizeFilename(std::string_view name, size_t max_bytes = kMaxFilenameBytes);

// What a raw-message key of this layout names (KeyLayout::parseRaw).
struct RawKeyParts {
  std::string tenant;  // sanitised, as in the key
  MessageId id;
  WallTime received_at;  // the id's time; on a date other than the key's, midnight of the key's date
};

class KeyLayout {
 public:
  // `prefix` may be empty or hold '/'-separated segments (each sanitised like a tenant).
  explicit KeyLayout(std::string_view prefix = {});

  std::string raw(std::string_view tenant, WallTime received_at, const MessageId& id) const;
  std::string parsed(std::string_view tenant, WallTime received_at, const MessageId& id) const;
  // `n` numbers the message's attachments from 1, so equal filenames do not collide.
  std::string attachment(std::string_view tenant, const MessageId& id, size_t n,
                         std::string_view filename) const;

  const std::string& prefix() const { return prefix_; }  // "" or "a/b/" (with the slash)

  // The tenant, id and date of a key raw() made — {prefix}{tenant}/raw/{yyyy}/{mm}/{dd}/{id}.eml
  // with a valid id and date — so that the parsed document of an already stored raw message
  // gets the keys the server would give it. nullopt for any other key (untrusted input).
  std::optional<RawKeyParts> parseRaw(std::string_view key) const;

 private:
  std::string dated(std::string_view tenant, std::string_view kind, WallTime t, const MessageId& id,
                    std::string_view ext) const;
  std::string prefix_;
};

}  // namespace mx::store
