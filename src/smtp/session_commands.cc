// smtp/session_commands.cc — the command table (after Postfix's smtpd_cmd_table) and the
// commands without a body: EHLO/HELO, MAIL and RCPT with the policy questions they park on
// (kAsk at kHelo, kMailFrom, kRcptTo; kConnect before the greeting) and the handling of
// their answers, then RSET, NOOP, QUIT, VRFY, EXPN, HELP and STARTTLS.
//
// Standards: RFC 5321 4.1.1 (the commands), 4.1.4 (their order), 3.3 (the transaction),
// 4.5.3.1 (limits), 3.1 (the greeting); RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 6531
// (SMTPUTF8), RFC 3207 (STARTTLS), RFC 2920 (PIPELINING).
//
// Trust: arguments are untrusted client text, parsed by address.h and params.h; verdicts
// come from our own policy code (verdict.h).
#include <string>

#include "core/assert.h"
#include "smtp/address.h"
#include "smtp/ascii.h"
#include "smtp/params.h"
#include "smtp/session_impl.h"

namespace mx::smtp {

using namespace detail;

// The command table. Order is lookup order.
// clang-format off
const Session::Impl::CommandSpec Session::Impl::kCommands[] = {
  {"EHLO",     kPreTls | kLast,              &Impl::cmdEhlo},
  {"HELO",     kPreTls,                      &Impl::cmdHelo},
  {"MAIL",     kNeedHelo,                    &Impl::cmdMail},
  {"RCPT",     0,                            &Impl::cmdRcpt},
  {"DATA",     kLast,                        &Impl::cmdData},
  {"BDAT",     kBdatFlags,                   &Impl::cmdBdat},
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

const Session::Impl::CommandSpec* Session::Impl::findCommand(std::string_view verb) {
  for (const CommandSpec& c : kCommands) {
    if (equalsIgnoreCase(verb, c.verb)) return &c;
  }
  return nullptr;
}

// ---- connect (RFC 5321 3.1) -----------------------------------------------------------------

void Session::Impl::connectAnswered(const Verdict& v) {
  if (!v.accepted()) {
    // The one refuse path: the verdict's reply (554 5.7.1, 421 4.7.0 ...) instead of the
    // greeting, then close; input is ignored from now on.
    closeWith(refusalOf(v, ReplyId::kConnectionRefused));
    return;
  }
  if (in_pos_ < in_.size()) {
    // RFC 5321 4.3.1: the client waits for the greeting. Bytes that came while the connect
    // question was pending (a listener's greet_delay holds it) mark a client that does not
    // speak SMTP as an MTA does — Postfix postscreen's pregreet test. Nothing of it is run.
    stats_.early_talker = true;
    enterState(Command{}, "early talker");
    closeWith(ReplyId::kEarlyTalker);
    return;
  }
  enterState(Command{}, "connect accepted");
  if (shutdown_pending_) {
    closeWith(ReplyId::kShuttingDown);  // drained while the question was pending
    return;
  }
  // RFC 5321 4.3.1 / 3.1: the greeting. No enhanced code (RFC 2034 applies after EHLO).
  emitReply([&](std::string& out) { appendGreeting(out, options_.hostname); });
}

// ---- EHLO / HELO (RFC 5321 4.1.1.1) ---------------------------------------------------------

void Session::Impl::cmdEhlo(std::string_view args) { helo(args, true); }
void Session::Impl::cmdHelo(std::string_view args) { helo(args, false); }

void Session::Impl::helo(std::string_view args, bool esmtp) {
  while (!args.empty() && args.back() == ' ') args.remove_suffix(1);
  // RFC 5321 4.1.1.1: "EHLO" SP ( Domain / address-literal ). Like Postfix's default,
  // any single printable token is taken (policy may judge it); nothing else is.
  bool ok = !args.empty() && args.size() <= kMaxHeloLength && isValidUtf8(args);
  for (char c : args) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) ok = false;
  }
  if (!ok) {
    reply(esmtp ? ReplyId::kSyntaxEhlo : ReplyId::kSyntaxHelo);
    return;
  }
  // RFC 5321 4.1.4: EHLO/HELO in a transaction resets it, like RSET — whatever the
  // policy then says about the name.
  resetTransaction();
  ask(PolicyStage::kHelo, std::string(args), nullptr, esmtp);
}

void Session::Impl::heloAnswered(const Verdict& v, Ask& a) {
  if (!v.accepted()) {
    // The session is without HELO until one is accepted (MAIL gets 503 5.5.1); an
    // earlier accepted name is replaced by this refused one, so it is gone too.
    has_helo_ = false;
    envelope_.helo.clear();
    envelope_.esmtp = false;
    refuseWith(refusalOf(v, ReplyId::kHeloRefused));
    return;
  }
  has_helo_ = true;
  envelope_.helo = std::move(a.argument);
  envelope_.esmtp = a.esmtp;
  if (!a.esmtp) {
    emitReply([&](std::string& out) { appendHeloReply(out, options_.hostname); });
    return;
  }
  // RFC 5321 4.1.1.1 / 4.2.1: a multi-line 250 naming the extensions.
  EhloOffer offer;
  offer.max_message_size = options_.max_message_size;
  offer.starttls = options_.starttls_available && !tls_active_;
  offer.auth = authOffered();
  offer.chunking = options_.chunking;
  offer.smtputf8 = options_.smtputf8;
  emitReply([&](std::string& out) { appendEhloReply(out, options_.hostname, offer); });
}

// RFC 4954 section 4 and DESIGN.md: AUTH is offered over TLS only, unless the listener
// allows plaintext; never before the STARTTLS that require_tls demands.
bool Session::Impl::authOffered() const {
  if (!options_.auth_available) return false;
  if (options_.require_tls && !tls_active_) return false;
  return tls_active_ || options_.auth_plaintext_allowed;
}

// ---- MAIL (RFC 5321 4.1.1.2) ----------------------------------------------------------------

void Session::Impl::cmdMail(std::string_view args) {
  if (options_.max_messages != 0 && messages_ >= options_.max_messages) {
    closeWith(ReplyId::kTooManyMessages);
    return;
  }
  if (options_.auth_required && !authenticated_) {
    reply(ReplyId::kAuthRequired);  // RFC 4954 section 6: 530 5.7.0
    return;
  }
  if (txn_) {
    reply(ReplyId::kNestedMail);  // RFC 5321 4.1.4
    return;
  }
  // "MAIL FROM:" Reverse-path [SP Mail-parameters]. A space after the colon is
  // tolerated (a common client habit; Postfix does the same).
  if (!startsWithIgnoreCase(args, "FROM:")) {
    reply(ReplyId::kSyntaxMail);
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
  // The parameters are in the envelope while the policy looks at the sender; mail_from
  // is set only once it is accepted.
  envelope_.resetTransaction();
  envelope_.declared_size = params.has_size ? params.size : 0;
  envelope_.body = params.body;
  envelope_.smtputf8 = params.smtputf8;
  ask(PolicyStage::kMailFrom, std::string(path.mailbox));
}

void Session::Impl::mailAnswered(const Verdict& v, Ask& a) {
  if (!v.accepted()) {
    envelope_.resetTransaction();  // no transaction was opened
    refuseWith(refusalOf(v, ReplyId::kSenderRefused));
    return;
  }
  txn_.emplace();
  envelope_.mail_from = std::move(a.argument);
  reply(ReplyId::kMailOk);
}

// Replies for a parameter error; returns true when there is none.
bool Session::Impl::replyParamError(ParamError e, std::string_view keyword) {
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

// ---- RCPT (RFC 5321 4.1.1.3) ----------------------------------------------------------------

void Session::Impl::cmdRcpt(std::string_view args) {
  if (!txn_) {
    reply(ReplyId::kNeedMail);
    return;
  }
  if (txn_->bdat_seen || txn_->bdat_failure != ReplyId::kCount_) {
    // The envelope is final once the body has started (RFC 3030 section 2).
    reply(ReplyId::kDataAfterBdat);
    return;
  }
  if (!startsWithIgnoreCase(args, "TO:")) {
    reply(ReplyId::kSyntaxRcpt);
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
  ++txn_->rcpt_attempts;
  // RFC 5321 4.5.3.1.8 / 4.5.3.1.10: 452 for recipients over the limit; the client
  // sends them in a later transaction. Not counted as a client error.
  if (envelope_.rcpt_to.size() >= options_.max_recipients) {
    ++stats_.recipients_rejected;
    reply(ReplyId::kTooManyRecipients);
    return;
  }
  ask(PolicyStage::kRcptTo, std::string(path.mailbox));
}

void Session::Impl::rcptAnswered(const Verdict& v, Ask& a) {
  if (!txn_) {
    MX_BUG(false, "smtp: RCPT answered outside a transaction");
    return;
  }
  if (!v.accepted()) {
    ++stats_.recipients_rejected;
    refuseWith(refusalOf(v, ReplyId::kRecipientPermFail));
    return;
  }
  // The first accepted recipient's tenant is the transaction's; each recipient keeps its
  // own (a message for several tenants is committed as one copy per tenant).
  if (envelope_.rcpt_to.empty()) envelope_.tenant = v.tenant();
  envelope_.rcpt_to.push_back(std::move(a.argument));
  envelope_.rcpt_tenants.push_back(v.tenant());
  ++stats_.recipients_accepted;
  reply(ReplyId::kRcptOk);
}

// ---- the end of a transaction ---------------------------------------------------------------

// Resets the envelope of the transaction (RFC 5321 4.1.1.5 RSET, 4.1.4 EHLO); the
// session-level fields (helo, esmtp, auth_user) and the driver's connection fields stay.
void Session::Impl::endTransaction() {
  MX_BUG(!txn_ || !txn_->body_open, "smtp: transaction ended with an open body");
  txn_.reset();
  envelope_.resetTransaction();
  if (envelope_.rcpt_to.capacity() > 16) std::vector<std::string>().swap(envelope_.rcpt_to);
}

void Session::Impl::resetTransaction() {
  abortBody();
  endTransaction();
}

// ---- the other commands ---------------------------------------------------------------------

void Session::Impl::cmdRset(std::string_view args) {
  if (!args.empty()) {
    reply(ReplyId::kSyntaxRset);
    return;
  }
  resetTransaction();  // RFC 5321 4.1.1.5
  reply(ReplyId::kOk);
}

void Session::Impl::cmdNoop(std::string_view) { reply(ReplyId::kOk); }  // RFC 5321 4.1.1.9: argument ignored

void Session::Impl::cmdQuit(std::string_view args) {
  if (!args.empty()) {
    reply(ReplyId::kSyntaxQuit);
    return;
  }
  resetTransaction();
  reply(ReplyId::kBye);  // RFC 5321 4.1.1.10
  close("QUIT");
}

void Session::Impl::cmdVrfy(std::string_view args) {
  if (args.empty()) {
    reply(ReplyId::kSyntaxVrfy);
    return;
  }
  reply(ReplyId::kCannotVrfy);  // RFC 5321 3.5.3: 252, no address harvesting
}

void Session::Impl::cmdExpn(std::string_view) { reply(ReplyId::kExpnDisabled); }  // RFC 5321 3.5.2
void Session::Impl::cmdHelp(std::string_view) { reply(ReplyId::kHelp); }          // RFC 5321 4.1.1.8

void Session::Impl::cmdStartTls(std::string_view args) {
  if (!args.empty()) {
    reply(ReplyId::kSyntaxStartTls);  // RFC 3207 section 4: no parameters
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
  if (txn_) {
    reply(ReplyId::kInTransaction);
    return;
  }
  reply(ReplyId::kReadyToStartTls);
  // RFC 3207 section 4.2 (and CVE-2011-0411): whatever the client pipelined after
  // STARTTLS is discarded, here and until tlsDone().
  in_pos_ = in_.size();
  queueAction(ActionKind::kStartTls);
  enterState(WaitTls{}, "STARTTLS");
}

}  // namespace mx::smtp
