// lambda/message_source.cc — see message_source.h.
#include "lambda/message_source.h"

#include <cstring>
#include <unordered_set>

#include "core/sha256.h"
#include "core/time_format.h"
#include "mime/header.h"
#include "mime/message.h"

namespace mx::lambda {
namespace {

struct HeaderFields {
  std::string return_path;
  std::vector<std::string> original_to;  // X-Original-To, Delivered-To
  std::vector<std::string> to;           // To, Cc, Bcc
};

bool nameIs(std::string_view line, size_t colon, std::string_view name) {
  return colon == name.size() && mime::equalsIgnoreCase(line.substr(0, colon), name);
}

// The fields we recover the envelope from, each unfolded, from the header block (which ends
// at the first empty line; CRLF or bare LF).
HeaderFields scanHeaders(std::string_view raw) {
  HeaderFields h;
  raw = raw.substr(0, std::min(raw.size(), kMaxHeaderScan));
  size_t at = 0;
  while (at < raw.size()) {
    // One field: its first line, then continuation lines (starting with SP or HTAB).
    size_t end = at;
    do {
      size_t nl = raw.find('\n', end);
      end = nl == std::string_view::npos ? raw.size() : nl + 1;
    } while (end < raw.size() && (raw[end] == ' ' || raw[end] == '\t'));
    std::string_view field = raw.substr(at, end - at);
    at = end;
    if (field == "\r\n" || field == "\n") break;  // the empty line: end of the header
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    std::string value = mime::unfold(field.substr(colon + 1));
    if (nameIs(field, colon, "Return-Path")) {
      if (h.return_path.empty()) h.return_path = std::move(value);
    } else if (nameIs(field, colon, "X-Original-To") || nameIs(field, colon, "Delivered-To")) {
      h.original_to.push_back(std::move(value));
    } else if (nameIs(field, colon, "To") || nameIs(field, colon, "Cc") || nameIs(field, colon, "Bcc")) {
      h.to.push_back(std::move(value));
    }
  }
  return h;
}

void addAddresses(const std::vector<std::string>& values, std::vector<std::string>& out,
                  std::unordered_set<std::string>& seen) {
  for (const auto& v : values) {
    std::vector<mime::Address> list;
    mime::DecodeNotes notes;
    mime::parseAddressList(v, list, &notes);
    for (const auto& a : list) {
      if (!a.address || a.address->empty() || out.size() >= kMaxRecoveredRecipients) continue;
      std::string key = *a.address;
      mime::toLowerAscii(key);
      if (seen.insert(key).second) out.push_back(*a.address);
    }
  }
}

std::string reversePath(const std::string& return_path) {
  // "<a@b>", "<>" or a bare address; the null path stays empty.
  std::vector<mime::Address> list;
  mime::DecodeNotes notes;
  mime::parseAddressList(return_path, list, &notes);
  for (const auto& a : list) {
    if (a.address) return *a.address;
  }
  return {};
}

}  // namespace

MessageId objectMessageId(const RawMessageRef& ref, const ObjectInfo& info, WallTime received_at,
                          std::string_view tenant) {
  Sha256 h;
  h.update("mxgate lambda object\n");
  if (ref.source == LambdaEventSource::kSes && !ref.ses_message_id.empty()) {
    h.update("ses\n");
    h.update(ref.ses_message_id);
  } else {
    h.update(ref.bucket);
    h.update("\n");
    h.update(ref.key);
    h.update("\n");
    // The version names the object's bytes exactly; without versioning the ETag does.
    const std::string& v = !info.version_id.empty() ? info.version_id : ref.version_id;
    h.update(!v.empty() ? v : (!info.etag.empty() ? info.etag : ref.etag));
  }
  // Each tenant's copy is its own message (as the server commits it), with its own id.
  h.update("\n");
  h.update(tenant);
  const Sha256Digest d = h.finish();
  uint16_t hi = static_cast<uint16_t>((d[0] << 8) | d[1]);
  uint64_t lo = 0;
  for (size_t i = 2; i < 10; ++i) lo = (lo << 8) | d[i];
  return MessageId(static_cast<uint64_t>(unixMillis(received_at)), hi, lo);
}

SourcedMessage sourceMessage(const RawMessageRef& ref, const ObjectInfo& info, std::string_view raw,
                             const MessageSourceOptions& o, WallTime now) {
  SourcedMessage out;
  Envelope e;
  e.reception = Reception::kLambda;
  e.listener = o.listener;

  std::optional<store::RawKeyParts> ours;
  if (!o.store_bucket.empty() && ref.bucket == o.store_bucket) ours = o.layout->parseRaw(ref.key);

  if (ref.source == LambdaEventSource::kSes) {
    e.mail_from = ref.ses_source;
    for (const auto& d : ref.ses_destination) {
      if (e.rcpt_to.size() < kMaxRecoveredRecipients) e.rcpt_to.push_back(d);
    }
  } else {
    HeaderFields h = scanHeaders(raw);
    e.mail_from = reversePath(h.return_path);
    std::unordered_set<std::string> seen;
    addAddresses(h.original_to.empty() ? h.to : h.original_to, e.rcpt_to, seen);
  }
  // The body type, as a server would have been told it: 8BITMIME when any byte is 8-bit.
  for (unsigned char c : raw) {
    if (c >= 0x80) {
      e.body = BodyType::kEightBitMime;
      break;
    }
  }

  if (ours) {
    e.id = ours->id;
    e.received_at = ours->received_at;
    e.tenant = ours->tenant;
    out.raw_already_stored = true;
    out.copies.push_back(std::move(e));
    return out;
  }

  std::optional<WallTime> when;
  if (!ref.ses_timestamp.empty()) when = parseRfc3339(ref.ses_timestamp);
  if (!when) when = info.last_modified;
  e.received_at = when.value_or(now);

  const std::string fallback = o.tenants != nullptr ? o.tenants->defaultTenant() : std::string("default");
  e.tenant = fallback;
  for (const auto& r : e.rcpt_to) {
    std::string t = fallback;
    if (o.tenants != nullptr) {
      policy::RecipientRoute route = o.tenants->routeRecipient(r, "");
      if (route.accepted && !route.tenant.empty()) t = route.tenant;
    }
    e.rcpt_tenants.push_back(std::move(t));
  }
  if (!e.rcpt_tenants.empty()) e.tenant = e.rcpt_tenants.front();
  out.copies = splitByTenant(e);
  for (auto& c : out.copies) c.id = objectMessageId(ref, info, c.received_at, c.tenant);
  return out;
}

}  // namespace mx::lambda
