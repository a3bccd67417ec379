// aws/credential_parse.cc — the answers of STS (XML), the ECS container endpoint and IMDS
// (JSON) turned into Credentials. See credentials.h for the trust statement: input is
// bounded to 64 KiB, fields are checked, and no error message quotes a value from the input
// (a half-parsed answer may hold a secret).
#include <nlohmann/json.hpp>

#include "aws/credentials.h"
#include "aws/xml.h"

namespace mx::aws {
namespace {

constexpr size_t kMaxAnswer = 64 * 1024;
constexpr size_t kMaxField = 8 * 1024;  // session tokens are ~1-2 KiB

Error bad(std::string what) { return Error(ErrorClass::kTransientBackend, std::move(what)); }

// days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

std::optional<std::string> element(std::string_view xml, std::string_view tag) {
  return xmlElementText(xml, tag, kMaxField);
}

// Credentials need printable ASCII without spaces: anything else would end up in a header.
bool printable(const std::string& s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

Result<Credentials> check(Credentials c, std::string_view what) {
  if (c.access_key_id.empty() || !printable(c.access_key_id))
    return bad(std::string(what) + ": AccessKeyId missing or malformed");
  if (c.secret_access_key.empty() || !printable(c.secret_access_key)) {
    return bad(std::string(what) + ": SecretAccessKey missing or malformed");
  }
  if (!printable(c.session_token)) return bad(std::string(what) + ": session token malformed");
  return c;
}

}  // namespace

std::optional<WallTime> parseIso8601(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om)) {
      return std::nullopt;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;  // a time without a zone is ambiguous
  }
  if (pos != s.size()) return std::nullopt;
  int64_t secs = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 +
                 sec - offset_s;
  return WallTime{std::chrono::seconds{secs} + std::chrono::milliseconds{millis}};
}

Result<Credentials> parseStsCredentialsXml(std::string_view xml) {
  if (xml.size() > kMaxAnswer) return bad("STS answer over 64 KiB");
  // Only inside <Credentials>: nothing else in the answer is taken for a key.
  size_t b = xml.find("<Credentials>");
  size_t e = xml.find("</Credentials>");
  if (b == std::string_view::npos || e == std::string_view::npos || e < b) return bad("STS answer has no Credentials");
  std::string_view inner = xml.substr(b, e - b);
  Credentials c;
  c.access_key_id = element(inner, "AccessKeyId").value_or("");
  c.secret_access_key = element(inner, "SecretAccessKey").value_or("");
  c.session_token = element(inner, "SessionToken").value_or("");
  auto exp = element(inner, "Expiration");
  if (!exp) return bad("STS answer: Expiration missing");
  c.expiration = parseIso8601(*exp);
  if (!c.expiration) return bad("STS answer: Expiration malformed");
  if (c.session_token.empty()) return bad("STS answer: SessionToken missing");
  return check(std::move(c), "STS answer");
}

Result<Credentials> parseCredentialsJson(std::string_view text) {
  if (text.size() > kMaxAnswer) return bad("credentials answer over 64 KiB");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("credentials answer is not a JSON object");
  auto str = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    const auto& s = it->get_ref<const std::string&>();
    if (s.size() > kMaxField) return std::nullopt;
    return s;
  };
  // IMDS says {"Code": "Success", …}; anything else is its refusal.
  if (auto code = str("Code"); code && *code != "Success") return bad("credentials answer: Code is not Success");
  Credentials c;
  c.access_key_id = str("AccessKeyId").value_or("");
  c.secret_access_key = str("SecretAccessKey").value_or("");
  c.session_token = str("Token").value_or("");
  if (auto exp = str("Expiration")) {
    c.expiration = parseIso8601(*exp);
    if (!c.expiration) return bad("credentials answer: Expiration malformed");
  }
  return check(std::move(c), "credentials answer");
}

}  // namespace mx::aws
