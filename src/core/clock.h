// core/clock.h — time as an injected dependency. Protocol cores (smtp, mime) never read a
// clock: the driver passes `now` in. Servers hold a Clock; tests hold a ManualClock.
// Trust: none needed.
#pragma once

#include <chrono>
#include <cstdint>

namespace mx {

using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime monotonic() const = 0;
  virtual WallTime wall() const = 0;
};

class RealClock final : public Clock {
 public:
  // Clock
  MonoTime monotonic() const override { return std::chrono::steady_clock::now(); }
  WallTime wall() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told to; for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start = WallTime{std::chrono::seconds{1'700'000'000}})
      : wall_(start) {}
  void advance(Millis d) { mono_ += d; wall_ += d; }
  // Clock
  MonoTime monotonic() const override { return mono_; }
  WallTime wall() const override { return wall_; }

 private:
  MonoTime mono_{};
  WallTime wall_;
};

// Milliseconds since the Unix epoch.
inline int64_t unixMillis(WallTime t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}

}  // namespace mx
