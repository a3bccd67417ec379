// lambda/message_source.h — the identity and envelope of a message the Lambda entry point
// read from S3 (a RawMessageRef of lambda_event.h and the object's bytes), built so that the
// function is idempotent: the same object gives the same id, keys and event id on every
// retry, and a raw object mxgate itself stored gets the keys the server would have used.
//
//   - A raw object at a key of the store's own layout in the store's bucket (a node with
//     parsing off, or the server's S3 store): id, tenant and date from the key (store/keys.h
//     KeyLayout::parseRaw); the raw object is not stored again.
//   - Any other object (SES receipts, uploads by others): received_at is the SES
//     mail.timestamp, else the object's Last-Modified, else `now`; the id is a ULID of that
//     millisecond whose 80 "random" bits are the first 80 bits of SHA-256 over the bucket,
//     key, version (or ETag) and tenant — stable across retries, distinct per object version
//     and per tenant's copy.
//
// The envelope: SES gives the SMTP envelope (mail.source, mail.destination). For other
// objects there is none to read, so it is recovered from the headers, as an MDA would:
// MAIL FROM from Return-Path; the recipients from X-Original-To/Delivered-To when present,
// else To, Cc and Bcc (the parsed JSON says reception "lambda", so a consumer can tell).
// Each recipient's tenant is its domain's (policy::Directory); recipients of no tenant, and
// an empty recipient list, belong to the directory's default tenant. A message for several
// tenants is one copy per tenant (core/envelope.h splitByTenant), as the server commits it.
//
// Trust: the object's bytes and the event's fields are untrusted. Only the header block is
// scanned (the first kMaxHeaderScan bytes), addresses go through the MIME address parser,
// at most kMaxRecoveredRecipients are kept; nothing here reaches a key except through
// store::KeyLayout's sanitising.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/envelope.h"
#include "lambda/lambda_event.h"
#include "policy/tenants.h"
#include "store/keys.h"

namespace mx::lambda {

inline constexpr size_t kMaxHeaderScan = 256 * 1024;
inline constexpr size_t kMaxRecoveredRecipients = 1000;

// What the reader knows about the object besides its bytes.
struct ObjectInfo {
  std::optional<WallTime> last_modified;
  std::string etag;
  std::string version_id;
};

struct SourcedMessage {
  std::vector<Envelope> copies;     // one per tenant, each with the same id
  bool raw_already_stored = false;  // the object is this store's own raw object
};

struct MessageSourceOptions {
  const store::KeyLayout* layout = nullptr;    // the store's; must be set
  std::string store_bucket;                    // "" when the store is not S3
  const policy::Directory* tenants = nullptr;  // null: every message is the default tenant's
  std::string listener = "lambda";             // Envelope::listener
};

SourcedMessage sourceMessage(const RawMessageRef& ref, const ObjectInfo& info, std::string_view raw,
                             const MessageSourceOptions& options, WallTime now);

// The stable id of one tenant's copy of an object that is not one of ours (exposed for tests).
MessageId objectMessageId(const RawMessageRef& ref, const ObjectInfo& info, WallTime received_at,
                          std::string_view tenant);

}  // namespace mx::lambda
