// events/webhook/retry_after.cc — see retry_after.h.
#include "events/webhook/retry_after.h"

#include <array>
#include <cstdint>

namespace mx::events {
namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kShortDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                       "Friday", "Saturday", "Sunday"};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// A cursor over the value; every read checks the bounds.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool done() const { return pos_ == s_.size(); }
  bool literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }
  // Exactly n digits.
  bool number(size_t n, int& out) {
    if (pos_ + n > s_.size()) return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = s_[pos_ + i];
      if (!isDigit(c)) return false;
      v = v * 10 + (c - '0');
    }
    pos_ += n;
    out = v;
    return true;
  }
  // One of the names, case-sensitively (RFC 9110 5.6.7: day-name and month are case-sensitive).
  template <size_t N>
  bool name(const std::array<std::string_view, N>& names, int* index = nullptr) {
    for (size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        if (index != nullptr) *index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }
  char peek() const { return done() ? '\0' : s_[pos_]; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

struct Fields {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

// "HH:MM:SS"
bool timeOfDay(Reader& r, Fields& f) {
  return r.number(2, f.hour) && r.literal(":") && r.number(2, f.minute) && r.literal(":") && r.number(2, f.second);
}

// Seconds since the epoch as int64 (any four-digit year fits; WallTime's nanoseconds do not).
std::optional<std::chrono::sys_seconds> toSeconds(const Fields& f) {
  using namespace std::chrono;
  if (f.hour > 23 || f.minute > 59 || f.second > 60) return std::nullopt;
  year_month_day ymd{year{f.year}, month{static_cast<unsigned>(f.month)}, day{static_cast<unsigned>(f.day)}};
  if (!ymd.ok()) return std::nullopt;
  // A leap second (:60) reads as the next second's start, as the time would be on a POSIX clock.
  return sys_seconds{sys_days{ymd}} + hours{f.hour} + minutes{f.minute} + seconds{f.second};
}

// "Sun, 06 Nov 1994 08:49:37 GMT" (after the day name).
bool imfFixdate(Reader& r, Fields& f) {
  int m = 0;
  if (!(r.literal(", ") && r.number(2, f.day) && r.literal(" ") && r.name(kMonths, &m) && r.literal(" ") &&
        r.number(4, f.year) && r.literal(" ") && timeOfDay(r, f) && r.literal(" GMT") && r.done())) {
    return false;
  }
  f.month = m + 1;
  return true;
}

// "Sunday, 06-Nov-94 08:49:37 GMT" (after the day name).
bool rfc850Date(Reader& r, Fields& f, WallTime now) {
  int m = 0, yy = 0;
  if (!(r.literal(", ") && r.number(2, f.day) && r.literal("-") && r.name(kMonths, &m) && r.literal("-") &&
        r.number(2, yy) && r.literal(" ") && timeOfDay(r, f) && r.literal(" GMT") && r.done())) {
    return false;
  }
  f.month = m + 1;
  // RFC 9110 5.6.7: a two-digit year more than 50 years in the future is the most recent
  // past year with the same last two digits.
  using namespace std::chrono;
  const int this_year = static_cast<int>(year_month_day{floor<days>(now)}.year());
  int candidate = this_year - this_year % 100 + yy;
  if (candidate > this_year + 50) candidate -= 100;
  f.year = candidate;
  return true;
}

// "Sun Nov  6 08:49:37 1994" (after the day name); the day is two digits or space + digit.
bool asctimeDate(Reader& r, Fields& f) {
  int m = 0;
  if (!(r.literal(" ") && r.name(kMonths, &m) && r.literal(" "))) return false;
  f.month = m + 1;
  if (r.peek() == ' ') {
    if (!(r.literal(" ") && r.number(1, f.day))) return false;
  } else if (!r.number(2, f.day)) {
    return false;
  }
  return r.literal(" ") && timeOfDay(r, f) && r.literal(" ") && r.number(4, f.year) && r.done();
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::chrono::sys_seconds> parseDateSeconds(std::string_view text, WallTime now) {
  if (text.size() > kMaxRetryAfterBytes) return std::nullopt;
  Fields f;
  // The long names first: "Sunday" would otherwise match "Sun" and fail at "day".
  {
    Reader r(text);
    if (r.name(kLongDays)) return rfc850Date(r, f, now) ? toSeconds(f) : std::nullopt;
  }
  Reader r(text);
  if (!r.name(kShortDays)) return std::nullopt;
  bool ok = r.peek() == ',' ? imfFixdate(r, f) : asctimeDate(r, f);
  return ok ? toSeconds(f) : std::nullopt;
}

}  // namespace

std::optional<WallTime> parseHttpDate(std::string_view text, WallTime now) {
  using namespace std::chrono;
  std::optional<sys_seconds> t = parseDateSeconds(text, now);
  // WallTime counts nanoseconds in 64 bits: 1677-09-21 .. 2262-04-11.
  const auto lo = floor<seconds>(WallTime::min()).time_since_epoch() + seconds(1);
  const auto hi = floor<seconds>(WallTime::max()).time_since_epoch() - seconds(1);
  if (!t || t->time_since_epoch() < lo || t->time_since_epoch() > hi) return std::nullopt;
  return time_point_cast<WallTime::duration>(*t);
}

std::optional<Millis> parseRetryAfter(std::string_view value, WallTime now, Millis max) {
  if (value.size() > kMaxRetryAfterBytes) return std::nullopt;
  value = trimOws(value);
  if (value.empty()) return std::nullopt;
  if (max < Millis(0)) max = Millis(0);
  if (isDigit(value.front())) {
    // Saturate: any delay beyond the bound is the bound, however many digits it has.
    const int64_t cap_seconds = std::chrono::duration_cast<std::chrono::seconds>(max).count() + 1;
    int64_t seconds = 0;
    for (char c : value) {
      if (!isDigit(c)) return std::nullopt;
      if (seconds <= cap_seconds) seconds = seconds * 10 + (c - '0');
    }
    if (seconds > cap_seconds) return max;
    Millis delay(seconds * 1000);
    return delay > max ? max : delay;
  }
  // In milliseconds as int64 on both sides: a date in year 9999 is ~2.5e14 ms, far from overflow.
  std::optional<std::chrono::sys_seconds> when = parseDateSeconds(value, now);
  if (!when) return std::nullopt;
  const int64_t when_ms = when->time_since_epoch().count() * 1000;
  const int64_t now_ms = unixMillis(now);
  if (when_ms <= now_ms) return Millis(0);
  Millis delta(when_ms - now_ms);
  return delta > max ? max : delta;
}

}  // namespace mx::events
