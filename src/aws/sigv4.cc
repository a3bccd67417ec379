// aws/sigv4.cc — see sigv4.h. The rules below follow the AWS SigV4 documentation and, where
// the documentation is silent, what botocore does (tests/aws/botocore_vectors.py compares
// both byte for byte):
//  - canonical URI: S3 signs the path as sent, encoded once; every other service signs the
//    path with dot segments and empty segments removed, then URI-encoded a second time
//    (botocore SigV4Auth._normalize_url_path);
//  - canonical query: name=value pairs split on '&', "name" alone becomes "name=", sorted by
//    encoded name then encoded value;
//  - canonical headers: every header except the hop-by-hop ones botocore leaves out (and
//    User-Agent), names lower-cased, values with runs of whitespace folded to one space,
//    repeated names joined with ',', sorted; "host" from the URL when the request has none.
// Trust: the request comes from our own code; header names are expected to be RFC 9110
// tokens (the fuzz target checks what happens otherwise: no crash, no line breaks from values).
#include "aws/sigv4.h"

#include <algorithm>
#include <cstdio>

#include "core/sha256.h"
#include "core/time_format.h"

namespace mx::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// Left out of the signature as botocore's SIGNED_HEADERS_BLACKLIST does: hop-by-hop headers a
// proxy may rewrite, and User-Agent / X-Amzn-Trace-Id that tooling rewrites.
constexpr std::string_view kUnsignedHeaders[] = {
    "connection", "expect",  "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer",    "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
};

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lowerAscii(c);
  return out;
}

bool isUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX becomes its byte; a '%' not followed by two hex digits stays a literal '%' (it will be
// encoded as %25 again, which is what a server that decodes leniently sees).
std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// The already-encoded form the caller should have produced, whatever it produced: decoding
// then encoding makes "%7e", "~" and "%7E" all "~", and a stray '+' or '=' "%2B"/"%3D".
std::string reencode(std::string_view s, bool encode_slash) { return uriEncode(percentDecode(s), encode_slash); }

// RFC 3986 section 5.2.4 remove_dot_segments, and empty segments dropped as well (AWS
// services other than S3 collapse "//"); botocore utils.remove_dot_segments.
std::string removeDotSegments(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(start, slash - start);
    if (!seg.empty() && seg != ".") {
      if (seg == "..") {
        if (!out.empty()) out.pop_back();
      } else {
        out.push_back(seg);
      }
    }
    start = slash + 1;
  }
  std::string result = path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0) result += '/';
    result += out[i];
  }
  if (path.back() == '/' && !out.empty()) result += '/';
  return result;
}

// The parts of a URL the signature needs. parseUrl() refusing the URL is not our error to
// report (the client will refuse it too): split it as best we can.
struct UrlParts {
  std::string authority;  // the Host header value
  std::string path;       // as on the request line, "/" when empty
  std::string query;      // without '?'
  std::string prefix;     // "scheme://authority" exactly as the caller wrote it
};

UrlParts splitUrl(std::string_view url) {
  UrlParts p;
  std::string_view target;
  size_t scheme_end = url.find("://");
  size_t auth_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  size_t auth_end = url.find_first_of("/?#", auth_start);
  if (auth_end == std::string_view::npos) auth_end = url.size();
  p.prefix = std::string(url.substr(0, auth_end));
  target = url.substr(auth_end);
  target = target.substr(0, target.find('#'));
  if (auto parsed = http::parseUrl(url); parsed.ok()) {
    p.authority = parsed->authority();
  } else {
    p.authority = lower(url.substr(auth_start, auth_end - auth_start));
  }
  size_t q = target.find('?');
  p.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) p.query = std::string(target.substr(q + 1));
  if (p.path.empty()) p.path = "/";
  return p;
}

std::string canonicalUri(std::string_view path, bool s3) {
  if (s3) return reencode(path, /*encode_slash=*/false);
  // Non-S3: normalise the path as it goes on the wire, then encode it once more.
  return uriEncode(removeDotSegments(reencode(path, false)), false);
}

std::string canonicalQuery(std::string_view query) {
  if (query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(start, amp - start);
    size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    pairs.emplace_back(reencode(name, true), reencode(value, true));
    start = amp + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// SigV4 Trimall: leading and trailing whitespace removed, inner runs folded to one space
// (botocore: ' '.join(value.split())). Line breaks count as whitespace, so a value can
// never add a line to the canonical request.
std::string trimAll(std::string_view v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (isSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

bool signedHeader(std::string_view lower_name) {
  return std::find(std::begin(kUnsignedHeaders), std::end(kUnsignedHeaders), lower_name) ==
         std::end(kUnsignedHeaders);
}

struct CanonicalHeaders {
  std::string block;   // "name:value\n" per header
  std::string signed_list;  // "a;b;c"
};

CanonicalHeaders canonicalHeaders(const http::Headers& headers, const std::string& authority) {
  // (name, value) in request order; stable_sort keeps repeated names in that order.
  std::vector<std::pair<std::string, std::string>> list;
  bool have_host = false;
  for (const http::Header& h : headers) {
    std::string name = lower(h.name);
    if (!signedHeader(name)) continue;
    if (name == "host") have_host = true;
    list.emplace_back(std::move(name), trimAll(h.value));
  }
  if (!have_host) list.emplace_back("host", authority);
  std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0 && list[i].first == list[i - 1].first) {
      out.block.back() = ',';  // replaces the previous line's '\n'
      out.block += list[i].second;
      out.block += '\n';
      continue;
    }
    if (!out.signed_list.empty()) out.signed_list += ';';
    out.signed_list += list[i].first;
    out.block += list[i].first;
    out.block += ':';
    out.block += list[i].second;
    out.block += '\n';
  }
  return out;
}

// "20150830T123600Z" (ISO 8601 basic format, UTC).
std::string amzDate(WallTime t) {
  CivilTime c = toCivilUtc(t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", c.year, c.month, c.day, c.hour, c.minute,
                c.second);
  return buf;
}

void removeHeader(http::Headers& headers, std::string_view name) {
  std::string l = lower(name);
  headers.erase(std::remove_if(headers.begin(), headers.end(), [&](const http::Header& h) { return lower(h.name) == l; }),
                headers.end());
}

struct Canonical {
  std::string request;
  std::string signed_headers;
};

Canonical buildCanonical(const SignerOptions& options, std::string_view method, const UrlParts& url,
                         const http::Headers& headers, std::string_view payload_hash) {
  CanonicalHeaders ch = canonicalHeaders(headers, url.authority);
  Canonical c;
  std::string& r = c.request;
  for (char m : method) r += (m >= 'a' && m <= 'z') ? static_cast<char>(m - 'a' + 'A') : m;
  r += '\n';
  r += canonicalUri(url.path, options.s3);
  r += '\n';
  r += canonicalQuery(url.query);
  r += '\n';
  r += ch.block;
  r += '\n';
  r += ch.signed_list;
  r += '\n';
  r += payload_hash;
  c.signed_headers = std::move(ch.signed_list);
  return c;
}

}  // namespace

std::string uriEncode(std::string_view s, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (isUnreserved(c) || (c == '/' && !encode_slash)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

Signer::Signer(SignerOptions options) : options_(std::move(options)) {}

std::string Signer::canonicalRequest(const http::Request& request, std::string_view payload_sha256_hex) const {
  std::string payload;
  if (!payload_sha256_hex.empty()) {
    payload = std::string(payload_sha256_hex);
  } else if (const std::string* h = http::findHeader(request.headers, "x-amz-content-sha256")) {
    payload = *h;
  } else {
    payload = sha256Hex(request.body);
  }
  return buildCanonical(options_, request.method, splitUrl(request.url), request.headers, payload).request;
}

std::string Signer::stringToSign(std::string_view canonical_request, WallTime now) const {
  std::string date = amzDate(now);
  std::string out(kAlgorithm);
  out += '\n';
  out += date;
  out += '\n';
  out += date.substr(0, 8) + "/" + options_.region + "/" + options_.service + "/aws4_request";
  out += '\n';
  out += sha256Hex(canonical_request);
  return out;
}

std::string Signer::signingKey(const Credentials& credentials, std::string_view date) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (cached_date_ == date && cached_secret_ == credentials.secret_access_key && !cached_key_.empty()) {
    return cached_key_;
  }
  Sha256Digest k = hmacSha256("AWS4" + credentials.secret_access_key, date);
  k = hmacSha256(asBytes(k), options_.region);
  k = hmacSha256(asBytes(k), options_.service);
  k = hmacSha256(asBytes(k), "aws4_request");
  cached_date_ = std::string(date);
  cached_secret_ = credentials.secret_access_key;
  cached_key_ = std::string(asBytes(k));
  return cached_key_;
}

void Signer::sign(http::Request& request, const Credentials& credentials, WallTime now,
                  std::string_view payload_sha256_hex) const {
  const std::string date = amzDate(now);
  // A retried request is signed again: drop what an earlier signature added.
  removeHeader(request.headers, "authorization");
  removeHeader(request.headers, "x-amz-date");
  removeHeader(request.headers, "x-amz-security-token");
  request.headers.push_back({"X-Amz-Date", date});
  if (!credentials.session_token.empty()) {
    request.headers.push_back({"X-Amz-Security-Token", credentials.session_token});
  }
  std::string payload;
  if (!payload_sha256_hex.empty()) {
    payload = std::string(payload_sha256_hex);
  } else if (const std::string* h = http::findHeader(request.headers, "x-amz-content-sha256"); h && !options_.s3) {
    payload = *h;
  } else {
    payload = sha256Hex(request.body);
  }
  if (options_.s3 || !payload_sha256_hex.empty()) {
    removeHeader(request.headers, "x-amz-content-sha256");
    request.headers.push_back({"X-Amz-Content-SHA256", payload});
  }

  UrlParts url = splitUrl(request.url);
  Canonical c = buildCanonical(options_, request.method, url, request.headers, payload);
  std::string sts = stringToSign(c.request, now);
  std::string signature = toHex(hmacSha256(signingKey(credentials, date.substr(0, 8)), sts));
  std::string auth(kAlgorithm);
  auth += " Credential=" + credentials.access_key_id + "/" + date.substr(0, 8) + "/" + options_.region + "/" +
          options_.service + "/aws4_request";
  auth += ", SignedHeaders=" + c.signed_headers;
  auth += ", Signature=" + signature;
  request.headers.push_back({"Authorization", std::move(auth)});
}

std::string Signer::presign(std::string_view method, std::string_view url, const Credentials& credentials,
                            WallTime now, int expires_seconds) const {
  const std::string date = amzDate(now);
  UrlParts parts = splitUrl(url);
  const std::string scope = date.substr(0, 8) + "/" + options_.region + "/" + options_.service + "/aws4_request";
  // The operation's own parameters first, then the authentication parameters in the order
  // the AWS documentation (and botocore) list them; X-Amz-Signature is appended last.
  std::string query = parts.query;
  if (!query.empty()) query += '&';
  query += "X-Amz-Algorithm=";
  query += kAlgorithm;
  query += "&X-Amz-Credential=" + uriEncode(credentials.access_key_id + "/" + scope, true);
  query += "&X-Amz-Date=" + date;
  query += "&X-Amz-Expires=" + std::to_string(expires_seconds);
  query += "&X-Amz-SignedHeaders=host";
  if (!credentials.session_token.empty()) {
    query += "&X-Amz-Security-Token=" + uriEncode(credentials.session_token, true);
  }
  UrlParts signed_parts = parts;
  signed_parts.query = query;
  // S3 cannot know the payload of a presigned request; other services sign an empty body.
  const std::string payload = options_.s3 ? std::string(kUnsignedPayload) : sha256Hex("");
  Canonical c = buildCanonical(options_, method, signed_parts, {}, payload);
  std::string sts = stringToSign(c.request, now);
  std::string signature = toHex(hmacSha256(signingKey(credentials, date.substr(0, 8)), sts));
  return parts.prefix + parts.path + "?" + query + "&X-Amz-Signature=" + signature;
}

}  // namespace mx::aws
