// smtp/data_scanner.h — the DATA body decoder: finds the end of the mail data, removes
// transparency dots, and checks line endings and line lengths, streaming.
//
// Standards: RFC 5321 section 4.1.1.4 (the mail data ends with "<CRLF>.<CRLF>"; the first
// <CRLF> belongs to the message), 4.5.2 (transparency: a line starting with "." has that
// dot removed), 2.3.8 (CR and LF only as CRLF), 4.5.3.1.6 (a text line is at most 1000
// octets including CRLF, not counting the transparency dot).
//
// SMTP smuggling (SEC Consult, December 2023): only the exact sequence CR LF "." CR LF
// ends the data. "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n" and the like never do; a bare CR
// or LF anywhere is recorded (sawBareLineEnding) so the session can refuse the message.
//
// Output: body segments are handed to a sink as views into the scanned input (or into a
// static one-octet "\r"), coalesced so that a block with no dot-stuffing yields one view.
// The scanner never copies or accumulates body bytes. Every octet is looked at by memchr
// (twice per line at most), never by a per-octet loop.
//
// Trust: untrusted input of any length and any split into calls; the state between calls
// is a few flags and counters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace mx::smtp {

class DataScanner {
 public:
  // max_line: the line limit including CRLF (0 = none).
  void reset(uint64_t max_line) {
    *this = DataScanner();
    max_line_ = max_line;
  }

  // Scans `in`, calling sink(const char* p, size_t n) for each body segment. Returns how
  // many octets were consumed: all of `in`, or fewer when the end of the data was found
  // (the rest belongs to whatever follows). After done(), scan() consumes nothing.
  template <typename Sink>
  size_t scan(std::string_view in, Sink&& sink);

  bool done() const { return state_ == State::kDone; }
  bool sawBareCr() const { return bare_cr_; }
  bool sawBareLf() const { return bare_lf_; }
  bool sawBareLineEnding() const { return bare_cr_ || bare_lf_; }
  bool sawLongLine() const { return long_line_; }

 private:
  enum class State : uint8_t {
    kLineStart,  // at the start of a line
    kDot,        // after a "." at the start of a line (not emitted)
    kDotCr,      // after "." CR at the start of a line (neither emitted)
    kMid,        // inside a line; the previous octet was not CR
    kCr,         // inside a line; the previous octet (emitted) was CR
    kDone,       // "<CRLF>.<CRLF>" seen
  };

  void endLine() {
    if (max_line_ != 0 && line_len_ > max_line_) long_line_ = true;
    line_len_ = 0;
  }

  State state_ = State::kLineStart;
  bool bare_cr_ = false;
  bool bare_lf_ = false;
  bool long_line_ = false;
  uint64_t line_len_ = 0;  // octets of the current line so far, CR LF included
  uint64_t max_line_ = 0;
};

template <typename Sink>
size_t DataScanner::scan(std::string_view in, Sink&& sink) {
  static constexpr char kCrOctet[] = "\r";
  const char* const begin = in.data();
  const char* const end = begin + in.size();
  const char* p = begin;
  const char* seg = p;  // start of the body bytes not yet handed to the sink
  auto flushTo = [&](const char* upto) {
    if (upto > seg) sink(seg, static_cast<size_t>(upto - seg));
  };
  while (p < end) {
    switch (state_) {
      case State::kLineStart:
        if (*p == '.') {
          // Either a transparency dot or the start of the terminator: never body.
          flushTo(p);
          ++p;
          seg = p;
          state_ = State::kDot;
        } else {
          state_ = State::kMid;
        }
        break;
      case State::kDot:
        if (*p == '\r') {
          ++p;
          seg = p;
          state_ = State::kDotCr;
        } else {
          // RFC 5321 4.5.2: the first character is a dot and more follow: drop the dot.
          // (".\n" lands here too: the LF is then a bare LF, caught in kMid.)
          state_ = State::kMid;
        }
        break;
      case State::kDotCr:
        if (*p == '\n') {
          ++p;
          state_ = State::kDone;
          return static_cast<size_t>(p - begin);
        }
        // "." CR followed by something else: the dot was a transparency dot and the CR is
        // body, and bare. It arrived earlier (maybe in an earlier call), so emit a copy.
        sink(kCrOctet, 1);
        bare_cr_ = true;
        line_len_ += 1;
        seg = p;
        state_ = State::kMid;
        break;
      case State::kCr:
        if (*p == '\n') {
          ++p;
          line_len_ += 1;
          endLine();
          state_ = State::kLineStart;
        } else {
          bare_cr_ = true;
          state_ = State::kMid;
        }
        break;
      case State::kMid: {
        const auto n = static_cast<size_t>(end - p);
        const char* lf = static_cast<const char*>(std::memchr(p, '\n', n));
        const char* stop = lf != nullptr ? lf : end;
        const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(stop - p)));
        if (lf != nullptr) {
          // The first CR of the line must be the one right before the LF (RFC 5321 2.3.8).
          if (cr != nullptr && cr != lf - 1) bare_cr_ = true;
          const bool bare_lf = lf == p || lf[-1] != '\r';
          line_len_ += static_cast<uint64_t>(lf + 1 - p);
          p = lf + 1;
          endLine();
          if (bare_lf) {
            // Not a line start: a "." after a bare LF is neither a transparency dot nor
            // the start of the terminator ("\n.\r\n" must not end the data).
            bare_lf_ = true;
            state_ = State::kMid;
          } else {
            state_ = State::kLineStart;
          }
        } else {
          if (cr != nullptr && cr != end - 1) bare_cr_ = true;
          line_len_ += n;
          state_ = end[-1] == '\r' ? State::kCr : State::kMid;
          p = end;
        }
        break;
      }
      case State::kDone:
        return static_cast<size_t>(p - begin);
    }
  }
  flushTo(p);
  return static_cast<size_t>(p - begin);
}

}  // namespace mx::smtp
