// smtp/session.cc — the SMTP server session (see session.h): command dispatch through a
// flag table, one state-change function, the DATA/BDAT body paths and the AUTH exchange.
//
// Standards: RFC 5321 sections 3 and 4 (commands, sequencing, replies, limits), RFC 1870
// (SIZE), RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8), RFC 2920 (PIPELINING), RFC 2034 and
// RFC 3463 (enhanced status codes), RFC 3207 (STARTTLS), RFC 4954 and RFC 4616 (AUTH,
// PLAIN) plus LOGIN, RFC 3030 (CHUNKING, BINARYMIME). Each rule is cited where applied.
//
// Trust: all input bytes are untrusted. The input buffer holds at most one partial command
// line (512 octets, 12288 for AUTH) beyond what the driver handed in; overlong lines are
// discarded to their end; body octets are handed out as views and never accumulated.
// Driver answers (decisions, reply texts) are trusted for meaning but their reply texts
// are checked for shape, and a malformed one is replaced by the default reply.
#include "smtp/session.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "core/assert.h"
#include "smtp/address.h"
#include "smtp/ascii.h"
#include "smtp/data_scanner.h"
#include "smtp/params.h"
#include "smtp/reply.h"
#include "smtp/sasl.h"

namespace mx::smtp {
namespace {

// RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CRLF.
constexpr size_t kMaxCommandLine = 512;
// RFC 4954 section 4: AUTH command lines and SASL responses may be up to 12288 octets.
constexpr size_t kMaxAuthLine = 12288;
// Longest EHLO/HELO argument kept (a domain is at most 255 octets, RFC 5321 4.5.3.1.2).
constexpr size_t kMaxHeloLength = 255;
// Buffers larger than this are released when the session goes idle.
constexpr size_t kIdleBufferCapacity = 4096;

// RFC 4954 section 4 / LOGIN: the two LOGIN prompts, base64 of "Username:"/"Password:".
constexpr std::string_view kLoginUserPrompt = "334 VXNlcm5hbWU6\r\n";
constexpr std::string_view kLoginPasswordPrompt = "334 UGFzc3dvcmQ6\r\n";
constexpr std::string_view kPlainPrompt = "334 \r\n";

enum class State : uint8_t {
  kNew,            // constructed; start() or refuse() not yet called
  kCommand,        // reading a command line
  kSkipLine,       // discarding the rest of an overlong line, then 500 5.5.2
  kAuthResponse,   // reading a SASL response line (RFC 4954 section 4)
  kData,           // reading DATA mail data up to CRLF.CRLF
  kBdatChunk,      // reading the octets of one BDAT chunk (RFC 3030 section 2)
  kWaitRecipient,  // parked on kCheckRecipient
  kWaitAuth,       // parked on kCheckAuth
  kWaitCommit,     // parked on kMessageEnd
  kWaitTls,        // parked on kStartTls; all input is discarded (RFC 3207 section 4.2)
  kClosed,         // kClose queued; everything is ignored from now on
  kCount_,
};

constexpr const char* stateName(State s) {
  switch (s) {
    case State::kNew: return "new";
    case State::kCommand: return "command";
    case State::kSkipLine: return "skip-line";
    case State::kAuthResponse: return "auth-response";
    case State::kData: return "data";
    case State::kBdatChunk: return "bdat-chunk";
    case State::kWaitRecipient: return "wait-recipient";
    case State::kWaitAuth: return "wait-auth";
    case State::kWaitCommit: return "wait-commit";
    case State::kWaitTls: return "wait-tls";
    case State::kClosed: return "closed";
    case State::kCount_: break;
  }
  return "?";
}

constexpr uint32_t bit(State s) { return 1u << static_cast<unsigned>(s); }

// The legal transitions; enterState() checks every change against this table.
constexpr std::array<uint32_t, static_cast<size_t>(State::kCount_)> kTransitions = [] {
  std::array<uint32_t, static_cast<size_t>(State::kCount_)> t{};
  auto allow = [&t](State from, uint32_t to) { t[static_cast<size_t>(from)] = to | bit(State::kClosed); };
  allow(State::kNew, bit(State::kCommand));
  allow(State::kCommand, bit(State::kCommand) | bit(State::kSkipLine) | bit(State::kAuthResponse) |
                             bit(State::kData) | bit(State::kBdatChunk) | bit(State::kWaitRecipient) |
                             bit(State::kWaitAuth) | bit(State::kWaitTls));
  allow(State::kSkipLine, bit(State::kCommand));
  allow(State::kAuthResponse, bit(State::kAuthResponse) | bit(State::kCommand) |
                                  bit(State::kSkipLine) | bit(State::kWaitAuth));
  allow(State::kData, bit(State::kCommand) | bit(State::kWaitCommit));
  allow(State::kBdatChunk, bit(State::kCommand) | bit(State::kWaitCommit));
  allow(State::kWaitRecipient, bit(State::kCommand));
  allow(State::kWaitAuth, bit(State::kCommand));
  allow(State::kWaitCommit, bit(State::kCommand));
  allow(State::kWaitTls, bit(State::kCommand));
  t[static_cast<size_t>(State::kClosed)] = 0;
  return t;
}();

enum class AuthStep : uint8_t { kNone, kPlainResponse, kLoginUser, kLoginPassword };

// Command flags, after Postfix's smtpd_cmd_table.
enum CommandFlag : uint16_t {
  kPreTls = 1 << 0,     // allowed before STARTTLS when TLS is required (Postfix PRE_TLS)
  kNeedHelo = 1 << 1,   // needs EHLO/HELO first (RFC 5321 4.1.4)
  kJunk = 1 << 2,       // counts towards max_junk_commands (Postfix LIMIT)
  kLast = 1 << 3,       // ends a pipelined group (RFC 2920 section 3.1; Postfix LAST)
  kForbidden = 1 << 4,  // a cross-protocol request (HTTP): reply 221 and close
  kObsolete = 1 << 5,   // recognised but not implemented: 502 5.5.1 (RFC 5321 4.1.5)
  kOwnChecks = 1 << 6,  // the handler applies the PRE_TLS/HELO checks itself (BDAT must
                        // first learn its chunk size to stay in sync)
};

const AuthRequest kNoAuthRequest{};
const std::string kNoRecipient{};

}  // namespace

class Session::Impl {
 public:
  Impl(const SessionOptions& options, MonoTime now)
      : options_(options), now_(now), wait_since_(now), tls_active_(options.tls_active) {}

  ~Impl() {
    wipeAuth();
    // Unconsumed input may hold the start of an AUTH line.
    wipeBytes(in_.data(), in_.size());
  }

  // ---- public entry points (see session.h) ----------------------------------------------

  void start(MonoTime now) {
    now_ = now;
    if (state_ != State::kNew) {
      MX_BUG(false, "smtp: start() called twice or after refuse()");
      return;
    }
    wait_since_ = now;
    if (shutdown_pending_) {
      enterState(State::kCommand, "start while draining");
      closeWith(ReplyId::kShuttingDown);
      return;
    }
    // RFC 5321 4.3.1 / 3.1: the greeting. No enhanced code (RFC 2034 applies after EHLO).
    std::string line = "220 ";
    line += options_.hostname;
    line += " ESMTP mxgate\r\n";
    pushReplyText(line);
    enterState(State::kCommand, "greeting sent");
  }

  void refuse(std::string_view reply_line, MonoTime now) {
    now_ = now;
    if (state_ != State::kNew) {
      MX_BUG(false, "smtp: refuse() after start()");
      return;
    }
    std::string line;
    if (isAcceptableReplyLine(reply_line, '4') || isAcceptableReplyLine(reply_line, '5')) {
      line.assign(reply_line);
    } else {
      // RFC 5321 3.1: a 554 greeting refuses service. Strip anything that would break the
      // reply framing out of the caller's text.
      line = "554 5.7.1 ";
      for (char c : reply_line) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7F) line += c;
      }
    }
    line += "\r\n";
    pushReplyText(line);
    close("refused");
  }

  void receive(std::string_view bytes, MonoTime now) {
    now_ = now;
    if (state_ == State::kNew || state_ == State::kClosed) return;
    if (state_ == State::kWaitTls) {
      // RFC 3207 section 4.2 / Postfix CVE-2011-0411: plaintext pipelined after STARTTLS
      // is never executed. Nothing sent before tlsDone() can be TLS payload.
      return;
    }
    if (bytes.empty()) return;
    compactInput();
    appendInput(bytes);
    if (state_ == State::kData || state_ == State::kBdatChunk) {
      // RFC 5321 4.5.3.2.5: the data block timeout restarts with each received block.
      wait_since_ = now;
    }
    run();
  }

  void peerClosed(MonoTime now) {
    now_ = now;
    if (state_ == State::kNew || state_ == State::kClosed) return;
    abortBody();
    wipeAuth();
    close("peer closed");
  }

  void tlsDone(bool ok, MonoTime now) {
    now_ = now;
    if (state_ != State::kWaitTls) {
      if (state_ != State::kClosed) MX_BUG(false, "smtp: tlsDone() without kStartTls");
      return;
    }
    if (!ok) {
      // The connection is in an unknown state: no reply can be sent in the clear.
      close("TLS handshake failed");
      return;
    }
    // RFC 3207 section 4.2: discard all knowledge obtained from the client before TLS;
    // the client must send EHLO again.
    tls_active_ = true;
    has_helo_ = false;
    authenticated_ = false;
    endTransaction();
    envelope_.helo.clear();
    envelope_.esmtp = false;
    envelope_.auth_identity.clear();
    in_pos_ = in_.size();  // (already discarded: nothing is buffered after STARTTLS)
    compactInput();
    wait_since_ = now;
    enterState(State::kCommand, "TLS established");
    run();
  }

  void recipientDone(const RecipientDecision& d, MonoTime now) {
    now_ = now;
    if (state_ != State::kWaitRecipient) {
      if (state_ != State::kClosed) MX_BUG(false, "smtp: recipientDone() without kCheckRecipient");
      pending_recipient_.clear();
      return;
    }
    switch (d.verdict) {
      case Verdict::kAccept:
        envelope_.recipients.push_back(Recipient{std::move(pending_recipient_), d.route});
        ++stats_.recipients_accepted;
        reply(ReplyId::kRcptOk);
        break;
      case Verdict::kTempFail:
        ++stats_.recipients_rejected;
        replyDriverText(d.reply, '4', ReplyId::kRecipientTempFail);
        break;
      case Verdict::kPermFail:
        ++stats_.recipients_rejected;
        replyDriverText(d.reply, '5', ReplyId::kRecipientPermFail);
        break;
    }
    pending_recipient_.clear();
    resumeAfterPark("recipient decided");
  }

  void authDone(Verdict v, MonoTime now) {
    now_ = now;
    if (state_ != State::kWaitAuth) {
      if (state_ != State::kClosed) MX_BUG(false, "smtp: authDone() without kCheckAuth");
      wipeAuth();
      return;
    }
    switch (v) {
      case Verdict::kAccept:
        authenticated_ = true;
        // The identity the client acts as: the authorization identity when it gave one
        // (and the driver accepted it), else the authentication identity (RFC 4616 2).
        envelope_.auth_identity = auth_->authzid.empty() ? auth_->authcid : auth_->authzid;
        reply(ReplyId::kAuthSucceeded);
        break;
      case Verdict::kTempFail:
        reply(ReplyId::kAuthTempFail);
        break;
      case Verdict::kPermFail:
        stats_.auth_failed = true;
        reply(ReplyId::kAuthFailed);
        break;
    }
    // Never keep the password longer than the decision needs it.
    wipeAuth();
    resumeAfterPark("auth decided");
  }

  void commitDone(const CommitResult& r, MonoTime now) {
    now_ = now;
    if (!commit_pending_) {
      MX_BUG(state_ == State::kClosed, "smtp: commitDone() without kMessageEnd");
      return;
    }
    commit_pending_ = false;
    const bool closed = state_ == State::kClosed;  // the peer left while we committed
    switch (r.verdict) {
      case Verdict::kAccept: {
        ++stats_.messages_accepted;
        stats_.bytes_accepted += body_bytes_;
        junk_commands_ = 0;
        if (!closed) reply(ReplyId::kQueued, r.id.toString());
        break;
      }
      case Verdict::kTempFail:
        ++stats_.messages_rejected;
        if (!closed) replyDriverText(r.reply, '4', ReplyId::kCommitTempFail);
        break;
      case Verdict::kPermFail:
        ++stats_.messages_rejected;
        if (!closed) replyDriverText(r.reply, '5', ReplyId::kCommitPermFail);
        break;
    }
    if (closed) return;
    // RFC 5321 4.1.1.4: after the end of data the transaction is over; EHLO and AUTH
    // state are kept.
    endTransaction();
    resumeAfterPark("commit answered");
  }

  MonoTime deadline() const {
    switch (state_) {
      case State::kCommand:
      case State::kSkipLine:
      case State::kAuthResponse: {
        // RFC 5321 4.5.3.2.7 gives 5 minutes per command; before the first EHLO/HELO and
        // between transactions the operator may shed silent connections sooner.
        Millis t = options_.command_timeout;
        if (!has_helo_ && options_.greeting_timeout.count() > 0) t = options_.greeting_timeout;
        else if (has_helo_ && !in_transaction_ && options_.idle_timeout.count() > 0) t = options_.idle_timeout;
        return wait_since_ + t;
      }
      case State::kData:
      case State::kBdatChunk:
        return wait_since_ + options_.data_timeout;
      default:
        return MonoTime::max();
    }
  }

  void onTimer(MonoTime now) {
    now_ = now;
    if (now < deadline()) return;
    // RFC 5321 4.5.3.2: the server times out and closes with 421.
    abortBody();
    wipeAuth();
    closeWith(ReplyId::kTimeout);
  }

  void shutdown(MonoTime now) {
    now_ = now;
    if (state_ == State::kClosed) return;
    shutdown_pending_ = true;
    if (state_ == State::kNew) return;  // start() sends the 421 instead of the greeting
    if (canCloseForShutdown()) closeWith(ReplyId::kShuttingDown);
  }

  const std::vector<Action>& actions() const { return actions_; }

  void clearActions() {
    actions_.clear();
    out_.clear();
    if (out_.capacity() > kIdleBufferCapacity) std::string().swap(out_);
    compactInput();
  }

  const std::string& pendingRecipient() const {
    return state_ == State::kWaitRecipient ? pending_recipient_ : kNoRecipient;
  }
  const AuthRequest& pendingAuth() const {
    return (state_ == State::kWaitAuth && auth_ != nullptr) ? *auth_ : kNoAuthRequest;
  }
  const Envelope& envelope() const { return envelope_; }
  bool closed() const { return state_ == State::kClosed; }
  const SessionStats& stats() const { return stats_; }
  size_t bufferedBytes() const { return in_.size() - in_pos_; }
  bool parked() const {
    return state_ == State::kWaitRecipient || state_ == State::kWaitAuth ||
           state_ == State::kWaitCommit || state_ == State::kWaitTls;
  }

 private:
  using Handler = void (Impl::*)(std::string_view args);
  struct Command {
    std::string_view verb;
    uint16_t flags;
    Handler handler;
  };
  static constexpr size_t kCommandCount = 26;
  static const Command kCommands[kCommandCount];

  // ---- state -----------------------------------------------------------------------------

  // Every state change goes through here (after OpenSMTPD's smtp_enter_state).
  void enterState(State next, const char* why) {
    if (state_ == State::kClosed) return;  // terminal
    const bool legal = (kTransitions[static_cast<size_t>(state_)] & bit(next)) != 0;
    MX_BUG(legal, "smtp: illegal session state transition");
    if (!legal) return;
#ifdef MX_SMTP_TRACE
    std::fprintf(stderr, "smtp: %s -> %s (%s)\n", stateName(state_), stateName(next), why);
#else
    (void)why;
#endif
    state_ = next;
  }

  bool inTransaction() const { return in_transaction_; }

  bool canCloseForShutdown() const {
    return !in_transaction_ && (state_ == State::kCommand || state_ == State::kAuthResponse ||
                                state_ == State::kSkipLine);
  }

  void resumeAfterPark(const char* why) {
    if (state_ == State::kClosed) return;
    wait_since_ = now_;
    enterState(State::kCommand, why);
    run();
  }

  // ---- output ----------------------------------------------------------------------------

  void queueAction(ActionKind kind, std::string_view data = {}) {
    if (state_ == State::kClosed) return;  // nothing follows kClose
    actions_.push_back(Action{kind, data});
  }

  // Appends reply text (complete CRLF-terminated lines) to out_ and publishes it, merging
  // it into a directly preceding kReply action so a pipelined batch is one write.
  void pushReplyText(std::string_view text) {
    if (state_ == State::kClosed) return;
    const char* old_base = out_.data();
    const size_t offset = out_.size();
    out_.append(text);
    publishReply(old_base, offset);
  }

  void publishReply(const char* old_base, size_t offset) {
    if (out_.data() != old_base) {
      // out_ moved: re-point the views already handed out in this batch.
      for (Action& a : actions_) {
        if (a.kind == ActionKind::kReply) {
          a.data = std::string_view(out_.data() + (a.data.data() - old_base), a.data.size());
        }
      }
    }
    const std::string_view added(out_.data() + offset, out_.size() - offset);
    if (!actions_.empty() && actions_.back().kind == ActionKind::kReply &&
        actions_.back().data.data() + actions_.back().data.size() == added.data()) {
      actions_.back().data = std::string_view(actions_.back().data.data(),
                                              actions_.back().data.size() + added.size());
    } else {
      actions_.push_back(Action{ActionKind::kReply, added});
    }
  }

  // Queues a reply from the table. `count` = false suppresses error counting (replies that
  // repeat an earlier failure, RFC 3030 section 2 discarded chunks).
  void reply(ReplyId id, std::string_view detail = {}, bool count = true) {
    if (state_ == State::kClosed) return;
    const char* old_base = out_.data();
    const size_t offset = out_.size();
    appendReply(out_, id, options_.hostname, detail);
    publishReply(old_base, offset);
    if (count && replySpec(id).counts_as_error) countError();
  }

  // A reply text supplied by the driver; replaced by `fallback` unless it is one
  // well-formed line of the expected class with an enhanced code (RFC 2034).
  void replyDriverText(const std::string& text, char want_class, ReplyId fallback) {
    if (!isAcceptableReplyLine(text, want_class)) {
      reply(fallback);
      return;
    }
    std::string line = text;
    line += "\r\n";
    pushReplyText(line);
    if (replySpec(fallback).counts_as_error) countError();
  }

  void countError() {
    ++stats_.errors;
    // RFC 5321 does not set a number; Postfix's smtpd_hard_error_limit is the model.
    if (options_.max_errors != 0 && stats_.errors >= options_.max_errors) {
      abortBody();
      wipeAuth();
      closeWith(ReplyId::kTooManyErrors);
    }
  }

  void closeWith(ReplyId id) {
    abortBody();
    reply(id, {}, false);
    close(stateName(state_));
  }

  // Every way out goes through here: an open body is aborted, credentials are wiped.
  void close(const char* why) {
    if (state_ == State::kClosed) return;
    abortBody();
    wipeAuth();
    queueAction(ActionKind::kClose);
    enterState(State::kClosed, why);
  }

  // ---- input buffer ----------------------------------------------------------------------

  bool bodyViewsOutstanding() const {
    for (const Action& a : actions_) {
      if (a.kind == ActionKind::kBodyData) return true;
    }
    return false;
  }

  // Drops consumed input. Never while body views into in_ are still queued (a driver that
  // keeps actions across calls keeps valid views), and releases a large buffer once idle.
  void compactInput() {
    if (bodyViewsOutstanding()) return;
    if (in_pos_ == in_.size()) {
      in_.clear();
    } else if (in_pos_ > 0) {
      // Move the unconsumed rest (a partial line: maybe an AUTH line) to the front and
      // zero the part of its old place that the move did not overwrite.
      const size_t old_size = in_.size();
      const size_t rest = old_size - in_pos_;
      std::memmove(in_.data(), in_.data() + in_pos_, rest);
      const size_t stale = std::max(rest, in_pos_);
      wipeBytes(in_.data() + stale, old_size - stale);
      in_.resize(rest);
    }
    in_pos_ = 0;
    if (in_.empty() && in_.capacity() > kIdleBufferCapacity && state_ != State::kData &&
        state_ != State::kBdatChunk) {
      std::string().swap(in_);
    }
  }

  void appendInput(std::string_view bytes) {
    const char* old_base = in_.data();
    const size_t old_size = in_.size();
    if (old_size + bytes.size() > in_.capacity()) {
      // Grow by hand so the old buffer is wiped before it is freed (it may hold part of an
      // AUTH line).
      std::string grown;
      grown.reserve(std::max(old_size + bytes.size(), 2 * in_.capacity()));
      grown.append(in_);
      grown.append(bytes);
      wipeBytes(in_.data(), old_size);
      in_.swap(grown);
    } else {
      in_.append(bytes);
    }
    if (in_.data() != old_base) {
      for (Action& a : actions_) {
        if (a.kind == ActionKind::kBodyData && a.data.data() >= old_base &&
            a.data.data() < old_base + old_size) {
          a.data = std::string_view(in_.data() + (a.data.data() - old_base), a.data.size());
        }
      }
    }
  }

  std::string_view available() const {
    return std::string_view(in_.data() + in_pos_, in_.size() - in_pos_);
  }

  // ---- the processing loop ---------------------------------------------------------------

  // Works through buffered input until it needs more, parks, or closes (RFC 2920: the
  // commands of a pipelined group are handled in order, one reply each).
  void run() {
    while (true) {
      if (shutdown_pending_ && canCloseForShutdown()) {
        closeWith(ReplyId::kShuttingDown);
        return;
      }
      bool progressed = false;
      switch (state_) {
        case State::kCommand:
          progressed = readCommand();
          break;
        case State::kSkipLine:
          progressed = skipLine();
          break;
        case State::kAuthResponse:
          progressed = readAuthResponse();
          break;
        case State::kData:
          progressed = readData();
          break;
        case State::kBdatChunk:
          progressed = readChunk();
          break;
        default:
          return;  // parked, closed or not started
      }
      if (!progressed) return;
    }
  }

  enum class LineStatus { kNeedMore, kLine, kHandled };

  size_t lineLimit(std::string_view line_prefix) const {
    if (state_ == State::kAuthResponse) return kMaxAuthLine;
    // RFC 4954 section 4: the AUTH command line (with its initial response) may be longer.
    return startsWithIgnoreCase(line_prefix, "AUTH ") ? kMaxAuthLine : kMaxCommandLine;
  }

  // Takes one line (without its line ending) from the input. A line ends at LF; a CR
  // before it is dropped (a bare LF is tolerated in command lines — never in DATA).
  // RFC 5321 4.5.3.1.4 / 4.5.3.1.10: an overlong line gets 500 5.5.2 once its end has
  // been seen, and is discarded without being buffered.
  LineStatus takeLine(std::string_view& line, size_t& consumed) {
    const std::string_view avail = available();
    const void* lf = std::memchr(avail.data(), '\n', avail.size());
    if (lf == nullptr) {
      if (avail.size() >= lineLimit(avail)) {
        // Even a line ending right now would be over the limit.
        wipeConsumedIfSecret(avail);
        in_pos_ = in_.size();
        enterState(State::kSkipLine, "overlong line");
        return LineStatus::kHandled;
      }
      return LineStatus::kNeedMore;
    }
    const size_t len = static_cast<size_t>(static_cast<const char*>(lf) - avail.data()) + 1;
    consumed = len;
    if (len > lineLimit(avail.substr(0, len))) {
      wipeConsumedIfSecret(avail.substr(0, len));
      in_pos_ += len;
      overlongLineDone();
      return LineStatus::kHandled;
    }
    line = avail.substr(0, len - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return LineStatus::kLine;
  }

  void wipeConsumedIfSecret(std::string_view bytes) {
    if (state_ == State::kAuthResponse || startsWithIgnoreCase(bytes, "AUTH ")) {
      wipeBytes(in_.data() + (bytes.data() - in_.data()), bytes.size());
      skipping_secret_ = true;  // for the rest of an overlong line
    }
  }

  void overlongLineDone() {
    if (auth_step_ != AuthStep::kNone) wipeAuth();  // the exchange is abandoned
    enterState(State::kCommand, "overlong line discarded");
    reply(ReplyId::kLineTooLong);
  }

  bool skipLine() {
    const std::string_view avail = available();
    if (avail.empty()) return false;
    const void* lf = std::memchr(avail.data(), '\n', avail.size());
    const size_t n = lf == nullptr ? avail.size()
                                   : static_cast<size_t>(static_cast<const char*>(lf) - avail.data()) + 1;
    if (skipping_secret_) wipeBytes(in_.data() + in_pos_, n);
    in_pos_ += n;
    if (lf == nullptr) return false;
    skipping_secret_ = false;
    overlongLineDone();
    return true;
  }

  bool readCommand() {
    std::string_view line;
    size_t consumed = 0;
    switch (takeLine(line, consumed)) {
      case LineStatus::kNeedMore:
        return false;
      case LineStatus::kHandled:
        return true;
      case LineStatus::kLine:
        break;
    }
    const size_t line_start = in_pos_;
    in_pos_ += consumed;
    dispatch(line);
    // The AUTH line may carry a password (initial response): wipe it from the buffer.
    if (startsWithIgnoreCase(line, "AUTH ")) wipeBytes(in_.data() + line_start, consumed);
    return true;
  }

  void dispatch(std::string_view line) {
    if (line.empty()) {
      reply(ReplyId::kEmptyCommand);
      return;
    }
    // RFC 5321 2.4: verbs are case-insensitive; arguments follow one SP.
    const size_t sp = line.find(' ');
    const std::string_view verb = line.substr(0, sp);
    const std::string_view args = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    const Command* cmd = nullptr;
    for (const Command& c : kCommands) {
      if (equalsIgnoreCase(verb, c.verb)) {
        cmd = &c;
        break;
      }
    }
    wait_since_ = now_;
    if (cmd == nullptr) {
      reply(ReplyId::kUnrecognized);
      return;
    }
    if ((cmd->flags & kLast) != 0 && bufferedBytes() > 0) ++stats_.pipelining_violations;
    if ((cmd->flags & kForbidden) != 0) {
      // Postfix smtpd_forbidden_commands: an HTTP client (cross-protocol request) is
      // told goodbye rather than answered line by line.
      reply(ReplyId::kForbiddenCommand);
      close("forbidden command");
      return;
    }
    if ((cmd->flags & kObsolete) != 0) {
      reply(ReplyId::kNotImplemented);
      return;
    }
    if ((cmd->flags & kOwnChecks) == 0 && !passesGate(cmd->flags)) return;
    if ((cmd->flags & kJunk) != 0) ++junk_commands_;
    (this->*(cmd->handler))(args);
    if ((cmd->flags & kJunk) != 0 && options_.max_junk_commands != 0 &&
        junk_commands_ > options_.max_junk_commands) {
      countError();
    }
  }

  // The PRE_TLS and HELO checks of the command table; replies and returns false on a miss.
  bool passesGate(uint16_t flags, bool count = true) {
    if (options_.require_tls && !tls_active_ && (flags & kPreTls) == 0) {
      reply(ReplyId::kMustStartTls, {}, count);  // RFC 3207 section 4
      return false;
    }
    if ((flags & kNeedHelo) != 0 && !has_helo_) {
      reply(ReplyId::kNeedHelo, {}, count);  // RFC 5321 4.1.4
      return false;
    }
    return true;
  }

  // ---- transaction -----------------------------------------------------------------------

  void openBody() {
    body_bytes_ = 0;
    discarding_ = false;
    body_refusal_ = ReplyId::kCount_;
    body_open_ = true;
    queueAction(ActionKind::kMessageBegin);
  }

  void abortBody() {
    if (!body_open_) return;
    body_open_ = false;
    queueAction(ActionKind::kMessageAbort);
  }

  // Resets the envelope of the transaction (RFC 5321 4.1.1.5 RSET, 4.1.4 EHLO); the
  // session-level fields (helo, esmtp, auth_identity) stay.
  void endTransaction() {
    MX_BUG(!body_open_, "smtp: transaction ended with an open body");
    in_transaction_ = false;
    rcpt_attempts_ = 0;
    bdat_seen_ = false;
    bdat_failure_ = ReplyId::kCount_;
    body_bytes_ = 0;
    discarding_ = false;
    envelope_.mail_from.clear();
    envelope_.declared_size = 0;
    envelope_.body = BodyType::kSevenBit;
    envelope_.smtputf8 = false;
    envelope_.chunked = false;
    envelope_.tls = false;
    if (envelope_.recipients.capacity() > 16) {
      std::vector<Recipient>().swap(envelope_.recipients);
    } else {
      envelope_.recipients.clear();
    }
  }

  void resetTransaction() {
    abortBody();
    endTransaction();
  }

  uint64_t sizeLimit() const { return options_.max_message_size; }

  // Body octets (already dot-unstuffed) for the open message. Enforces SIZE on the actual
  // body (RFC 1870 section 6.3): octets up to the limit are handed out, then the writer is
  // aborted and the rest of the body is discarded until its end, where 552 is sent.
  void bodyBytes(const char* p, size_t n) {
    if (discarding_ || n == 0) return;
    const uint64_t limit = sizeLimit();
    if (limit != 0 && n > limit - body_bytes_) {  // body_bytes_ <= limit always
      emitBody(p, static_cast<size_t>(limit - body_bytes_));
      body_bytes_ = limit;
      abortBody();
      discarding_ = true;
      body_refusal_ = ReplyId::kMessageTooBig;
      return;
    }
    emitBody(p, n);
    body_bytes_ += n;
  }

  void emitBody(const char* p, size_t n) {
    if (n == 0 || !body_open_) return;
    if (!actions_.empty() && actions_.back().kind == ActionKind::kBodyData &&
        actions_.back().data.data() + actions_.back().data.size() == p) {
      actions_.back().data = std::string_view(actions_.back().data.data(), actions_.back().data.size() + n);
      return;
    }
    queueAction(ActionKind::kBodyData, std::string_view(p, n));
  }

  void messageComplete() {
    ++messages_;
    queueAction(ActionKind::kMessageEnd);
    body_open_ = false;  // handed to the driver's commit
    commit_pending_ = true;
    enterState(State::kWaitCommit, "end of data");
  }

  void messageRefused(ReplyId id) {
    ++messages_;
    ++stats_.messages_rejected;
    abortBody();
    endTransaction();
    enterState(State::kCommand, "message refused");
    reply(id);
  }

  // ---- DATA (RFC 5321 4.1.1.4) -----------------------------------------------------------

  bool readData() {
    const std::string_view avail = available();
    if (avail.empty()) return false;
    const size_t used = scanner_.scan(avail, [this](const char* p, size_t n) { bodyBytes(p, n); });
    in_pos_ += used;
    if (!scanner_.done()) return false;
    wait_since_ = now_;
    if (body_refusal_ != ReplyId::kCount_) {
      messageRefused(body_refusal_);
    } else if (scanner_.sawBareLineEnding()) {
      // SMTP smuggling defence (docs/smtp.md): a message with a bare CR or LF is refused
      // as a whole, so neither side can be tricked into a second transaction.
      messageRefused(ReplyId::kBareLineEnding);
    } else if (scanner_.sawLongLine()) {
      // RFC 5321 4.5.3.1.6: text lines are at most 1000 octets with CRLF.
      messageRefused(ReplyId::kLongLine);
    } else {
      messageComplete();
    }
    return true;
  }

  // ---- BDAT (RFC 3030 section 2) ---------------------------------------------------------

  bool readChunk() {
    const std::string_view avail = available();
    const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_remaining_, avail.size()));
    if (n > 0) {
      if (chunk_refusal_ == ReplyId::kCount_) bodyBytes(avail.data(), n);
      in_pos_ += n;
      chunk_remaining_ -= n;
    }
    if (chunk_remaining_ > 0) return false;
    wait_since_ = now_;
    chunkComplete();
    return true;
  }

  void chunkComplete() {
    if (chunk_refusal_ != ReplyId::kCount_) {
      const ReplyId id = chunk_refusal_;
      const bool repeat = chunk_repeats_failure_;
      if (in_transaction_) {
        // RFC 3030 section 2: after a failed chunk the client sends no more; chunks
        // already pipelined are discarded until LAST, which ends the transaction.
        bdat_failure_ = id;
        if (chunk_last_) {
          ++messages_;
          ++stats_.messages_rejected;
          resetTransaction();
        }
      }
      enterState(State::kCommand, "chunk refused");
      reply(id, id == ReplyId::kSyntax ? "BDAT chunk-size [LAST]" : "", !repeat);
      return;
    }
    if (!chunk_last_) {
      // RFC 3030 section 2: each non-LAST chunk is acknowledged with its octet count.
      enterState(State::kCommand, "chunk received");
      reply(ReplyId::kChunkReceived, std::to_string(chunk_size_) + " octets received");
      return;
    }
    messageComplete();
  }

  void cmdBdat(std::string_view args) {
    // bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF; chunk-size = 1*DIGIT
    const size_t sp = args.find(' ');
    const std::string_view size_text = args.substr(0, sp);
    uint64_t size = 0;
    if (!parseDecimal(size_text, 20, size) || size == UINT64_MAX) {
      // Without a size the chunk's end cannot be found: any byte could then be taken as a
      // command. Close rather than guess (the same stance as on smuggling).
      closeWith(ReplyId::kBdatLostSync);
      return;
    }
    bool last = false;
    bool syntax_ok = true;
    if (sp != std::string_view::npos) {
      last = equalsIgnoreCase(args.substr(sp + 1), "LAST");
      syntax_ok = last;
    }
    // Decide the chunk's fate now; its octets are consumed either way (RFC 3030 section 2).
    chunk_refusal_ = ReplyId::kCount_;
    chunk_repeats_failure_ = false;
    chunk_remaining_ = size;
    chunk_last_ = last;
    chunk_size_ = size;
    if (!passesGateForChunk()) {
      // chunk_refusal_ set by passesGateForChunk()
    } else if (!options_.chunking) {
      // Not offered, but the octets are still taken so they never run as commands.
      chunk_refusal_ = ReplyId::kNotImplemented;
    } else if (!syntax_ok) {
      chunk_refusal_ = ReplyId::kSyntax;
    } else if (!in_transaction_) {
      chunk_refusal_ = ReplyId::kNeedMail;
    } else if (bdat_failure_ != ReplyId::kCount_) {
      chunk_refusal_ = bdat_failure_;
      chunk_repeats_failure_ = true;
    } else if (envelope_.recipients.empty()) {
      chunk_refusal_ = rcpt_attempts_ == 0 ? ReplyId::kNeedRcpt : ReplyId::kNoValidRecipients;
    } else if (sizeLimit() != 0 && size > sizeLimit() - body_bytes_) {
      // RFC 1870 / RFC 3030: the count is known up front, so the limit is checked before
      // a single octet of this chunk is spooled.
      abortBody();
      chunk_refusal_ = ReplyId::kMessageTooBig;
    } else {
      if (!bdat_seen_) {
        bdat_seen_ = true;
        envelope_.chunked = true;
        openBody();
      }
    }
    enterState(State::kBdatChunk, "BDAT");
  }

  bool passesGateForChunk() {
    if (options_.require_tls && !tls_active_) {
      chunk_refusal_ = ReplyId::kMustStartTls;
      return false;
    }
    if (!has_helo_) {
      chunk_refusal_ = ReplyId::kNeedHelo;
      return false;
    }
    return true;
  }

  // ---- commands --------------------------------------------------------------------------

  void cmdEhlo(std::string_view args) { helo(args, true); }
  void cmdHelo(std::string_view args) { helo(args, false); }

  void helo(std::string_view args, bool esmtp) {
    while (!args.empty() && args.back() == ' ') args.remove_suffix(1);
    // RFC 5321 4.1.1.1: "EHLO" SP ( Domain / address-literal ). Like Postfix's default,
    // any single printable token is taken (policy may judge it); nothing else is.
    bool ok = !args.empty() && args.size() <= kMaxHeloLength && isValidUtf8(args);
    for (char c : args) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u == 0x7F) ok = false;
    }
    if (!ok) {
      reply(ReplyId::kSyntax, esmtp ? "EHLO hostname" : "HELO hostname");
      return;
    }
    // RFC 5321 4.1.4: EHLO/HELO in a transaction resets it, like RSET.
    resetTransaction();
    has_helo_ = true;
    envelope_.helo.assign(args);
    envelope_.esmtp = esmtp;
    if (!esmtp) {
      std::string line = "250 ";
      line += options_.hostname;
      line += "\r\n";
      pushReplyText(line);
      return;
    }
    // RFC 5321 4.1.1.1 / 4.2.1: a multi-line 250 naming the extensions.
    std::array<std::string, 12> ext;
    size_t n = 0;
    ext[n++] = options_.hostname;
    ext[n++] = "PIPELINING";                                                    // RFC 2920
    ext[n++] = options_.max_message_size != 0
                   ? "SIZE " + std::to_string(options_.max_message_size)     // RFC 1870
                   : std::string("SIZE");
    if (options_.starttls_available && !tls_active_) ext[n++] = "STARTTLS";   // RFC 3207
    if (authOffered()) ext[n++] = "AUTH PLAIN LOGIN";                         // RFC 4954
    ext[n++] = "ENHANCEDSTATUSCODES";                                         // RFC 2034
    ext[n++] = "8BITMIME";                                                    // RFC 6152
    if (options_.chunking) {
      ext[n++] = "BINARYMIME";                                                // RFC 3030
      ext[n++] = "CHUNKING";
    }
    if (options_.smtputf8) ext[n++] = "SMTPUTF8";                             // RFC 6531
    std::string text;
    for (size_t i = 0; i < n; ++i) {
      text += i + 1 < n ? "250-" : "250 ";
      text += ext[i];
      text += "\r\n";
    }
    pushReplyText(text);
  }

  // RFC 4954 section 4 and DESIGN.md: AUTH is offered over TLS only, unless the listener
  // allows plaintext; never before the STARTTLS that require_tls demands.
  bool authOffered() const {
    if (!options_.auth_available) return false;
    if (options_.require_tls && !tls_active_) return false;
    return tls_active_ || options_.auth_plaintext_allowed;
  }

  void cmdMail(std::string_view args) {
    if (options_.max_messages != 0 && messages_ >= options_.max_messages) {
      closeWith(ReplyId::kTooManyMessages);
      return;
    }
    if (options_.auth_required && !authenticated_) {
      reply(ReplyId::kAuthRequired);  // RFC 4954 section 6: 530 5.7.0
      return;
    }
    if (in_transaction_) {
      reply(ReplyId::kNestedMail);  // RFC 5321 4.1.4
      return;
    }
    // "MAIL FROM:" Reverse-path [SP Mail-parameters]. A space after the colon is
    // tolerated (a common client habit; Postfix does the same).
    if (!startsWithIgnoreCase(args, "FROM:")) {
      reply(ReplyId::kSyntax, "MAIL FROM:<address>");
      return;
    }
    std::string_view rest = args.substr(5);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    PathRules rules;
    rules.allow_null = true;
    rules.allow_utf8 = true;  // judged below, once the SMTPUTF8 parameter is known
    const ParsedPath path = parsePath(rest, rules);
    if (!path.ok()) {
      reply(path.error == PathError::kTooLong ? ReplyId::kSenderTooLong : ReplyId::kBadSender);
      return;
    }
    ParamOffer offer;
    offer.chunking = options_.chunking;
    offer.smtputf8 = options_.smtputf8;
    const MailParams params = parseMailParams(path.rest, offer);
    if (!replyParamError(params.error, params.bad_keyword)) return;
    // RFC 6531 section 3.4: a non-ASCII reverse-path needs the SMTPUTF8 parameter.
    if (path.non_ascii && !params.smtputf8) {
      reply(ReplyId::kSenderNonAscii);
      return;
    }
    // RFC 1870 section 6.1: a declared size over the fixed limit gets 552 5.3.4.
    if (params.has_size && sizeLimit() != 0 && params.size > sizeLimit()) {
      reply(ReplyId::kSizeExceedsLimit);
      return;
    }
    in_transaction_ = true;
    rcpt_attempts_ = 0;
    envelope_.mail_from.assign(path.mailbox);
    envelope_.declared_size = params.has_size ? params.size : 0;
    envelope_.body = params.body;
    envelope_.smtputf8 = params.smtputf8;
    envelope_.chunked = false;
    envelope_.tls = tls_active_;
    envelope_.recipients.clear();
    reply(ReplyId::kMailOk);
  }

  // Replies for a parameter error; returns true when there is none.
  bool replyParamError(ParamError e, std::string_view keyword) {
    switch (e) {
      case ParamError::kNone:
        return true;
      case ParamError::kSyntax:
        reply(ReplyId::kParamSyntax);
        return false;
      case ParamError::kUnknown:
        reply(ReplyId::kParamUnknown, keyword);
        return false;
      case ParamError::kBadValue:
        reply(ReplyId::kParamBadValue, keyword);
        return false;
      case ParamError::kDuplicate:
        reply(ReplyId::kParamDuplicate, keyword);
        return false;
    }
    return false;
  }

  void cmdRcpt(std::string_view args) {
    if (!in_transaction_) {
      reply(ReplyId::kNeedMail);
      return;
    }
    if (bdat_seen_ || bdat_failure_ != ReplyId::kCount_) {
      // The envelope is final once the body has started (RFC 3030 section 2).
      reply(ReplyId::kDataAfterBdat);
      return;
    }
    if (!startsWithIgnoreCase(args, "TO:")) {
      reply(ReplyId::kSyntax, "RCPT TO:<address>");
      return;
    }
    std::string_view rest = args.substr(3);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    PathRules rules;
    rules.allow_postmaster = true;  // RFC 5321 4.1.1.3
    rules.allow_utf8 = envelope_.smtputf8;
    const ParsedPath path = parsePath(rest, rules);
    if (!path.ok()) {
      switch (path.error) {
        case PathError::kTooLong:
          reply(ReplyId::kRecipientTooLong);
          break;
        case PathError::kNonAscii:
          reply(ReplyId::kRecipientNonAscii);  // RFC 6531 section 3.4
          break;
        default:
          reply(ReplyId::kBadRecipient);
          break;
      }
      return;
    }
    const RcptParams params = parseRcptParams(path.rest);
    if (!replyParamError(params.error, params.bad_keyword)) return;
    ++rcpt_attempts_;
    // RFC 5321 4.5.3.1.8 / 4.5.3.1.10: 452 for recipients over the limit; the client
    // sends them in a later transaction. Not counted as a client error.
    if (envelope_.recipients.size() >= options_.max_recipients) {
      ++stats_.recipients_rejected;
      reply(ReplyId::kTooManyRecipients);
      return;
    }
    pending_recipient_.assign(path.mailbox);
    queueAction(ActionKind::kCheckRecipient);
    enterState(State::kWaitRecipient, "RCPT");
  }

  void cmdData(std::string_view args) {
    if (!args.empty()) {
      reply(ReplyId::kSyntax, "DATA");
      return;
    }
    if (!in_transaction_) {
      reply(ReplyId::kNeedMail);
      return;
    }
    if (bdat_seen_ || bdat_failure_ != ReplyId::kCount_) {
      reply(ReplyId::kDataAfterBdat);  // RFC 3030 section 2: no mixing in one transaction
      return;
    }
    if (envelope_.recipients.empty()) {
      // RFC 5321 3.3 and RFC 2920 section 3.1: 503 without any RCPT, 554 when every
      // recipient was refused (so a pipelined body is not taken).
      reply(rcpt_attempts_ == 0 ? ReplyId::kNeedRcpt : ReplyId::kNoValidRecipients);
      return;
    }
    if (envelope_.body == BodyType::kBinaryMime) {
      reply(ReplyId::kBinaryNeedsBdat);  // RFC 3030 section 3
      return;
    }
    reply(ReplyId::kStartData);
    openBody();
    scanner_.reset(options_.max_line_length);
    enterState(State::kData, "DATA");
  }

  void cmdRset(std::string_view args) {
    if (!args.empty()) {
      reply(ReplyId::kSyntax, "RSET");
      return;
    }
    resetTransaction();  // RFC 5321 4.1.1.5
    reply(ReplyId::kOk);
  }

  void cmdNoop(std::string_view) { reply(ReplyId::kOk); }  // RFC 5321 4.1.1.9: argument ignored

  void cmdQuit(std::string_view args) {
    if (!args.empty()) {
      reply(ReplyId::kSyntax, "QUIT");
      return;
    }
    resetTransaction();
    reply(ReplyId::kBye);  // RFC 5321 4.1.1.10
    close("QUIT");
  }

  void cmdVrfy(std::string_view args) {
    if (args.empty()) {
      reply(ReplyId::kSyntax, "VRFY address");
      return;
    }
    reply(ReplyId::kCannotVrfy);  // RFC 5321 3.5.3: 252, no address harvesting
  }

  void cmdExpn(std::string_view) { reply(ReplyId::kExpnDisabled); }  // RFC 5321 3.5.2
  void cmdHelp(std::string_view) { reply(ReplyId::kHelp); }          // RFC 5321 4.1.1.8

  void cmdStartTls(std::string_view args) {
    if (!args.empty()) {
      reply(ReplyId::kSyntax, "STARTTLS");  // RFC 3207 section 4: no parameters
      return;
    }
    if (tls_active_) {
      reply(ReplyId::kTlsActive);
      return;
    }
    if (!options_.starttls_available) {
      reply(ReplyId::kNotImplemented);
      return;
    }
    if (in_transaction_) {
      reply(ReplyId::kInTransaction);
      return;
    }
    reply(ReplyId::kReadyToStartTls);
    // RFC 3207 section 4.2 (and CVE-2011-0411): whatever the client pipelined after
    // STARTTLS is discarded, here and until tlsDone().
    in_pos_ = in_.size();
    queueAction(ActionKind::kStartTls);
    enterState(State::kWaitTls, "STARTTLS");
  }

  void cmdAuth(std::string_view args) {
    // RFC 4954 section 4 restrictions, in Postfix's order.
    if (!options_.auth_available) {
      reply(ReplyId::kAuthNotEnabled);
      return;
    }
    if (authenticated_) {
      reply(ReplyId::kAlreadyAuthenticated);
      return;
    }
    if (in_transaction_) {
      reply(ReplyId::kInTransaction);
      return;
    }
    const size_t sp = args.find(' ');
    const std::string_view mech = args.substr(0, sp);
    const bool has_ir = sp != std::string_view::npos;
    const std::string_view ir = has_ir ? args.substr(sp + 1) : std::string_view();
    if (mech.empty() || (has_ir && (ir.empty() || ir.find(' ') != std::string_view::npos))) {
      reply(ReplyId::kSyntax, "AUTH mechanism [initial-response]");
      return;
    }
    const bool plain = equalsIgnoreCase(mech, "PLAIN");
    const bool login = equalsIgnoreCase(mech, "LOGIN");
    // RFC 4954 section 4: AUTH ends a pipelined group, except PLAIN with an initial
    // response (one round trip, no security layer).
    if (!(plain && has_ir) && bufferedBytes() > 0) ++stats_.pipelining_violations;
    if (!plain && !login) {
      reply(ReplyId::kUnknownMechanism);
      return;
    }
    if (!tls_active_ && !options_.auth_plaintext_allowed) {
      // RFC 4954 section 6: 538 when the mechanism needs an encrypted channel. (AUTH is
      // then not advertised either; see docs/smtp.md.)
      reply(ReplyId::kEncryptionRequired);
      return;
    }
    auth_ = std::make_unique<AuthRequest>();
    auth_->mechanism = plain ? "PLAIN" : "LOGIN";
    if (plain) {
      if (!has_ir) {
        beginAuthStep(AuthStep::kPlainResponse, kPlainPrompt);
        return;
      }
      authPlainResponse(ir);
      return;
    }
    if (!has_ir) {
      beginAuthStep(AuthStep::kLoginUser, kLoginUserPrompt);
      return;
    }
    authLoginUser(ir);
  }

  void beginAuthStep(AuthStep step, std::string_view prompt) {
    auth_step_ = step;
    pushReplyText(prompt);
    enterState(State::kAuthResponse, "SASL challenge");
  }

  void authFail(ReplyId id) {
    wipeAuth();
    enterState(State::kCommand, "SASL exchange failed");
    reply(id);
  }

  void authPlainResponse(std::string_view b64) {
    std::optional<std::string> decoded = decodeSaslResponse(b64);
    if (!decoded) {
      authFail(ReplyId::kAuthBadBase64);
      return;
    }
    PlainCredentials creds;
    const bool ok = splitPlain(*decoded, creds);
    wipeString(*decoded);
    if (!ok) {
      wipeString(creds.password);
      authFail(ReplyId::kAuthMalformed);
      return;
    }
    auth_->authzid = std::move(creds.authzid);
    auth_->authcid = std::move(creds.authcid);
    auth_->password = std::move(creds.password);
    parkForAuth();
  }

  void authLoginUser(std::string_view b64) {
    std::optional<std::string> decoded = decodeSaslResponse(b64);
    if (!decoded) {
      authFail(ReplyId::kAuthBadBase64);
      return;
    }
    if (!isValidLoginField(*decoded)) {
      authFail(ReplyId::kAuthMalformed);
      return;
    }
    auth_->authcid = std::move(*decoded);
    beginAuthStep(AuthStep::kLoginPassword, kLoginPasswordPrompt);
  }

  void authLoginPassword(std::string_view b64) {
    std::optional<std::string> decoded = decodeSaslResponse(b64);
    if (!decoded) {
      authFail(ReplyId::kAuthBadBase64);
      return;
    }
    if (!isValidLoginField(*decoded)) {
      wipeString(*decoded);
      authFail(ReplyId::kAuthMalformed);
      return;
    }
    auth_->password = std::move(*decoded);
    parkForAuth();
  }

  void parkForAuth() {
    auth_step_ = AuthStep::kNone;
    queueAction(ActionKind::kCheckAuth);
    enterState(State::kWaitAuth, "credentials complete");
  }

  bool readAuthResponse() {
    std::string_view line;
    size_t consumed = 0;
    switch (takeLine(line, consumed)) {
      case LineStatus::kNeedMore:
        return false;
      case LineStatus::kHandled:
        return true;
      case LineStatus::kLine:
        break;
    }
    const size_t line_start = in_pos_;
    in_pos_ += consumed;
    wait_since_ = now_;
    if (line == "*") {
      authFail(ReplyId::kAuthAborted);  // RFC 4954 section 4: the client cancels
    } else {
      switch (auth_step_) {
        case AuthStep::kPlainResponse:
          authPlainResponse(line);
          break;
        case AuthStep::kLoginUser:
          authLoginUser(line);
          break;
        case AuthStep::kLoginPassword:
          authLoginPassword(line);
          break;
        case AuthStep::kNone:
          MX_BUG(false, "smtp: SASL response without an exchange");
          authFail(ReplyId::kAuthAborted);
          break;
      }
    }
    wipeBytes(in_.data() + line_start, consumed);
    return true;
  }

  void wipeAuth() {
    auth_step_ = AuthStep::kNone;
    if (auth_ == nullptr) return;
    wipeString(auth_->password);
    wipeString(auth_->authcid);
    wipeString(auth_->authzid);
    auth_.reset();
  }

  // ---- members ---------------------------------------------------------------------------

  const SessionOptions options_;
  Envelope envelope_;
  SessionStats stats_;

  std::string in_;         // received octets; [in_pos_, end) not yet consumed
  size_t in_pos_ = 0;
  std::string out_;        // reply text of the queued kReply actions
  std::vector<Action> actions_;

  std::string pending_recipient_;
  std::unique_ptr<AuthRequest> auth_;  // only during an AUTH exchange
  DataScanner scanner_;

  MonoTime now_;
  MonoTime wait_since_;    // start of the current command/data timeout
  uint64_t body_bytes_ = 0;
  uint64_t chunk_remaining_ = 0;
  uint64_t chunk_size_ = 0;

  uint32_t messages_ = 0;         // transactions that reached their end of data
  uint32_t rcpt_attempts_ = 0;    // RCPTs that were well-formed in this transaction
  uint32_t junk_commands_ = 0;

  State state_ = State::kNew;
  AuthStep auth_step_ = AuthStep::kNone;
  ReplyId body_refusal_ = ReplyId::kCount_;   // why the open DATA body will be refused
  ReplyId chunk_refusal_ = ReplyId::kCount_;  // why the current BDAT chunk is refused
  ReplyId bdat_failure_ = ReplyId::kCount_;   // the failure of this BDAT transaction
  bool tls_active_;
  bool has_helo_ = false;
  bool authenticated_ = false;
  bool in_transaction_ = false;
  bool body_open_ = false;        // kMessageBegin queued, no kMessageEnd/Abort yet
  bool discarding_ = false;       // body octets are consumed, not handed out
  bool bdat_seen_ = false;        // a BDAT chunk was accepted in this transaction
  bool chunk_last_ = false;
  bool chunk_repeats_failure_ = false;
  bool commit_pending_ = false;
  bool shutdown_pending_ = false;
  bool skipping_secret_ = false;  // the overlong line being skipped is an AUTH line
};

// The command table (Postfix smtpd_cmd_table). Order is lookup order.
// clang-format off
const Session::Impl::Command Session::Impl::kCommands[Session::Impl::kCommandCount] = {
  {"EHLO",     kPreTls | kLast,              &Impl::cmdEhlo},
  {"HELO",     kPreTls,                      &Impl::cmdHelo},
  {"MAIL",     kNeedHelo,                    &Impl::cmdMail},
  {"RCPT",     0,                            &Impl::cmdRcpt},
  {"DATA",     kLast,                        &Impl::cmdData},
  {"BDAT",     kOwnChecks,                   &Impl::cmdBdat},
  {"RSET",     kPreTls | kJunk,              &Impl::cmdRset},
  {"NOOP",     kPreTls | kJunk | kLast,      &Impl::cmdNoop},
  {"QUIT",     kPreTls | kLast,              &Impl::cmdQuit},
  {"VRFY",     kPreTls | kJunk | kLast,      &Impl::cmdVrfy},
  {"EXPN",     kPreTls | kJunk | kLast,      &Impl::cmdExpn},
  {"HELP",     kPreTls | kJunk,              &Impl::cmdHelp},
  {"STARTTLS", kPreTls | kNeedHelo | kLast,  &Impl::cmdStartTls},
  {"AUTH",     kNeedHelo,                    &Impl::cmdAuth},  // LAST, see cmdAuth
  // RFC 5321 4.1.5 / Appendix F: obsolete or unsupported commands.
  {"SEND",     kObsolete,                    nullptr},
  {"SOML",     kObsolete,                    nullptr},
  {"SAML",     kObsolete,                    nullptr},
  {"TURN",     kObsolete,                    nullptr},
  {"ETRN",     kObsolete,                    nullptr},
  {"ATRN",     kObsolete,                    nullptr},
  // Cross-protocol requests (Postfix smtpd_forbidden_commands).
  {"GET",      kForbidden,                   nullptr},
  {"POST",     kForbidden,                   nullptr},
  {"HEAD",     kForbidden,                   nullptr},
  {"PUT",      kForbidden,                   nullptr},
  {"CONNECT",  kForbidden,                   nullptr},
  {"OPTIONS",  kForbidden,                   nullptr},
};
// clang-format on

// ---- Session: forwarding ------------------------------------------------------------------

Session::Session(const SessionOptions& options, MonoTime now)
    : impl_(std::make_unique<Impl>(options, now)) {}
Session::~Session() = default;

void Session::start(MonoTime now) { impl_->start(now); }
void Session::refuse(std::string_view reply_line, MonoTime now) { impl_->refuse(reply_line, now); }
void Session::receive(std::string_view bytes, MonoTime now) { impl_->receive(bytes, now); }
void Session::peerClosed(MonoTime now) { impl_->peerClosed(now); }
void Session::tlsDone(bool ok, MonoTime now) { impl_->tlsDone(ok, now); }
void Session::recipientDone(const RecipientDecision& d, MonoTime now) { impl_->recipientDone(d, now); }
void Session::authDone(Verdict v, MonoTime now) { impl_->authDone(v, now); }
void Session::commitDone(const CommitResult& r, MonoTime now) { impl_->commitDone(r, now); }
MonoTime Session::deadline() const { return impl_->deadline(); }
void Session::onTimer(MonoTime now) { impl_->onTimer(now); }
void Session::shutdown(MonoTime now) { impl_->shutdown(now); }
const std::vector<Action>& Session::actions() const { return impl_->actions(); }
void Session::clearActions() { impl_->clearActions(); }
const std::string& Session::pendingRecipient() const { return impl_->pendingRecipient(); }
const AuthRequest& Session::pendingAuth() const { return impl_->pendingAuth(); }
const Envelope& Session::envelope() const { return impl_->envelope(); }
bool Session::closed() const { return impl_->closed(); }
const SessionStats& Session::stats() const { return impl_->stats(); }
size_t Session::bufferedBytes() const { return impl_->bufferedBytes(); }
bool Session::parked() const { return impl_->parked(); }

size_t Session::implSizeForTest() { return sizeof(Impl); }

}  // namespace mx::smtp
