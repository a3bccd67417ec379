// smtp/session_impl.h — private to src/smtp: Session::Impl, the session's state, shared by
//   session.cc           entry points, the one state-change function, output, the input
//                        buffer, the line reader, command dispatch and the TLS/HELO gate;
//   session_commands.cc  the command table and the envelope commands (EHLO/HELO, MAIL,
//                        RCPT, RSET, ..., STARTTLS) with their policy questions;
//   session_body.cc      DATA and BDAT: the one can-send-data check, body output, SIZE;
//   session_auth.cc      AUTH and the SASL exchange.
//
// State that owns its data (after Stalwart's State::Bdat(BdatReceiver), State::SkipData,
// State::Sasl): the session's mode is a std::variant of one struct per state, so the SASL
// credentials, the DATA scanner, the BDAT chunk counters and a pending policy question
// exist only while the session is in the state that uses them. What outlives one state —
// the open transaction (MAIL accepted until its end) — is a std::optional<Transaction>.
//
// Trust: as session.h. Not part of the public API.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/envelope.h"
#include "smtp/data_scanner.h"
#include "smtp/params.h"
#include "smtp/reply.h"
#include "smtp/session.h"
#include "smtp/verdict.h"

namespace mx::smtp {
namespace detail {

// RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CRLF.
inline constexpr size_t kMaxCommandLine = 512;
// RFC 4954 section 4: AUTH command lines and SASL responses may be up to 12288 octets.
inline constexpr size_t kMaxAuthLine = 12288;
// Longest EHLO/HELO argument kept (a domain is at most 255 octets, RFC 5321 4.5.3.1.2).
inline constexpr size_t kMaxHeloLength = 255;
// Buffers larger than this are released when the session goes idle.
inline constexpr size_t kIdleBufferCapacity = 4096;

// Command flags, after Postfix's smtpd_cmd_table.
enum CommandFlag : uint16_t {
  kPreTls = 1 << 0,     // allowed before STARTTLS when TLS is required (Postfix PRE_TLS)
  kNeedHelo = 1 << 1,   // needs EHLO/HELO first (RFC 5321 4.1.4)
  kJunk = 1 << 2,       // counts towards max_junk_commands (Postfix LIMIT)
  kLast = 1 << 3,       // ends a pipelined group (RFC 2920 section 3.1; Postfix LAST)
  kForbidden = 1 << 4,  // a cross-protocol request (HTTP): reply 221 and close
  kObsolete = 1 << 5,   // recognised but not implemented: 502 5.5.1 (RFC 5321 4.1.5)
  kOwnChecks = 1 << 6,  // the handler applies the gate itself (BDAT must first learn its
                        // chunk size to stay in sync)
};
// BDAT's flags, also used by its own gate check.
inline constexpr uint16_t kBdatFlags = kNeedHelo | kOwnChecks;

// Deleting an AuthRequest overwrites the credentials first, so every way out of an AUTH
// exchange (answer, abort, timeout, close, destruction) wipes them.
struct WipeAuth {
  void operator()(AuthRequest* r) const;
};
using AuthPtr = std::unique_ptr<AuthRequest, WipeAuth>;

enum class AuthStep : uint8_t { kPlainResponse, kLoginUser, kLoginPassword };

// ---- the modes -----------------------------------------------------------------------------
// One struct per state; the variant index is the state (see State below).

struct New {};       // constructed; start() not yet called
struct Command {};   // reading a command line
struct SkipLine {    // discarding the rest of an overlong line, then 500 5.5.2
  bool secret = false;  // it is an AUTH line or SASL response: wipe what is skipped
};
struct Sasl {        // reading a SASL response line (RFC 4954 section 4)
  AuthStep step = AuthStep::kPlainResponse;
  AuthPtr auth;
};
struct Data {        // reading DATA mail data up to CRLF.CRLF (RFC 5321 4.1.1.4)
  DataScanner scanner;
  ReplyId refusal = ReplyId::kCount_;  // why the body will be refused at its end
};
struct Bdat {        // reading the octets of one BDAT chunk (RFC 3030 section 2)
  uint64_t size = 0;
  uint64_t remaining = 0;
  ReplyId refusal = ReplyId::kCount_;  // decided before the first octet; kCount_: accepted
  bool last = false;
  bool repeat = false;                 // the refusal repeats the transaction's BDAT failure
};
struct Ask {         // parked on kAsk until answer()
  PolicyStage stage = PolicyStage::kConnect;
  bool esmtp = false;    // kHelo: EHLO (true) or HELO
  std::string argument;  // pendingArgument()
  AuthPtr auth;          // kAuth: pendingAuth()
};
struct WaitCommit {};  // parked on kMessageEnd until commitDone()
struct WaitTls {};     // parked on kStartTls; all input is discarded (RFC 3207 section 4.2)
struct Closed {};      // kClose queued; everything is ignored from now on

using Mode = std::variant<New, Command, SkipLine, Sasl, Data, Bdat, Ask, WaitCommit, WaitTls, Closed>;

// The variant's index, named (trace output and the transition table).
enum class State : uint8_t { kNew, kCommand, kSkipLine, kSasl, kData, kBdat, kAsk, kWaitCommit, kWaitTls, kClosed, kCount_ };
static_assert(std::variant_size_v<Mode> == static_cast<size_t>(State::kCount_));
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<size_t>(State::kData), Mode>, Data>);
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<size_t>(State::kAsk), Mode>, Ask>);
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<size_t>(State::kClosed), Mode>, Closed>);

// The open mail transaction: from an accepted MAIL to its end (commit, refusal, RSET,
// EHLO, STARTTLS). The envelope part lives in Session::Impl::envelope_.
struct Transaction {
  uint64_t body_bytes = 0;       // body octets handed out (after unstuffing), for SIZE
  uint32_t rcpt_attempts = 0;    // well-formed RCPTs (accepted or refused)
  ReplyId bdat_failure = ReplyId::kCount_;  // RFC 3030 section 2: repeated until LAST
  bool body_open = false;        // kMessageBegin queued, no kMessageEnd/Abort yet
  bool discarding = false;       // body octets are consumed, not handed out
  bool bdat_seen = false;        // a BDAT chunk was accepted
};

}  // namespace detail

class Session::Impl {
 public:
  Impl(const SessionOptions& options, MonoTime now);
  ~Impl();

  // ---- public entry points (session.h) ----
  void start(MonoTime now);
  void receive(std::string_view bytes, MonoTime now);
  void peerClosed(MonoTime now);
  void tlsDone(bool ok, MonoTime now);
  void answer(const Verdict& v, MonoTime now);
  void commitDone(const CommitResult& r, MonoTime now);
  MonoTime deadline() const;
  void onTimer(MonoTime now);
  void shutdown(MonoTime now);
  const std::vector<Action>& actions() const { return actions_; }
  void clearActions();
  PolicyStage pendingStage() const;
  const std::string& pendingArgument() const;
  const AuthRequest& pendingAuth() const;
  const Envelope& envelope() const { return envelope_; }
  Envelope& envelope() { return envelope_; }
  bool closed() const { return is<detail::Closed>(); }
  const SessionStats& stats() const { return stats_; }
  size_t bufferedBytes() const { return in_.size() - in_pos_; }
  bool parked() const { return is<detail::Ask>() || is<detail::WaitCommit>() || is<detail::WaitTls>(); }

 private:
  using Handler = void (Impl::*)(std::string_view args);
  struct CommandSpec {
    std::string_view verb;
    uint16_t flags;
    Handler handler;
  };
  static const CommandSpec kCommands[];  // session_commands.cc
  static const CommandSpec* findCommand(std::string_view verb);

  template <typename T>
  bool is() const {
    return std::holds_alternative<T>(mode_);
  }

  // ---- state (session.cc) ----
  void enterState(detail::Mode next, const char* why);
  bool canCloseForShutdown() const;
  void resumeAfterPark(const char* why);
  void ask(PolicyStage stage, std::string argument, detail::AuthPtr auth = nullptr, bool esmtp = false);

  // ---- output (session.cc) ----
  void queueAction(ActionKind kind, std::string_view data = {});
  template <typename Append>
  void emitReply(Append&& append);
  void publishReply(const char* old_base, size_t offset);
  void reply(ReplyId id, std::string_view detail = {}, bool count = true);
  ReplyId refusalOf(const Verdict& v, ReplyId fallback) const;
  void refuseWith(ReplyId id);
  void countError();
  void closeWith(ReplyId id);
  void close(const char* why);

  // ---- input (session.cc) ----
  bool bodyViewsOutstanding() const;
  void compactInput();
  void appendInput(std::string_view bytes);
  std::string_view available() const { return std::string_view(in_.data() + in_pos_, in_.size() - in_pos_); }
  void run();
  enum class LineStatus { kNeedMore, kLine, kHandled };
  size_t lineLimit(std::string_view line_prefix) const;
  LineStatus takeLine(std::string_view& line, size_t& consumed);
  void wipeConsumedIfSecret(std::string_view bytes);
  void overlongLineDone();
  bool skipLine();
  bool readCommand();
  void dispatch(std::string_view line);
  ReplyId gateRefusal(uint16_t flags) const;

  // ---- commands and their questions (session_commands.cc) ----
  void cmdEhlo(std::string_view args);
  void cmdHelo(std::string_view args);
  void helo(std::string_view args, bool esmtp);
  bool authOffered() const;
  void cmdMail(std::string_view args);
  bool replyParamError(ParamError e, std::string_view keyword);
  void cmdRcpt(std::string_view args);
  void cmdRset(std::string_view args);
  void cmdNoop(std::string_view args);
  void cmdQuit(std::string_view args);
  void cmdVrfy(std::string_view args);
  void cmdExpn(std::string_view args);
  void cmdHelp(std::string_view args);
  void cmdStartTls(std::string_view args);
  void connectAnswered(const Verdict& v);
  void heloAnswered(const Verdict& v, detail::Ask& a);
  void mailAnswered(const Verdict& v, detail::Ask& a);
  void rcptAnswered(const Verdict& v, detail::Ask& a);
  void endTransaction();
  void resetTransaction();

  // ---- DATA and BDAT (session_body.cc) ----
  ReplyId bodyRefusal(bool bdat) const;
  uint64_t sizeLimit() const { return options_.max_message_size; }
  void openBody();
  void abortBody();
  void stopBody();
  bool bodyBytes(const char* p, size_t n);
  void emitBody(const char* p, size_t n);
  void messageComplete();
  void messageRefused(ReplyId id);
  void cmdData(std::string_view args);
  bool readData();
  void cmdBdat(std::string_view args);
  bool readChunk();
  void chunkComplete(const detail::Bdat& b);

  // ---- AUTH (session_auth.cc) ----
  void cmdAuth(std::string_view args);
  void beginAuthStep(detail::AuthStep step, detail::AuthPtr auth);
  void authFail(ReplyId id);
  void authPlainResponse(std::string_view b64, detail::AuthPtr auth);
  void authLoginUser(std::string_view b64, detail::AuthPtr auth);
  void authLoginPassword(std::string_view b64, detail::AuthPtr auth);
  bool readAuthResponse();
  void authAnswered(const Verdict& v, detail::Ask& a);

  // ---- members ----
  const SessionOptions options_;
  Envelope envelope_;
  SessionStats stats_;

  std::string in_;         // received octets; [in_pos_, end) not yet consumed
  size_t in_pos_ = 0;
  std::string out_;        // reply text of the queued kReply actions
  std::vector<Action> actions_;

  detail::Mode mode_;
  std::optional<detail::Transaction> txn_;

  MonoTime now_;
  MonoTime wait_since_;    // start of the current command/data timeout

  uint32_t messages_ = 0;       // transactions that reached their end of data
  uint32_t junk_commands_ = 0;
  bool tls_active_;
  bool has_helo_ = false;
  bool authenticated_ = false;
  bool commit_pending_ = false;  // kMessageEnd without commitDone() (survives a close)
  bool shutdown_pending_ = false;
};

// Appends reply text (complete CRLF-terminated lines, built by reply.cc) to out_ and
// publishes it, merging it into a directly preceding kReply action so a pipelined batch is
// one write.
template <typename Append>
void Session::Impl::emitReply(Append&& append) {
  if (closed()) return;
  const char* old_base = out_.data();
  const size_t offset = out_.size();
  append(out_);
  publishReply(old_base, offset);
}

}  // namespace mx::smtp
