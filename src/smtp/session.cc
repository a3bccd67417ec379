// smtp/session.cc — the SMTP server session (see session.h): the public entry points, the
// one state-change function, reply output, the input buffer, the line reader, and command
// dispatch through the flag table with the TLS/HELO gate. The commands live in
// session_commands.cc, DATA/BDAT in session_body.cc, AUTH in session_auth.cc; the shared
// state is in session_impl.h.
//
// Standards: RFC 5321 sections 3 and 4 (commands, sequencing, replies, limits), RFC 2920
// (PIPELINING), RFC 2034 and RFC 3463 (enhanced status codes), RFC 3207 (STARTTLS).
// Each rule is cited where applied.
//
// Trust: all input bytes are untrusted. The input buffer holds at most one partial command
// line (512 octets, 12288 for AUTH) beyond what the driver handed in; overlong lines are
// discarded to their end; body octets are handed out as views and never accumulated.
// Driver answers are verdicts naming entries of the reply table (verdict.h): no reply text
// comes from outside src/smtp/reply.*.
#include "smtp/session.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include "core/assert.h"
#include "smtp/ascii.h"
#include "smtp/sasl.h"
#include "smtp/session_impl.h"

namespace mx::smtp {

using namespace detail;

namespace {

constexpr const char* kStateNames[] = {"new",   "command", "skip-line",   "sasl",     "data",
                                       "bdat",  "ask",     "wait-commit", "wait-tls", "closed"};
static_assert(std::size(kStateNames) == static_cast<size_t>(State::kCount_));

constexpr uint32_t bit(State s) { return 1u << static_cast<unsigned>(s); }

// The legal transitions; enterState() checks every change against this table. Every state
// but kClosed may close.
constexpr std::array<uint32_t, static_cast<size_t>(State::kCount_)> kTransitions = [] {
  std::array<uint32_t, static_cast<size_t>(State::kCount_)> t{};
  auto allow = [&t](State from, uint32_t to) { t[static_cast<size_t>(from)] = to | bit(State::kClosed); };
  allow(State::kNew, bit(State::kAsk) | bit(State::kCommand));
  allow(State::kCommand, bit(State::kCommand) | bit(State::kSkipLine) | bit(State::kSasl) |
                             bit(State::kData) | bit(State::kBdat) | bit(State::kAsk) |
                             bit(State::kWaitTls));
  allow(State::kSkipLine, bit(State::kCommand));
  allow(State::kSasl, bit(State::kSasl) | bit(State::kCommand) | bit(State::kSkipLine) | bit(State::kAsk));
  allow(State::kData, bit(State::kCommand) | bit(State::kWaitCommit));
  allow(State::kBdat, bit(State::kCommand) | bit(State::kWaitCommit));
  allow(State::kAsk, bit(State::kCommand));
  allow(State::kWaitCommit, bit(State::kCommand));
  allow(State::kWaitTls, bit(State::kCommand));
  t[static_cast<size_t>(State::kClosed)] = 0;
  return t;
}();

const AuthRequest kNoAuthRequest{};
const std::string kNoArgument{};

}  // namespace

void WipeAuth::operator()(AuthRequest* r) const {
  wipeString(r->password);
  wipeString(r->authcid);
  wipeString(r->authzid);
  delete r;
}

// ---- construction ---------------------------------------------------------------------------

Session::Impl::Impl(const SessionOptions& options, MonoTime now)
    : options_(options), now_(now), wait_since_(now), tls_active_(options.tls_active) {}

Session::Impl::~Impl() {
  // Unconsumed input may hold the start of an AUTH line. (Credentials in the mode are
  // wiped by their deleter.)
  wipeBytes(in_.data(), in_.size());
}

// ---- public entry points --------------------------------------------------------------------

void Session::Impl::start(MonoTime now) {
  now_ = now;
  if (!is<New>()) {
    MX_BUG(false, "smtp: start() called twice");
    return;
  }
  wait_since_ = now;
  if (shutdown_pending_) {
    // Draining before the connection was even looked at: no question, no greeting.
    enterState(Command{}, "start while draining");
    closeWith(ReplyId::kShuttingDown);
    return;
  }
  ask(PolicyStage::kConnect, {});
}

void Session::Impl::receive(std::string_view bytes, MonoTime now) {
  now_ = now;
  if (is<New>() || is<Closed>()) return;
  if (is<WaitTls>()) {
    // RFC 3207 section 4.2 / Postfix CVE-2011-0411: plaintext pipelined after STARTTLS
    // is never executed. Nothing sent before tlsDone() can be TLS payload.
    return;
  }
  if (bytes.empty()) return;
  compactInput();
  appendInput(bytes);
  if (is<Data>() || is<Bdat>()) {
    // RFC 5321 4.5.3.2.5: the data block timeout restarts with each received block.
    wait_since_ = now;
  }
  run();
}

void Session::Impl::peerClosed(MonoTime now) {
  now_ = now;
  if (is<New>() || is<Closed>()) return;
  close("peer closed");
}

void Session::Impl::tlsDone(bool ok, MonoTime now) {
  now_ = now;
  if (!is<WaitTls>()) {
    if (!closed()) MX_BUG(false, "smtp: tlsDone() without kStartTls");
    return;
  }
  if (!ok) {
    // The connection is in an unknown state: no reply can be sent in the clear.
    close("TLS handshake failed");
    return;
  }
  // RFC 3207 section 4.2: discard all knowledge obtained from the client before TLS;
  // the client must send EHLO again. (The driver sets the envelope's TLS fields.)
  tls_active_ = true;
  has_helo_ = false;
  authenticated_ = false;
  endTransaction();
  envelope_.helo.clear();
  envelope_.esmtp = false;
  envelope_.auth_user.clear();
  in_pos_ = in_.size();  // (already discarded: nothing is buffered after STARTTLS)
  compactInput();
  wait_since_ = now;
  enterState(Command{}, "TLS established");
  run();
}

void Session::Impl::answer(const Verdict& v, MonoTime now) {
  now_ = now;
  Ask* pending = std::get_if<Ask>(&mode_);
  if (pending == nullptr) {
    if (!closed()) MX_BUG(false, "smtp: answer() without kAsk");
    return;
  }
  // Take the question out of the mode: the handlers change the mode.
  Ask a = std::move(*pending);
  switch (a.stage) {
    case PolicyStage::kConnect:
      connectAnswered(v);
      break;
    case PolicyStage::kHelo:
      heloAnswered(v, a);
      break;
    case PolicyStage::kMailFrom:
      mailAnswered(v, a);
      break;
    case PolicyStage::kRcptTo:
      rcptAnswered(v, a);
      break;
    case PolicyStage::kAuth:
      authAnswered(v, a);
      break;
  }
  // Never keep the password longer than the decision needs it, not even while the
  // buffered commands run.
  a.auth.reset();
  resumeAfterPark("answered");
}

void Session::Impl::commitDone(const CommitResult& r, MonoTime now) {
  now_ = now;
  if (!commit_pending_) {
    MX_BUG(closed(), "smtp: commitDone() without kMessageEnd");
    return;
  }
  commit_pending_ = false;
  const bool gone = closed();  // the peer left while we committed: count, do not reply
  if (r.verdict.accepted()) {
    ++stats_.messages_accepted;
    stats_.bytes_accepted += txn_ ? txn_->body_bytes : 0;
    junk_commands_ = 0;
    if (!gone) reply(ReplyId::kQueued, r.id.toString());
  } else {
    ++stats_.messages_rejected;
    if (!gone) refuseWith(refusalOf(r.verdict, ReplyId::kCommitPermFail));
  }
  if (closed()) return;
  // RFC 5321 4.1.1.4: after the end of data the transaction is over; EHLO and AUTH
  // state are kept.
  endTransaction();
  resumeAfterPark("commit answered");
}

MonoTime Session::Impl::deadline() const {
  if (is<Command>() || is<SkipLine>() || is<Sasl>()) {
    // RFC 5321 4.5.3.2.7 gives 5 minutes per command; before the first EHLO/HELO and
    // between transactions the operator may shed silent connections sooner.
    Millis t = options_.command_timeout;
    if (!has_helo_ && options_.greeting_timeout.count() > 0) {
      t = options_.greeting_timeout;
    } else if (has_helo_ && !txn_ && options_.idle_timeout.count() > 0) {
      t = options_.idle_timeout;
    }
    return wait_since_ + t;
  }
  if (is<Data>() || is<Bdat>()) return wait_since_ + options_.data_timeout;
  // Not started, parked on the driver (which bounds its own work), or closed.
  return MonoTime::max();
}

void Session::Impl::onTimer(MonoTime now) {
  now_ = now;
  if (now < deadline()) return;
  // RFC 5321 4.5.3.2: the server times out and closes with 421.
  closeWith(ReplyId::kTimeout);
}

void Session::Impl::shutdown(MonoTime now) {
  now_ = now;
  if (closed()) return;
  shutdown_pending_ = true;
  if (is<New>()) return;  // start() sends the 421 instead of the greeting
  // While the connect question is pending the answer sends the 421 (or the refusal).
  if (canCloseForShutdown()) closeWith(ReplyId::kShuttingDown);
}

void Session::Impl::clearActions() {
  actions_.clear();
  out_.clear();
  if (out_.capacity() > kIdleBufferCapacity) std::string().swap(out_);
  compactInput();
}

PolicyStage Session::Impl::pendingStage() const {
  const Ask* a = std::get_if<Ask>(&mode_);
  return a != nullptr ? a->stage : PolicyStage::kConnect;
}

const std::string& Session::Impl::pendingArgument() const {
  const Ask* a = std::get_if<Ask>(&mode_);
  return a != nullptr ? a->argument : kNoArgument;
}

const AuthRequest& Session::Impl::pendingAuth() const {
  const Ask* a = std::get_if<Ask>(&mode_);
  return (a != nullptr && a->auth != nullptr) ? *a->auth : kNoAuthRequest;
}

// ---- state ----------------------------------------------------------------------------------

// Every state change goes through here (after OpenSMTPD's smtp_enter_state): it checks the
// change against kTransitions and traces it when built with -DMX_SMTP_TRACE. The data of
// the state left is destroyed (credentials wiped) once the new one is in place.
void Session::Impl::enterState(Mode next, const char* why) {
  if (closed()) return;  // terminal
  const auto from = static_cast<size_t>(mode_.index());
  const auto to = static_cast<State>(next.index());
  const bool legal = (kTransitions[from] & bit(to)) != 0;
  MX_BUG(legal, "smtp: illegal session state transition");
  if (!legal) return;
#ifdef MX_SMTP_TRACE
  std::fprintf(stderr, "smtp: %s -> %s (%s)\n", kStateNames[from], kStateNames[next.index()], why);
#else
  (void)why;
#endif
  mode_ = std::move(next);
}

bool Session::Impl::canCloseForShutdown() const {
  return !txn_ && (is<Command>() || is<Sasl>() || is<SkipLine>());
}

void Session::Impl::resumeAfterPark(const char* why) {
  if (closed()) return;
  wait_since_ = now_;
  if (!is<Command>()) enterState(Command{}, why);
  run();
}

// Queues the question and parks until answer(). Pipelined input stays buffered.
void Session::Impl::ask(PolicyStage stage, std::string argument, AuthPtr auth, bool esmtp) {
  if (closed()) return;
  actions_.push_back(Action{ActionKind::kAsk, {}, stage});
  Ask a;
  a.stage = stage;
  a.esmtp = esmtp;
  a.argument = std::move(argument);
  a.auth = std::move(auth);
  enterState(std::move(a), "ask");
}

// ---- output ---------------------------------------------------------------------------------

void Session::Impl::queueAction(ActionKind kind, std::string_view data) {
  if (closed()) return;  // nothing follows kClose
  actions_.push_back(Action{kind, data});
}

void Session::Impl::publishReply(const char* old_base, size_t offset) {
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
    actions_.back().data = std::string_view(actions_.back().data.data(), actions_.back().data.size() + added.size());
  } else {
    actions_.push_back(Action{ActionKind::kReply, added});
  }
}

// Queues a reply from the table. `count` = false suppresses error counting (replies that
// repeat an earlier failure, RFC 3030 section 2 discarded chunks).
void Session::Impl::reply(ReplyId id, std::string_view detail, bool count) {
  if (closed()) return;
  emitReply([&](std::string& out) { appendReply(out, id, options_.hostname, detail); });
  if (count && replySpec(id).counts_as_error) countError();
}

// The reply a refusing verdict names, if it is a 4xx/5xx entry; else the stage's default
// (a programming error in the policy code: debug-asserted).
ReplyId Session::Impl::refusalOf(const Verdict& v, ReplyId fallback) const {
  const bool valid = isRefusal(v.reply());
  MX_DEBUG_ASSERT(valid);
  return valid ? v.reply() : fallback;
}

// Sends a refusal. RFC 5321 3.8: a 421 announces that the server closes the channel, so a
// verdict naming one (too many connections, shutting down) closes after it.
void Session::Impl::refuseWith(ReplyId id) {
  if (replySpec(id).code == 421) {
    closeWith(id);
    return;
  }
  reply(id);
}

void Session::Impl::countError() {
  ++stats_.errors;
  // RFC 5321 does not set a number; Postfix's smtpd_hard_error_limit is the model.
  if (options_.max_errors != 0 && stats_.errors >= options_.max_errors) closeWith(ReplyId::kTooManyErrors);
}

void Session::Impl::closeWith(ReplyId id) {
  abortBody();
  reply(id, {}, false);
  close("closing reply");
}

// Every way out goes through here: an open body is aborted; entering kClosed destroys the
// mode's data, which wipes credentials.
void Session::Impl::close(const char* why) {
  if (closed()) return;
  abortBody();
  queueAction(ActionKind::kClose);
  enterState(Closed{}, why);
}

// ---- input buffer ---------------------------------------------------------------------------

bool Session::Impl::bodyViewsOutstanding() const {
  for (const Action& a : actions_) {
    if (a.kind == ActionKind::kBodyData) return true;
  }
  return false;
}

// Drops consumed input. Never while body views into in_ are still queued (a driver that
// keeps actions across calls keeps valid views), and releases a large buffer once idle.
void Session::Impl::compactInput() {
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
  if (in_.empty() && in_.capacity() > kIdleBufferCapacity && !is<Data>() && !is<Bdat>()) {
    std::string().swap(in_);
  }
}

void Session::Impl::appendInput(std::string_view bytes) {
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
      if (a.kind == ActionKind::kBodyData && a.data.data() >= old_base && a.data.data() < old_base + old_size) {
        a.data = std::string_view(in_.data() + (a.data.data() - old_base), a.data.size());
      }
    }
  }
}

// ---- the processing loop --------------------------------------------------------------------

// Works through buffered input until it needs more, parks, or closes (RFC 2920: the
// commands of a pipelined group are handled in order, one reply each).
void Session::Impl::run() {
  while (true) {
    if (shutdown_pending_ && canCloseForShutdown()) {
      closeWith(ReplyId::kShuttingDown);
      return;
    }
    bool progressed = false;
    switch (static_cast<State>(mode_.index())) {
      case State::kCommand:
        progressed = readCommand();
        break;
      case State::kSkipLine:
        progressed = skipLine();
        break;
      case State::kSasl:
        progressed = readAuthResponse();
        break;
      case State::kData:
        progressed = readData();
        break;
      case State::kBdat:
        progressed = readChunk();
        break;
      default:
        return;  // parked, closed or not started
    }
    if (!progressed) return;
  }
}

size_t Session::Impl::lineLimit(std::string_view line_prefix) const {
  if (is<Sasl>()) return kMaxAuthLine;
  // RFC 4954 section 4: the AUTH command line (with its initial response) may be longer.
  return startsWithIgnoreCase(line_prefix, "AUTH ") ? kMaxAuthLine : kMaxCommandLine;
}

// Takes one line (without its line ending) from the input. A line ends at LF; a CR
// before it is dropped (a bare LF is tolerated in command lines, as Postfix does).
// RFC 5321 4.5.3.1.4 / 4.5.3.1.10: an overlong line gets 500 5.5.2 once its end has
// been seen, and is discarded without being buffered.
Session::Impl::LineStatus Session::Impl::takeLine(std::string_view& line, size_t& consumed) {
  const std::string_view avail = available();
  const void* lf = std::memchr(avail.data(), '\n', avail.size());
  if (lf == nullptr) {
    if (avail.size() >= lineLimit(avail)) {
      // Even a line ending right now would be over the limit.
      const bool secret = is<Sasl>() || startsWithIgnoreCase(avail, "AUTH ");
      wipeConsumedIfSecret(avail);
      in_pos_ = in_.size();
      enterState(SkipLine{secret}, "overlong line");
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

void Session::Impl::wipeConsumedIfSecret(std::string_view bytes) {
  if (is<Sasl>() || startsWithIgnoreCase(bytes, "AUTH ")) {
    wipeBytes(in_.data() + (bytes.data() - in_.data()), bytes.size());
  }
}

// An overlong line ended: the SASL exchange it was part of (if any) is abandoned.
void Session::Impl::overlongLineDone() {
  enterState(Command{}, "overlong line discarded");
  reply(ReplyId::kLineTooLong);
}

bool Session::Impl::skipLine() {
  const std::string_view avail = available();
  if (avail.empty()) return false;
  const void* lf = std::memchr(avail.data(), '\n', avail.size());
  const size_t n = lf == nullptr ? avail.size()
                                 : static_cast<size_t>(static_cast<const char*>(lf) - avail.data()) + 1;
  if (std::get<SkipLine>(mode_).secret) wipeBytes(in_.data() + in_pos_, n);
  in_pos_ += n;
  if (lf == nullptr) return false;
  overlongLineDone();
  return true;
}

bool Session::Impl::readCommand() {
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
  const bool secret = startsWithIgnoreCase(line, "AUTH ");
  dispatch(line);
  // The AUTH line may carry a password (initial response): wipe it from the buffer.
  if (secret) wipeBytes(in_.data() + line_start, consumed);
  return true;
}

void Session::Impl::dispatch(std::string_view line) {
  if (line.empty()) {
    reply(ReplyId::kEmptyCommand);
    return;
  }
  // RFC 5321 2.4: verbs are case-insensitive; arguments follow one SP.
  const size_t sp = line.find(' ');
  const std::string_view verb = line.substr(0, sp);
  const std::string_view args = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  const CommandSpec* cmd = findCommand(verb);
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
  if ((cmd->flags & kOwnChecks) == 0) {
    const ReplyId refused = gateRefusal(cmd->flags);
    if (refused != ReplyId::kCount_) {
      reply(refused);
      return;
    }
  }
  if ((cmd->flags & kJunk) != 0) ++junk_commands_;
  (this->*(cmd->handler))(args);
  if ((cmd->flags & kJunk) != 0 && options_.max_junk_commands != 0 &&
      junk_commands_ > options_.max_junk_commands) {
    countError();
  }
}

// The PRE_TLS and HELO checks of the command table, in one place for every command (BDAT
// included, which applies the result to its chunk). kCount_ when the command may run.
ReplyId Session::Impl::gateRefusal(uint16_t flags) const {
  if (options_.require_tls && !tls_active_ && (flags & kPreTls) == 0) return ReplyId::kMustStartTls;  // RFC 3207 4
  if ((flags & kNeedHelo) != 0 && !has_helo_) return ReplyId::kNeedHelo;  // RFC 5321 4.1.4
  return ReplyId::kCount_;
}

// ---- Session: forwarding --------------------------------------------------------------------

Session::Session(const SessionOptions& options, MonoTime now) : impl_(std::make_unique<Impl>(options, now)) {}
Session::~Session() = default;

void Session::start(MonoTime now) { impl_->start(now); }
void Session::receive(std::string_view bytes, MonoTime now) { impl_->receive(bytes, now); }
void Session::peerClosed(MonoTime now) { impl_->peerClosed(now); }
void Session::tlsDone(bool ok, MonoTime now) { impl_->tlsDone(ok, now); }
void Session::answer(const Verdict& v, MonoTime now) { impl_->answer(v, now); }
void Session::commitDone(const CommitResult& r, MonoTime now) { impl_->commitDone(r, now); }
MonoTime Session::deadline() const { return impl_->deadline(); }
void Session::onTimer(MonoTime now) { impl_->onTimer(now); }
void Session::shutdown(MonoTime now) { impl_->shutdown(now); }
const std::vector<Action>& Session::actions() const { return impl_->actions(); }
void Session::clearActions() { impl_->clearActions(); }
PolicyStage Session::pendingStage() const { return impl_->pendingStage(); }
const std::string& Session::pendingArgument() const { return impl_->pendingArgument(); }
const AuthRequest& Session::pendingAuth() const { return impl_->pendingAuth(); }
const Envelope& Session::envelope() const { return impl_->envelope(); }
Envelope& Session::envelope() { return impl_->envelope(); }
bool Session::closed() const { return impl_->closed(); }
const SessionStats& Session::stats() const { return impl_->stats(); }
size_t Session::bufferedBytes() const { return impl_->bufferedBytes(); }
bool Session::parked() const { return impl_->parked(); }

size_t Session::implSizeForTest() { return sizeof(Impl); }

}  // namespace mx::smtp
