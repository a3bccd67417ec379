// events/kafka/msk_iam_token.cc — see msk_iam_token.h.
#include "events/kafka/msk_iam_token.h"

#include <chrono>

#include "aws/sigv4.h"

namespace mx::events {
namespace {

// RFC 4648 §5 (URL- and filename-safe alphabet), no padding.
std::string base64UrlNoPad(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                       (static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 0x3F];
    out += kAlphabet[(v >> 12) & 0x3F];
    out += kAlphabet[(v >> 6) & 0x3F];
    out += kAlphabet[v & 0x3F];
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 0x3F];
    out += kAlphabet[(v >> 12) & 0x3F];
    if (rest == 2) out += kAlphabet[(v >> 6) & 0x3F];
  }
  return out;
}

// application/x-www-form-urlencoded value encoding (what Python's urlencode and Go's
// url.Values.Encode write): unreserved bytes pass, space becomes '+', the rest %XX.
std::string formEncode(std::string_view s) {
  std::string encoded = aws::uriEncode(s, /*encode_slash=*/true);
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded.compare(i, 3, "%20") == 0) {
      out += '+';
      i += 2;
    } else {
      out += encoded[i];
    }
  }
  return out;
}

}  // namespace

MskIamToken buildMskIamToken(const aws::Credentials& credentials, std::string_view region, WallTime now,
                             std::string_view user_agent) {
  const WallTime signed_at = std::chrono::floor<std::chrono::seconds>(now);
  aws::Signer signer(aws::SignerOptions{std::string(region), "kafka-cluster", /*s3=*/false});
  std::string url =
      signer.presign("GET", "https://kafka." + std::string(region) + ".amazonaws.com/?Action=kafka-cluster%3AConnect",
                     credentials, signed_at, kMskIamTokenExpirySeconds);
  url += "&User-Agent=";
  url += formEncode(user_agent);
  return MskIamToken{base64UrlNoPad(url), signed_at + std::chrono::seconds(kMskIamTokenExpirySeconds)};
}

}  // namespace mx::events
