// fuzz/events/retry_after_fuzz.cc — libFuzzer target for events/webhook/retry_after.h: an
// arbitrary Retry-After value must not crash (ASan/UBSan) and the answer must keep the
// parser's contract:
//  - parseRetryAfter() is nullopt or within [0, max], for every max;
//  - a value of optional whitespace around 1..64 digits always parses (delay-seconds);
//  - a value that parseHttpDate() accepts also parses as Retry-After, to the same instant
//    (clamped), and that instant lies in WallTime's range (years 1677..2262).
// Input layout: the first byte picks `max` and `now` from small tables; the rest is the value.
// Raw bytes, not an alphabet: the header is untrusted bytes from any receiver.
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "events/webhook/retry_after.h"

#define check(ok)                                                 \
  do {                                                            \
    if (!(ok)) {                                                  \
      std::fprintf(stderr, "retry_after_fuzz: %s failed\n", #ok); \
      std::abort();                                               \
    }                                                             \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace std::chrono;
  if (size == 0) return 0;
  const std::array<mx::Millis, 4> maxes = {mx::Millis(0), mx::Millis(1500), hours(1), mx::Millis(-1)};
  const std::array<mx::WallTime, 4> nows = {mx::WallTime{seconds{784111777}}, mx::WallTime{seconds{1'800'000'000}},
                                            mx::WallTime{seconds{0}}, mx::WallTime{seconds{4'102'444'800}}};
  const mx::Millis max = maxes[data[0] & 3];
  const mx::WallTime now = nows[(data[0] >> 2) & 3];
  const std::string_view value(reinterpret_cast<const char*>(data) + 1, size - 1);

  const std::optional<mx::Millis> delay = mx::events::parseRetryAfter(value, now, max);
  const mx::Millis bound = max < mx::Millis(0) ? mx::Millis(0) : max;
  if (delay) check(*delay >= mx::Millis(0) && *delay <= bound);

  std::string_view trimmed = value;
  while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) trimmed.remove_prefix(1);
  while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) trimmed.remove_suffix(1);
  bool all_digits = !trimmed.empty();
  for (char c : trimmed) all_digits = all_digits && c >= '0' && c <= '9';
  if (all_digits && value.size() <= mx::events::kMaxRetryAfterBytes) check(delay.has_value());

  const std::optional<mx::WallTime> date = mx::events::parseHttpDate(value, now);
  if (date) {
    check(delay.has_value());
    const mx::Millis expect = *date <= now ? mx::Millis(0) : std::min(duration_cast<mx::Millis>(*date - now), bound);
    check(*delay == expect);
    const int y = static_cast<int>(year_month_day{floor<days>(*date)}.year());
    check(y >= 1677 && y <= 2262);
  }
  return 0;
}
