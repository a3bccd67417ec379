// server/edge_http.h — reads the fields the edge contract's checks need (edge_request.h)
// out of a request parsed by Boost.Beast: shared by the HTTP ingest and the WebSocket
// upgrade. Internal to src/server.
// Trust: the fields are untrusted; they are only viewed here, never interpreted.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <string_view>

#include "server/edge_request.h"

namespace mx::server {

inline EdgeHead edgeHeadOf(const boost::beast::http::fields& f) {
  EdgeHead h;
  auto get = [&f, &h](std::string_view name, std::optional<std::string_view>* out) {
    auto range = f.equal_range(boost::beast::string_view(name.data(), name.size()));
    size_t n = 0;
    for (auto it = range.first; it != range.second; ++it) {
      if (n++ == 0) *out = std::string_view(it->value().data(), it->value().size());
    }
    if (n > 1) h.duplicated = true;
  };
  get("content-type", &h.content_type);
  get("mx-mail-from", &h.mail_from);
  get("mx-rcpt-to", &h.rcpt_to);
  get("mx-client-ip", &h.client_ip);
  get("mx-client-helo", &h.client_helo);
  get("webhook-id", &h.webhook_id);
  get("webhook-timestamp", &h.webhook_timestamp);
  get("webhook-signature", &h.webhook_signature);
  return h;
}

}  // namespace mx::server
