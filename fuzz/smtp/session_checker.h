// fuzz/smtp/session_checker.h — invariants every smtp::Session action batch must keep,
// shared by the libFuzzer targets and the transcript tests.
//
// Checked: reply lines are "<3 digits><SP or ->text CRLF" of at most 512 octets
// (RFC 5321 4.2, 4.5.3.1.5) with no stray CR/LF; every 2xx/4xx/5xx line carries an
// RFC 3463 enhanced code of its own class (RFC 2034), except the 220 greeting, the
// multi-line EHLO reply and the one-line HELO reply; only EHLO answers in several lines;
// body views occur only inside kMessageBegin..kMessageEnd/kMessageAbort and never add up to
// more than max_message_size; a parking action (kAsk, kMessageEnd, kStartTls) is the last
// of its batch and nothing is produced by receive() while it waits; a kAsk names the stage
// that pendingStage() reports, with its argument (HELO name, recipient, AUTH user), never
// inside a message, and kAsk(connect) comes before any reply; nothing at all follows kClose.
//
// Trust: inspects the session's output only; the first violation is reported as text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/session.h"

namespace mx::smtp::testing {

enum class CallKind { kReceive, kAnswer, kOther };

class SessionChecker {
 public:
  explicit SessionChecker(const SessionOptions& options) : options_(options) {}

  // Checks one batch (the actions produced by one call, before clearActions()). Returns
  // an empty string when all is well, else a description of the first violation.
  std::string check(const std::vector<Action>& batch, CallKind call, const Session& session) {
    if (call == CallKind::kAnswer) parked_ = false;
    if (call == CallKind::kReceive && parked_ && !batch.empty()) {
      return "actions produced by receive() while parked";
    }
    // peerClosed(), onTimer() and shutdown() may act while a question is pending.
    const bool was_parked = parked_;
    if (call == CallKind::kOther) parked_ = false;
    for (size_t i = 0; i < batch.size(); ++i) {
      const Action& a = batch[i];
      if (closed_) return "action after kClose";
      if (parked_) return "action after a parking action in the same batch";
      switch (a.kind) {
        case ActionKind::kReply: {
          std::string e = checkReplyText(a.data);
          if (!e.empty()) return e;
          break;
        }
        case ActionKind::kBodyData:
          if (!body_open_) return "kBodyData outside a message";
          if (a.data.empty()) return "empty kBodyData";
          body_bytes_ += a.data.size();
          if (options_.max_message_size != 0 && body_bytes_ > options_.max_message_size) {
            return "body exceeds max_message_size";
          }
          break;
        case ActionKind::kMessageBegin:
          if (body_open_) return "kMessageBegin while a message is open";
          body_open_ = true;
          body_bytes_ = 0;
          ++messages_begun_;
          break;
        case ActionKind::kMessageEnd:
          if (!body_open_) return "kMessageEnd without an open message";
          body_open_ = false;
          parked_ = true;
          break;
        case ActionKind::kMessageAbort:
          if (!body_open_) return "kMessageAbort without an open message";
          body_open_ = false;
          break;
        case ActionKind::kAsk: {
          if (body_open_) return "kAsk while a message is open";
          if (session.pendingStage() != a.stage) return "kAsk stage differs from pendingStage()";
          const bool needs_argument = a.stage == PolicyStage::kHelo || a.stage == PolicyStage::kRcptTo;
          if (needs_argument && session.pendingArgument().empty()) return "kAsk without its argument";
          if (a.stage == PolicyStage::kAuth && session.pendingAuth().authcid.empty()) return "kAsk(auth) without a user";
          if (a.stage == PolicyStage::kConnect && replies_ != 0) return "kAsk(connect) after a reply";
          parked_ = true;
          break;
        }
        case ActionKind::kStartTls:
          parked_ = true;
          break;
        case ActionKind::kClose:
          closed_ = true;
          break;
      }
    }
    if (call == CallKind::kOther && was_parked && !closed_ && !parked_) parked_ = true;
    if (closed_ != session.closed()) return "closed() disagrees with kClose";
    if (closed_ && body_open_) return "closed with a message still open";
    return {};
  }

  bool closed() const { return closed_; }
  bool parked() const { return parked_; }
  uint64_t messagesBegun() const { return messages_begun_; }

 private:
  static bool isDigit(char c) { return c >= '0' && c <= '9'; }

  // RFC 3463 section 2: class "." subject "." detail, 1-3 digits each.
  static size_t enhancedLength(std::string_view s) {
    size_t i = 0;
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
    i = 2;
    for (int part = 0; part < 2; ++part) {
      size_t n = 0;
      while (i < s.size() && isDigit(s[i])) {
        ++i;
        ++n;
      }
      if (n == 0 || n > 3) return 0;
      if (part == 0) {
        if (i >= s.size() || s[i] != '.') return 0;
        ++i;
      }
    }
    return i;
  }

  std::string checkReplyText(std::string_view text) {
    if (text.empty()) return "empty kReply";
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t crlf = text.find("\r\n", pos);
      if (crlf == std::string_view::npos) return "reply not CRLF-terminated";
      const std::string_view line = text.substr(pos, crlf - pos);
      pos = crlf + 2;
      std::string e = checkLine(line);
      if (!e.empty()) return e + ": " + std::string(line);
    }
    return {};
  }

  std::string checkLine(std::string_view line) {
    if (line.size() + 2 > 512) return "reply line over 512 octets";
    if (line.size() < 4) return "reply line too short";
    if (!isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2])) return "no 3-digit code";
    if (line[0] < '2' || line[0] > '5') return "reply code out of range";
    if (line[3] != ' ' && line[3] != '-') return "no SP/- after the code";
    for (char c : line) {
      if (c == '\r' || c == '\n') return "CR or LF inside a reply line";
    }
    const bool continued = line[3] == '-';
    const std::string_view code = line.substr(0, 3);
    const bool in_multiline = multiline_;
    if (in_multiline && code != multiline_code_) return "code changes inside a multi-line reply";
    multiline_ = continued;
    multiline_code_ = std::string(code);
    const bool first = replies_ == 0;
    ++replies_;
    if (continued && code != "250") return "multi-line reply other than EHLO";
    if (continued || in_multiline) return {};  // the EHLO reply (RFC 2034: exempt)
    const char cls = line[0];
    if (cls == '3') return {};
    const std::string_view text = line.substr(4);
    if (first && code == "220") return {};                    // greeting
    if (code == "250" && text == options_.hostname) return {};  // HELO reply
    const size_t n = enhancedLength(text);
    if (n == 0) return "missing enhanced status code";
    if (text[0] != cls) return "enhanced code class differs from the reply code";
    if (n < text.size() && text[n] != ' ') return "enhanced code not followed by SP";
    return {};
  }

  SessionOptions options_;
  bool closed_ = false;
  bool parked_ = false;
  bool body_open_ = false;
  bool multiline_ = false;
  std::string multiline_code_;
  uint64_t body_bytes_ = 0;
  uint64_t replies_ = 0;
  uint64_t messages_begun_ = 0;
};

}  // namespace mx::smtp::testing
