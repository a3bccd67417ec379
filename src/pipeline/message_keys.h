// pipeline/message_keys.h — the storage keys of one message, computed ONCE from the
// store's KeyLayout (store/keys.h, DESIGN.md "Storage layout") by the MessageHandler and
// handed to the MessageProcessor, so the parsed document's refs, the stored objects and the
// event always name the same keys (no second KeyLayout anywhere).
// Trust: the envelope's tenant and the attachment filenames are untrusted; KeyLayout
// sanitises them, so every key here passes store::validateKey().
#pragma once

#include <string>
#include <string_view>

#include "core/envelope.h"
#include "store/keys.h"

namespace mx::pipeline {

struct MessageKeys {
  std::string tenant;  // sanitised (store::sanitizeTenant), as it appears in every key
  std::string raw;     // {prefix}{tenant}/raw/{yyyy}/{mm}/{dd}/{id}.eml
  std::string parsed;  // {prefix}{tenant}/parsed/{yyyy}/{mm}/{dd}/{id}.json

  // {prefix}{tenant}/attachments/{id}/{n}-{sanitised filename}; `n` numbers the message's
  // attachments from 1.
  std::string attachment(size_t n, std::string_view filename) const {
    return layout_->attachment(tenant, id_, n, filename);
  }

  // `layout` must outlive the result.
  static MessageKeys of(const store::KeyLayout& layout, const Envelope& envelope) {
    MessageKeys k;
    k.layout_ = &layout;
    k.id_ = envelope.id;
    k.tenant = store::sanitizeTenant(envelope.tenant);
    k.raw = layout.raw(k.tenant, envelope.received_at, envelope.id);
    k.parsed = layout.parsed(k.tenant, envelope.received_at, envelope.id);
    return k;
  }

 private:
  const store::KeyLayout* layout_ = nullptr;
  MessageId id_;
};

}  // namespace mx::pipeline
