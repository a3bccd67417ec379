// policy/lookup/http_recipient_lookup.cc — see http_recipient_lookup.h.
#include "policy/lookup/http_recipient_lookup.h"

#include "core/json_writer.h"

namespace mx::policy {

std::string percentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

void HttpRecipientLookup::lookup(const std::string& tenant, const LookupSettings& settings, const std::string& address,
                                 LookupCallback done) {
  http::Request r;
  r.method = settings.method;
  r.timeout = settings.timeout;
  if (settings.method == "POST") {
    r.url = settings.url;
    JsonWriter w(r.body);
    w.beginObject().field("address", address).field("tenant", tenant).endObject();
    r.headers.push_back({"Content-Type", "application/json"});
  } else {
    r.url = settings.url + (settings.url.find('?') == std::string::npos ? "?" : "&") +
            "address=" + percentEncode(address) + "&tenant=" + percentEncode(tenant);
  }
  if (!settings.authorization.empty()) r.headers.push_back({"Authorization", settings.authorization});
  client_.send(std::move(r), [done = std::move(done)](Result<http::Response> res) {
    if (!res.ok()) return done(LookupAnswer::kFailed);
    // 200: a recipient; 404: none. Anything else (a redirect, 5xx, 401) is not an answer.
    if (res.value().status == 200) return done(LookupAnswer::kExists);
    if (res.value().status == 404) return done(LookupAnswer::kUnknown);
    done(LookupAnswer::kFailed);
  });
}

}  // namespace mx::policy
