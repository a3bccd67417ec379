// fuzz/smtp/smtp_alphabet_fuzz.cc — libFuzzer target that maps each input byte onto the
// SMTP alphabet (commands, CRLF, dots, BDAT counts, SASL lines; after smtp-proto's
// into_alphabet), so the fuzzer spends its time in deep protocol states rather than in
// syntax errors. Some symbols are driver events (flush, timer, drain, close); while the
// session waits for an answer, a byte >= 0xF0 is the answer (else the question is
// accepted). Layout: fuzz/smtp/README.md.
// Trust: any input; invariants are checked by fuzz_driver.h after every call.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_driver.h"

namespace {

enum Event : uint8_t { kText, kLongLine, kOverlongLine, kFlush, kTimer, kDeadline, kShutdown, kEof };

struct Symbol {
  Event event;
  std::string_view text;
};

// clang-format off
const Symbol kAlphabet[] = {
  {kText, "EHLO c.example\r\n"}, {kText, "HELO c\r\n"},
  {kText, "MAIL FROM:<a@b.example>\r\n"}, {kText, "MAIL FROM:<>\r\n"},
  {kText, "MAIL FROM:<a@b.example> SIZE=50\r\n"}, {kText, "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n"},
  {kText, "MAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8\r\n"}, {kText, "MAIL FROM:<a@b.example> BODY=8BITMIME RET=HDRS\r\n"},
  {kText, "RCPT TO:<r@d.example>\r\n"}, {kText, "RCPT TO:<Postmaster>\r\n"},
  {kText, "RCPT TO:<@a,@b:u@h.example>\r\n"}, {kText, "RCPT TO:<\"q u\"@d.example>\r\n"},
  {kText, "RCPT TO:<x@[IPv6:::1]> NOTIFY=NEVER\r\n"}, {kText, "RCPT TO:<\xe7\x94\xa8@d.example>\r\n"},
  {kText, "DATA\r\n"}, {kText, "BDAT "}, {kText, "0"}, {kText, "1"}, {kText, "7"}, {kText, "64"},
  {kText, " LAST"}, {kText, "\r\n"}, {kText, "\n"}, {kText, "\r"}, {kText, "."}, {kText, ".."},
  {kText, "\r\n.\r\n"}, {kText, "\n.\n"}, {kText, "x"}, {kText, "Subject: hello world"},
  {kText, "RSET\r\n"}, {kText, "NOOP\r\n"}, {kText, "QUIT\r\n"}, {kText, "VRFY x\r\n"},
  {kText, "HELP\r\n"}, {kText, "STARTTLS\r\n"}, {kText, "AUTH PLAIN\r\n"},
  {kText, "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"}, {kText, "AUTH LOGIN\r\n"}, {kText, "dXNlcg==\r\n"},
  {kText, "c2VjcmV0\r\n"}, {kText, "*\r\n"}, {kText, "=\r\n"}, {kText, "AUTH LOGIN dXNlcg==\r\n"},
  {kText, std::string_view("\0", 1)}, {kText, "\xff"}, {kText, "MAIL"}, {kText, "RCPT"}, {kText, " "},
  {kText, ":"}, {kText, "<"}, {kText, ">"}, {kText, "@"}, {kText, "GET / HTTP/1.1\r\n"},
  {kText, "BDAT 99999999999999999999999\r\n"}, {kText, "BDAT x\r\n"}, {kText, "AUTH "},
  {kText, "\n."}, {kText, "\r\n.\n"}, {kText, ".\n"}, {kText, "BDAT -1\r\n"},
  {kLongLine, ""}, {kOverlongLine, ""},
  {kFlush, ""}, {kFlush, ""}, {kFlush, ""}, {kTimer, ""}, {kDeadline, ""}, {kShutdown, ""}, {kEof, ""},
};
// clang-format on
constexpr size_t kAlphabetSize = sizeof(kAlphabet) / sizeof(kAlphabet[0]);
// While the session waits, bytes from here up answer (b - kAnswerBase: 0 accept); any
// other byte accepts and is then read as a symbol.
constexpr uint8_t kAnswerBase = 0xF0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mx::smtp::fuzzing::Driver;
  if (size < 2) return 0;
  Driver d(mx::smtp::fuzzing::decodeOptions(data[0], data[1]));
  d.start();
  std::string pending;
  auto flush = [&] {
    d.receive(pending);
    pending.clear();
  };
  for (size_t i = 2; i < size && !d.closed(); ++i) {
    const uint8_t b = data[i];
    if (d.waiting()) flush();  // the question was asked by bytes already fed
    if (d.waiting() && b >= kAnswerBase) {
      d.answer(static_cast<uint8_t>(b - kAnswerBase));  // 0 accepts, 1-15 refuse
      continue;
    }
    while (d.waiting() && !d.closed()) d.answer(0);  // unscripted questions are accepted
    const Symbol& s = kAlphabet[b % kAlphabetSize];
    switch (s.event) {
      case kText:
        pending += s.text;
        if (pending.size() > 8192) flush();
        break;
      case kLongLine:  // over the 512-octet command limit
        pending.append(600, 'y');
        break;
      case kOverlongLine:  // a DATA line over RFC 5321's 1000 octets (and over max_line_length 80)
        pending.append(1001, 'x');
        break;
      case kFlush:
        flush();
        break;
      case kTimer:
        flush();
        d.advanceAndTimer(mx::Millis(60'000));
        break;
      case kDeadline:
        flush();
        d.fireDeadline();
        break;
      case kShutdown:
        flush();
        d.shutdown();
        break;
      case kEof:
        flush();
        d.peerClosed();
        break;
    }
  }
  if (!d.closed()) flush();
  d.finish();
  return 0;
}
