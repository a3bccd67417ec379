// fuzz/aws/sigv4_canonical_fuzz.cc — libFuzzer target for aws::Signer: arbitrary method, URL,
// headers and body → canonicalRequest(), sign() and presign() must not crash (ASan/UBSan) and
// their output must be well-formed:
//  - the canonical request has exactly 6 + N lines for N distinct signed header names: the
//    method upper-cased, a URI of unreserved bytes, '/' and %XX only, a query of name=value
//    pairs of the same alphabet, one "name:value" line per header (name a lower-case token),
//    an empty line, the signed-header list joined by ';', a 64-hex payload hash;
//  - Authorization holds no CR/LF and names the same signed headers;
//  - a presigned URL ends in X-Amz-Signature= and 64 hex digits.
// Input layout (one field per '\n'-terminated line): flags (first byte: bit 0 S3, bit 1 a
// session token), method, URL, then "name:value" header lines up to an empty line, then the
// body. Method and header names are mapped onto the RFC 9110 token alphabet (smtp-proto's
// into_alphabet): the signer's contract is that they are tokens; values stay raw bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "aws/sigv4.h"

namespace {

constexpr std::string_view kTokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~";
constexpr std::string_view kUnsigned[] = {"connection", "expect", "keep-alive", "proxy-authenticate",
                                          "proxy-authorization", "te", "trailer", "transfer-encoding",
                                          "upgrade", "user-agent", "x-amzn-trace-id"};

std::string toToken(std::string_view s) {
  std::string out;
  for (char c : s) out += kTokenAlphabet[static_cast<unsigned char>(c) % kTokenAlphabet.size()];
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

// Aborts naming the broken invariant (libFuzzer and the replay both report it).
#define check(ok)                                                           \
  do {                                                                      \
    if (!(ok)) {                                                            \
      std::fprintf(stderr, "sigv4_canonical_fuzz: %s failed\n", #ok);       \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

namespace {

bool isHex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool encodedAlphabet(std::string_view s, std::string_view extra) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || extra.find(c) != std::string_view::npos) continue;
    if (c != '%' || i + 2 >= s.size()) return false;
    auto hex = [](char h) { return (h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'); };
    if (!hex(s[i + 1]) || !hex(s[i + 2])) return false;
    i += 2;
  }
  return true;
}

std::vector<std::string_view> splitLines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  const unsigned flags = static_cast<unsigned char>(in[0]);
  in.remove_prefix(1);
  auto next = [&in]() -> std::string_view {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    return line;
  };

  mx::http::Request req;
  req.method = toToken(next());
  if (req.method.empty()) req.method = "GET";
  req.url = std::string(next());
  std::set<std::string> names;
  bool have_host = false;
  while (!in.empty()) {
    std::string_view line = next();
    if (line.empty()) break;
    size_t colon = line.find(':');
    std::string name = toToken(line.substr(0, colon));
    if (name.empty()) continue;
    std::string value(colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1));
    req.headers.push_back({name, value});
  }
  req.body = std::string(in);

  mx::aws::Signer signer({"eu-west-1", (flags & 1) ? "s3" : "sqs", (flags & 1) != 0});
  mx::aws::Credentials creds{"AKIDFUZZ", "secret", (flags & 2) ? "token" : "", std::nullopt};
  const mx::WallTime now{std::chrono::seconds{1'796'642'319}};

  mx::http::Request signed_req = req;
  signer.sign(signed_req, creds, now);
  check(signed_req.header("authorization") != nullptr);
  const std::string auth_value = *signed_req.header("authorization");  // a copy: popped below
  const std::string* auth = &auth_value;
  check(auth->find_first_of("\r\n") == std::string::npos);
  check(auth->rfind("AWS4-HMAC-SHA256 Credential=AKIDFUZZ/", 0) == 0);

  // The canonical request of the request as signed (minus Authorization).
  signed_req.headers.pop_back();
  for (const auto& h : signed_req.headers) {
    std::string l = lower(h.name);
    bool skip = false;
    for (std::string_view u : kUnsigned) skip = skip || l == u;
    if (skip) continue;
    if (l == "host") have_host = true;
    names.insert(l);
  }
  if (!have_host) names.insert("host");
  const std::string canonical = signer.canonicalRequest(signed_req, {});
  std::vector<std::string_view> lines = splitLines(canonical);
  check(lines.size() == 6 + names.size());
  std::string method_upper = req.method;
  for (char& c : method_upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  check(lines[0] == method_upper);
  check(!lines[1].empty() && lines[1][0] == '/');
  check(encodedAlphabet(lines[1], "/"));
  check(encodedAlphabet(lines[2], "=&"));
  std::string signed_list;
  size_t i = 3;
  for (const std::string& name : names) {
    std::string_view line = lines[i++];
    check(line.substr(0, name.size() + 1) == name + ":");
    if (!signed_list.empty()) signed_list += ';';
    signed_list += name;
  }
  check(lines[i++].empty());
  check(lines[i++] == signed_list);
  // The payload hash: computed (64 hex), except that a non-S3 request carrying its own
  // x-amz-content-sha256 is signed with that value, as botocore does.
  const std::string* given = signed_req.header("x-amz-content-sha256");
  check((flags & 1) == 0 && given != nullptr ? lines[i] == *given : isHex(lines[i]));
  check(auth->find("SignedHeaders=" + signed_list + ", Signature=") != std::string::npos);

  const std::string sts = signer.stringToSign(canonical, now);
  check(splitLines(sts).size() == 4);

  const std::string url = signer.presign(req.method, req.url, creds, now, 900);
  const std::string_view marker = "&X-Amz-Signature=";
  check(url.size() > marker.size() + 64);
  check(std::string_view(url).substr(url.size() - 64 - marker.size(), marker.size()) == marker);
  check(isHex(std::string_view(url).substr(url.size() - 64)));
  return 0;
}
