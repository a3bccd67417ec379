// smtp/data_scanner.h — the DATA body decoder: finds the end of the mail data, removes
// transparency dots, normalises bare LF line ends to CR LF, flags bare CR, and bounds the
// length of one line, streaming.
//
// Standards: RFC 5321 section 4.1.1.4 (the mail data ends with "<CRLF>.<CRLF>"; the first
// <CRLF> belongs to the message), 4.5.2 (transparency: when a line starts with "." and
// other characters follow, that dot is removed), 2.3.8 (CR and LF only as CRLF).
//
// Line ends and SMTP smuggling (SEC Consult, December 2023), after Postfix 3.9's default
// smtpd_forbid_bare_newline = normalize:
//   - Only the exact sequence CR LF "." CR LF ends the data. "\n.\n", "\n.\r\n",
//     "\r\n.\n", "\r.\r\n" and the like never do.
//   - A bare LF (not preceded by CR) is taken as a line end and handed out as CR LF, so
//     the stored message has only CR LF line ends: whoever re-sends it (dot-stuffing CR LF
//     lines, as every SMTP client does) cannot turn one of its lines into an end of data
//     at the next hop.
//   - The line that starts after a bare LF is not a line start for transparency: a dot
//     there is data — neither removed nor the start of a terminator. A client that ends
//     lines with bare LF is either a naive script (that does not dot-stuff either, so its
//     dot is content) or a smuggling attempt through a relay that dot-stuffs only after
//     CR LF (whose dot is content the relay failed to stuff); in both cases keeping the dot
//     stores what was sent, and the stored "\r\n.\r\n" is stuffed by the next sender.
//   - A lone "." after CR LF ended by a bare LF ("\r\n.\n") has no other characters, so it
//     is not a transparency dot (4.5.2): the line "." is data, handed out as ".\r\n".
//   - A bare CR (not followed by LF) is recorded (sawBareCr) so the session can refuse the
//     message; it is handed out unchanged.
//
// Line length: `max_line` bounds one line as handed out (CR LF included, the transparency
// dot not counted; a bare-LF line counts its CR LF). The first line longer than that stops
// the output deterministically: the scanner hands out the line's first octets up to the
// bound (possibly the CR of its CR LF, never an LF) and nothing after, but still scans to
// the end of the data so the session stays in sync (sawLongLine()).
//
// Output: body segments are handed to a sink as views into the scanned input (or into
// static ".", "\r", "\r\n" strings), coalesced so that a block of CR LF lines with no
// dot-stuffing yields one view. The scanner never copies or accumulates body bytes. Every
// octet is looked at by memchr (twice per line at most), never by a per-octet loop.
//
// Trust: untrusted input of any length and any split into calls; the output does not
// depend on the split. The state between calls is a few flags and counters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace mx::smtp {

class DataScanner {
 public:
  // max_line: the bound on one line including its CR LF (0 = none).
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
  bool sawBareLf() const { return bare_lf_; }   // normalised; for logging
  bool sawLongLine() const { return long_line_; }

 private:
  enum class State : uint8_t {
    kLineStart,  // at the start of a line (after CR LF, or at the start of the data)
    kDot,        // after a "." at the start of a line (not handed out yet)
    kDotCr,      // after "." CR at the start of a line (neither handed out)
    kMid,        // inside a line (or at the start of one after a bare LF); the previous
                 // octet was not CR
    kCr,         // inside a line; the previous octet (handed out) was CR
    kDone,       // "<CRLF>.<CRLF>" seen
  };

  // Adds `n` stored octets to the current line; false when that crosses max_line.
  bool fits(uint64_t n) const { return max_line_ == 0 || line_len_ + n <= max_line_; }
  // Octets of the current line that may still be handed out before the bound.
  uint64_t room() const { return max_line_ - line_len_; }

  State state_ = State::kLineStart;
  bool bare_cr_ = false;
  bool bare_lf_ = false;
  bool long_line_ = false;  // once set, nothing more is handed out
  uint64_t line_len_ = 0;   // stored octets of the current line so far
  uint64_t max_line_ = 0;
};

template <typename Sink>
size_t DataScanner::scan(std::string_view in, Sink&& sink) {
  static constexpr std::string_view kCr = "\r";
  static constexpr std::string_view kCrLf = "\r\n";
  static constexpr std::string_view kDotCrLf = ".\r\n";
  const char* const begin = in.data();
  const char* const end = begin + in.size();
  const char* p = begin;
  const char* seg = p;  // start of the body bytes not yet handed to the sink
  auto flushTo = [&](const char* upto) {
    if (upto > seg && !long_line_) sink(seg, static_cast<size_t>(upto - seg));
    seg = upto;
  };
  auto emitStatic = [&](std::string_view s) {
    if (!long_line_) sink(s.data(), s.size());
  };
  // The line grows by `stored` octets, of which the first `text` are [from, from + text)
  // of the input (the rest is a line end). On crossing the bound, hand out what still
  // fits of the text and stop the output. Returns false when the bound was crossed.
  auto grow = [&](const char* from, uint64_t text, uint64_t stored) {
    if (long_line_ || fits(stored)) {
      line_len_ += stored;
      return true;
    }
    const uint64_t keep = text < room() ? text : room();
    flushTo(from + keep);
    long_line_ = true;
    line_len_ += stored;
    return false;
  };
  while (p < end) {
    switch (state_) {
      case State::kLineStart:
        if (*p == '.') {
          // Either a transparency dot or the start of the terminator: not body yet.
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
        } else if (*p == '\n') {
          // "." and a bare LF: a line of one dot, no other characters, so the dot is data
          // (RFC 5321 4.5.2 removes it only when others follow). Stored as ".\r\n".
          ++p;
          seg = p;
          bare_lf_ = true;
          if (grow(p, 0, kDotCrLf.size())) emitStatic(kDotCrLf);
          line_len_ = 0;
          state_ = State::kMid;  // the next line starts after a bare LF
        } else {
          // RFC 5321 4.5.2: the first character is a dot and more follow: drop the dot.
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
        bare_cr_ = true;
        if (grow(p, 0, 1)) emitStatic(kCr);
        seg = p;
        state_ = State::kMid;
        break;
      case State::kCr:
        if (*p == '\n') {
          // The CR was handed out already; the LF starts the pending segment.
          grow(p, 0, 1);
          ++p;
          line_len_ = 0;
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
        if (lf == nullptr) {
          if (cr != nullptr && cr != end - 1) bare_cr_ = true;
          grow(p, n, n);
          state_ = end[-1] == '\r' ? State::kCr : State::kMid;
          p = end;
          break;
        }
        // In kMid the octet before p was not CR, so an LF at p is bare too.
        const bool crlf = lf > p && lf[-1] == '\r';
        // The first CR of the line must be the one right before the LF (RFC 5321 2.3.8).
        if (cr != nullptr && !(crlf && cr == lf - 1)) bare_cr_ = true;
        const auto text = static_cast<uint64_t>(lf - p);
        if (crlf) {
          grow(p, text, text + 1);
          p = lf + 1;
          line_len_ = 0;
          state_ = State::kLineStart;
        } else {
          // A bare LF ends the line; it is handed out as CR LF. The next line starts
          // after a bare LF: not a line start (see the file comment).
          bare_lf_ = true;
          if (grow(p, text, text + 2)) {
            flushTo(lf);
            emitStatic(kCrLf);
          }
          p = lf + 1;
          seg = p;
          line_len_ = 0;
          state_ = State::kMid;
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
