// fuzz/smtp/fuzz_driver.h — a driver for smtp::Session under fuzzing: it decodes session
// options from the input, feeds client bytes, answers every parking action (each policy
// question, the commit, STARTTLS) from input bytes, fires timers, drain and peer-close events, and
// checks the invariants of session_checker.h after every call. Shared by the raw-bytes
// target (smtp_session_fuzz) and the protocol-alphabet target (smtp_alphabet_fuzz).
//
// Trust: the input is arbitrary; any invariant violation aborts with a message so
// libFuzzer records the input as a crasher.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "session_checker.h"
#include "smtp/session.h"

namespace mx::smtp::fuzzing {

[[noreturn]] inline void violation(const std::string& what) {
  std::fprintf(stderr, "smtp fuzz invariant violated: %s\n", what.c_str());
  std::abort();
}

// Two option bytes (see fuzz/smtp/README.md for the layout).
inline SessionOptions decodeOptions(uint8_t a, uint8_t b) {
  SessionOptions o;
  o.hostname = "mx.fuzz";
  o.starttls_available = (a & 0x01) != 0;
  o.tls_active = (a & 0x02) != 0;
  o.require_tls = (a & 0x04) != 0;
  o.auth_available = (a & 0x08) != 0;
  o.auth_plaintext_allowed = (a & 0x10) != 0;
  o.auth_required = (a & 0x20) != 0;
  o.chunking = (a & 0x40) == 0;  // on unless the bit is set
  o.smtputf8 = (a & 0x80) == 0;
  static constexpr uint64_t kSizes[] = {50ull << 20, 100, 10, 0};
  static constexpr uint32_t kRecipients[] = {100, 1, 2, 3};
  static constexpr uint32_t kErrors[] = {10, 1, 3, 0};
  o.max_message_size = kSizes[b & 3];
  o.max_recipients = kRecipients[(b >> 2) & 3];
  o.max_errors = kErrors[(b >> 4) & 3];
  o.max_line_length = (b & 0x40) != 0 ? 80 : 1u << 20;
  o.max_messages = (b & 0x80) != 0 ? 1 : 0;
  o.max_junk_commands = 5;
  o.command_timeout = Millis(300'000);
  o.data_timeout = Millis(180'000);
  return o;
}

// Refusals a policy may name: the stage defaults, other 4xx/5xx entries, and the 421 family
// (which closes the session).
inline ReplyId refusalChoice(uint8_t b) {
  static constexpr ReplyId kRefusals[] = {
      ReplyId::kConnectionRefused, ReplyId::kHeloRefused,     ReplyId::kSenderRefused,
      ReplyId::kRecipientPermFail, ReplyId::kAuthFailed,      ReplyId::kCommitPermFail,
      ReplyId::kRelayDenied,       ReplyId::kOtherTenant,     ReplyId::kInsufficientStorage,
      ReplyId::kPolicyTempFail,    ReplyId::kRecipientTempFail, ReplyId::kAuthTempFail,
      ReplyId::kCommitTempFail,    ReplyId::kTooManyConnections, ReplyId::kShuttingDown,
      ReplyId::kRecipientNeedsDomain,
  };
  return kRefusals[b % (sizeof kRefusals / sizeof kRefusals[0])];
}

class Driver {
 public:
  explicit Driver(const SessionOptions& options)
      : options_(options), now_(std::chrono::seconds(1'000'000)), session_(options, now_), checker_(options) {}

  // Starts the session; the connect question is answered like any other (answer()).
  void start() {
    session_.start(now_);
    drain(testing::CallKind::kOther);
  }

  void receive(std::string_view bytes) {
    if (bytes.empty()) return;
    fed_ += bytes.size();
    session_.receive(bytes, now_);
    drain(testing::CallKind::kReceive);
    if (session_.bufferedBytes() > fed_) violation("buffers more than it was given");
  }

  void advanceAndTimer(Millis d) {
    now_ += d;
    session_.onTimer(now_);
    drain(testing::CallKind::kOther);
  }

  void fireDeadline() {
    const MonoTime d = session_.deadline();
    if (d == MonoTime::max()) return;
    if (d < now_) violation("deadline in the past");
    now_ = d;
    session_.onTimer(now_);
    drain(testing::CallKind::kOther);
  }

  void shutdown() {
    session_.shutdown(now_);
    drain(testing::CallKind::kOther);
  }

  void peerClosed() {
    session_.peerClosed(now_);
    drain(testing::CallKind::kOther);
  }

  bool closed() const { return session_.closed(); }
  bool waiting() const { return parked_ != Parked::kNone; }

  // What the session waits for: the PolicyStage of a kAsk (0-4), 5 the commit, 6 the TLS
  // handshake; -1 when it does not wait. Answer bytes name it (README.md).
  int waitingCode() const {
    switch (parked_) {
      case Parked::kAsk: return static_cast<int>(stage_);
      case Parked::kCommit: return 5;
      case Parked::kTls: return 6;
      case Parked::kNone: break;
    }
    return -1;
  }

  // Answers the pending question: v = 0 accepts (STARTTLS: the handshake succeeds), any
  // other value refuses with refusalChoice(v - 1) (STARTTLS: fails). Returns false if
  // nothing pends.
  bool answer(uint8_t v) {
    const Parked p = parked_;
    if (p == Parked::kNone) return false;
    parked_ = Parked::kNone;
    const bool accept = v == 0;
    const ReplyId refusal = refusalChoice(static_cast<uint8_t>(v - 1));
    switch (p) {
      case Parked::kAsk: {
        const Verdict verdict = !accept                           ? Verdict::refuse(refusal)
                                : stage_ == PolicyStage::kRcptTo ? Verdict::acceptRecipient("tenant")
                                                                 : Verdict::accept();
        session_.answer(verdict, now_);
        break;
      }
      case Parked::kCommit: {
        CommitResult r;
        r.verdict = accept ? Verdict::accept() : Verdict::refuse(refusal);
        r.id = MessageId(static_cast<uint64_t>(++commits_) * 1000, 1, 2);
        session_.commitDone(r, now_);
        break;
      }
      case Parked::kTls:
        session_.tlsDone(accept, now_);
        break;
      case Parked::kNone:
        break;
    }
    drain(testing::CallKind::kAnswer);
    return true;
  }

  // Ends the run: answers what still pends with "accept", then the peer leaves.
  void finish() {
    for (int i = 0; i < 1000 && waiting(); ++i) answer(0);
    peerClosed();
    if (!session_.closed()) violation("not closed after peerClosed()");
  }

 private:
  enum class Parked { kNone, kAsk, kCommit, kTls };

  void drain(testing::CallKind call) {
    const std::vector<Action>& actions = session_.actions();
    std::string e = checker_.check(actions, call, session_);
    if (!e.empty()) violation(e);
    for (const Action& a : actions) {
      switch (a.kind) {
        case ActionKind::kAsk:
          parked_ = Parked::kAsk;
          stage_ = a.stage;
          break;
        case ActionKind::kMessageEnd:
          parked_ = Parked::kCommit;
          break;
        case ActionKind::kStartTls:
          parked_ = Parked::kTls;
          break;
        case ActionKind::kClose:
          parked_ = Parked::kNone;
          break;
        default:
          break;
      }
    }
    if (session_.parked() != (parked_ != Parked::kNone) && !session_.closed()) {
      violation("parked() disagrees with the actions");
    }
    session_.clearActions();
  }

  SessionOptions options_;
  MonoTime now_;
  Session session_;
  testing::SessionChecker checker_;
  Parked parked_ = Parked::kNone;
  PolicyStage stage_ = PolicyStage::kConnect;
  uint64_t fed_ = 0;
  uint64_t commits_ = 0;
};

}  // namespace mx::smtp::fuzzing
