// core/time_format.cc — see time_format.h. Civil-from-days after H. Hinnant's algorithm.
#include "core/time_format.h"

#include <cstdio>

namespace mx {

CivilTime toCivilUtc(WallTime t) {
  int64_t ms = unixMillis(t);
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int millis = static_cast<int>(ms - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  return CivilTime{static_cast<int>(y), static_cast<int>(m), static_cast<int>(d),
                   static_cast<int>(rem / 3600), static_cast<int>(rem % 3600 / 60),
                   static_cast<int>(rem % 60), millis};
}

std::string formatRfc3339(WallTime t) {
  CivilTime c = toCivilUtc(t);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day,
                c.hour, c.minute, c.second, c.millis);
  return buf;
}

std::string formatRfc5322(WallTime t) {
  static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  CivilTime c = toCivilUtc(t);
  int64_t secs = unixMillis(t) / 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int wd = static_cast<int>(((days % 7) + 7) % 7);  // 1970-01-01 was a Thursday
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s, %d %s %04d %02d:%02d:%02d +0000", kDays[wd], c.day,
                kMonths[c.month - 1], c.year, c.hour, c.minute, c.second);
  return buf;
}

std::string formatDatePath(WallTime t) {
  CivilTime c = toCivilUtc(t);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d/%02d/%02d", c.year, c.month, c.day);
  return buf;
}

WallTime fromCivilUtc(const CivilTime& c) {
  // Days from civil (the inverse of toCivilUtc's days-to-civil).
  int64_t y = c.year - (c.month <= 2 ? 1 : 0);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t mp = c.month > 2 ? c.month - 3 : c.month + 9;
  int64_t doy = (153 * mp + 2) / 5 + c.day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  int64_t ms = ((days * 86400) + c.hour * 3600 + c.minute * 60 + c.second) * 1000 + c.millis;
  return WallTime{std::chrono::milliseconds(ms)};
}

namespace {

// `n` decimal digits at s[at...]; -1 if any is not a digit or s is too short.
int digits(std::string_view s, size_t at, size_t n) {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool leapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool validCivil(const CivilTime& c) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (c.year < 1 || c.month < 1 || c.month > 12 || c.day < 1) return false;
  int last = kDays[c.month - 1] + (c.month == 2 && leapYear(c.year) ? 1 : 0);
  // A leap second (":60") is read as the last second of its minute.
  return c.day <= last && c.hour <= 23 && c.minute <= 59 && c.second <= 60;
}

}  // namespace

std::optional<WallTime> parseRfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  CivilTime c{
      digits(s, 0, 4), digits(s, 5, 2), digits(s, 8, 2), digits(s, 11, 2), digits(s, 14, 2), digits(s, 17, 2), 0};
  if (c.year < 0 || c.month < 0 || c.day < 0 || c.hour < 0 || c.minute < 0 || c.second < 0) return std::nullopt;
  size_t at = 19;
  if (at < s.size() && s[at] == '.') {
    ++at;
    size_t start = at;
    int ms = 0;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
      if (at - start < 3) ms = ms * 10 + (s[at] - '0');
      ++at;
    }
    if (at == start) return std::nullopt;
    for (size_t n = at - start; n < 3; ++n) ms *= 10;
    c.millis = ms;
  }
  if (!validCivil(c)) return std::nullopt;
  if (c.second == 60) c.second = 59;
  int64_t offset_min = 0;
  if (at + 1 == s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    // UTC
  } else if (at + 6 == s.size() && (s[at] == '+' || s[at] == '-') && s[at + 3] == ':') {
    int h = digits(s, at + 1, 2), m = digits(s, at + 4, 2);
    if (h < 0 || m < 0 || h > 23 || m > 59) return std::nullopt;
    offset_min = (h * 60 + m) * (s[at] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  return fromCivilUtc(c) - std::chrono::minutes(offset_min);
}

std::optional<WallTime> parseHttpDate(std::string_view s) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": exactly 29 characters.
  static constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  bool day_ok = false;
  for (const char* d : kDays) day_ok = day_ok || s.substr(0, 3) == d;
  int month = 0;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[i]) month = i + 1;
  }
  CivilTime c{digits(s, 12, 4), month, digits(s, 5, 2), digits(s, 17, 2), digits(s, 20, 2), digits(s, 23, 2), 0};
  if (!day_ok || month == 0 || c.year < 0 || c.day < 0 || c.hour < 0 || c.minute < 0 || c.second < 0 ||
      !validCivil(c)) {
    return std::nullopt;
  }
  if (c.second == 60) c.second = 59;
  return fromCivilUtc(c);
}

}  // namespace mx
