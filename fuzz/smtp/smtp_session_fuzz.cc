// fuzz/smtp/smtp_session_fuzz.cc — libFuzzer target: arbitrary client bytes into
// smtp::Session, cut into chunks and interleaved with driver answers, timers, drain and
// peer close as the input dictates (layout: fuzz/smtp/README.md). Invariants are those of
// session_checker.h, checked after every call by fuzz_driver.h.
// Trust: any input; the target must never crash, leak or trip an invariant.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_driver.h"

namespace {

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ >= end_; }
  uint8_t byte() { return empty() ? 0 : *p_++; }
  int peek(size_t i = 0) const { return i < left() ? p_[i] : -1; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  std::string_view take(size_t n) {
    n = n < left() ? n : left();
    std::string_view v(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return v;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mx::smtp::fuzzing::Driver;
  Reader in(data, size);
  const uint8_t opt_a = in.byte();
  const uint8_t opt_b = in.byte();
  const size_t client_len = (static_cast<size_t>(in.byte()) << 8 | in.byte()) + 0;
  const std::string_view client_all = in.take(client_len);
  Reader client(reinterpret_cast<const uint8_t*>(client_all.data()), client_all.size());
  Reader& control = in;  // everything after the client bytes steers the run

  Driver d(mx::smtp::fuzzing::decodeOptions(opt_a, opt_b));
  d.start();
  int steps = 0;
  while (!d.closed() && steps++ < 100000) {
    if (d.waiting()) {
      // An answer is 0xFF then (code << 5 | v): code names what is waited for (7: any),
      // v is the verdict (0 accept). Anything else leaves the control bytes alone and the
      // question is accepted, so a script answers only the questions it cares about.
      const int code = control.peek(1) >> 5;
      if (control.peek() == 0xFF && control.peek(1) >= 0 && (code == 7 || code == d.waitingCode())) {
        control.byte();
        d.answer(control.byte() & 31);
      } else {
        d.answer(0);
      }
      continue;
    }
    if (client.empty() && control.empty()) break;
    if (control.empty()) {
      d.receive(client.take(client.left()));
      continue;
    }
    const uint8_t c = control.byte();
    const unsigned low = c & 31u;
    switch (c >> 5) {
      case 0:
      case 1:
      case 2:
        d.receive(client.take(low + 1));
        break;
      case 3:
        d.receive(client.take((low + 1) * 64));
        break;
      case 4: {
        const size_t n = (static_cast<size_t>(control.byte()) << 8 | control.byte()) + 1;
        d.receive(client.take(n));
        break;
      }
      case 5:
        d.receive(client.take(client.left()));
        break;
      case 6:
        d.advanceAndTimer(mx::Millis(static_cast<int64_t>(low) * 20'000));
        break;
      default:
        if (low == 0) {
          d.shutdown();
        } else if (low == 1) {
          d.peerClosed();
        } else if (low == 2) {
          d.fireDeadline();
        } else {  // (0xFF is an answer prefix only while the session waits)
          d.receive(client.take(1));
        }
        break;
    }
  }
  d.finish();
  return 0;
}
