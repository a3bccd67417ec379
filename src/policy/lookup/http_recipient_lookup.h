// policy/lookup/http_recipient_lookup.h — the RecipientLookup that asks the customer's
// application over HTTP(S) ([tenant.recipients] rule = "lookup"), through the shared
// asynchronous HttpClient (http/client.h: its own io_context threads, keep-alive pool,
// timeouts), so an event loop never waits for it.
//
// The request: GET <url>?address=<mailbox>&tenant=<name> (appended with "&" when the url
// has a query already; both percent-encoded, RFC 3986 2.1), or POST <url> with the body
// {"address":"<mailbox>","tenant":"<name>"} (application/json). The mailbox is the local
// part without a +detail, "@", the domain. An `authorization` setting goes in the
// Authorization header. The answer: 200 → exists, 404 → unknown; any other status, a
// transport error or the timeout → failed (the tenant's on_failure decides). The response
// body is ignored (bounded by the client).
//
// Threads: lookup() from any thread; `done` runs on the client's thread (or at once when
// the request cannot be built). Trust: the address is client text, only ever sent
// percent-encoded or JSON-escaped; the status code is the only thing read from the answer.
#pragma once

#include "http/client.h"
#include "policy/recipient_lookup.h"

namespace mx::policy {

class HttpRecipientLookup final : public RecipientLookup {
 public:
  // `client` must outlive this object and every request still on its way.
  explicit HttpRecipientLookup(http::HttpClient& client) : client_(client) {}

  // RecipientLookup
  void lookup(const std::string& tenant, const LookupSettings& settings, const std::string& address,
              LookupCallback done) override;

 private:
  http::HttpClient& client_;
};

// RFC 3986 2.3: every octet but ALPHA / DIGIT / "-" / "." / "_" / "~" as %XX.
std::string percentEncode(std::string_view s);

}  // namespace mx::policy
