// http/client.cc — the transport-independent pieces of http/client.h: header lookup, URL
// splitting (RFC 3986 section 3, only the absolute http/https form) and the blocking helper.
// Trust: parseUrl() takes a URL built by our code from config values and object keys; it
// refuses rather than repairs anything that would not survive a request line.
#include "http/client.h"

#include <charconv>
#include <future>

namespace mx::http {
namespace {

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

Error bad(std::string what, std::string_view url) {
  // The URL is ours (config + keys) and never holds a secret (presigned URLs are not sent
  // through this path), but bound its length in the message anyway.
  std::string shown(url.substr(0, 200));
  return Error(ErrorClass::kPermanentBackend, "bad URL (" + what + "): " + shown);
}

// RFC 3986 reg-name / IPv4: unreserved, sub-delims and pct-encoded; we allow the ASCII
// letters, digits, '-', '.', '_' and '~' that DNS names and addresses use.
bool validHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

}  // namespace

const std::string* findHeader(const Headers& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return &h.value;
  }
  return nullptr;
}

std::string Url::authority() const {
  std::string out;
  if (host.find(':') != std::string::npos) {
    out = "[" + host + "]";
  } else {
    out = host;
  }
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!default_port) out += ":" + std::to_string(port);
  return out;
}

Result<Url> parseUrl(std::string_view url) {
  Url out;
  size_t colon = url.find("://");
  if (colon == std::string_view::npos || colon == 0) return bad("no scheme", url);
  for (char c : url.substr(0, colon)) out.scheme += lowerAscii(c);
  if (out.scheme != "http" && out.scheme != "https") return bad("unknown scheme", url);

  std::string_view rest = url.substr(colon + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) return bad("userinfo present", url);
  if (authority.empty()) return bad("no host", url);

  std::string_view host, port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 literal", url);
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after IPv6 literal", url);
      port = after.substr(1);
      if (port.empty()) return bad("empty port", url);
    }
    if (host.empty()) return bad("no host", url);
    for (char c : host) {
      const char l = lowerAscii(c);
      if (!((l >= 'a' && l <= 'f') || (l >= '0' && l <= '9') || l == ':' || l == '.')) {
        return bad("bad IPv6 literal", url);
      }
    }
  } else {
    size_t p = authority.rfind(':');
    host = authority.substr(0, p);
    if (p != std::string_view::npos) {
      port = authority.substr(p + 1);
      if (port.empty()) return bad("empty port", url);
    }
    if (host.empty()) return bad("no host", url);
  }
  for (char c : host) {
    const char l = lowerAscii(c);
    if (!validHostChar(l) && l != ':') return bad("bad host", url);
    out.host += l;
  }

  if (port.empty()) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || ptr != port.data() + port.size() || v == 0 || v > 65535) {
      return bad("bad port", url);
    }
    out.port = static_cast<uint16_t>(v);
  }

  // The fragment is the client's alone and never goes on the wire (RFC 3986 section 3.5).
  tail = tail.substr(0, tail.find('#'));
  for (char c : tail) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return bad("unencoded byte in path or query", url);
  }
  if (tail.empty() || tail.front() == '?') out.target = "/";
  out.target += std::string(tail);
  return out;
}

Result<Response> sendAndWait(HttpClient& client, Request request) {
  std::promise<Result<Response>> promise;
  std::future<Result<Response>> future = promise.get_future();
  client.send(std::move(request), [&promise](Result<Response> r) { promise.set_value(std::move(r)); });
  return future.get();
}

}  // namespace mx::http
