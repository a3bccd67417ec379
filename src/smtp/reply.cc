// smtp/reply.cc — the reply table (see reply.h). One place maps each situation to code,
// enhanced code and text; docs/smtp.md carries the same table for operators.
// Trust: constant data; the host name comes from configuration and details are tokens the
// caller validated.
#include "smtp/reply.h"

#include <array>

#include "smtp/ascii.h"

namespace mx::smtp {
namespace {

constexpr size_t kReplyCount = static_cast<size_t>(ReplyId::kCount_);

struct Entry {
  ReplyId id;
  std::string_view name;
  ReplySpec spec;
};

constexpr unsigned kHost = 1;    // the 421 family: "<code> <enhanced> <host> <text>"
constexpr unsigned kCounts = 2;  // counts towards max_errors

constexpr Entry E(ReplyId id, std::string_view name, uint16_t code, std::string_view enhanced,
                  std::string_view text, unsigned flags = 0, std::string_view after = {}) {
  return Entry{id, name, ReplySpec{code, enhanced, text, after, (flags & kHost) != 0, (flags & kCounts) != 0}};
}

// clang-format off
constexpr Entry kEntries[] = {
  E(ReplyId::kOk,                 "Ok",                 250, "2.0.0", "Ok"),
  E(ReplyId::kMailOk,             "MailOk",             250, "2.1.0", "Ok"),
  E(ReplyId::kRcptOk,             "RcptOk",             250, "2.1.5", "Ok"),
  E(ReplyId::kQueued,             "Queued",             250, "2.0.0", "Ok: queued as "),
  // RFC 3030 section 2: each non-LAST chunk is acknowledged.
  E(ReplyId::kChunkReceived,      "ChunkReceived",      250, "2.0.0", "", 0, " octets received"),
  E(ReplyId::kStartData,          "StartData",          354, "", "End data with <CR><LF>.<CR><LF>"),
  E(ReplyId::kBye,                "Bye",                221, "2.0.0", "Bye"),
  // RFC 5321 3.5.3: 252 when the server will not verify but will attempt delivery.
  E(ReplyId::kCannotVrfy,         "CannotVrfy",         252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery"),
  E(ReplyId::kHelp,               "Help",               214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH"),
  E(ReplyId::kReadyToStartTls,    "ReadyToStartTls",    220, "2.0.0", "Ready to start TLS"),
  E(ReplyId::kAuthSucceeded,      "AuthSucceeded",      235, "2.7.0", "Authentication successful"),
  E(ReplyId::kForbiddenCommand,   "ForbiddenCommand",   221, "2.7.0", "Error: this is an SMTP server, goodbye"),
  // RFC 4954 section 4: "334" SP [base64]; RFC 4616: PLAIN starts with an empty challenge.
  E(ReplyId::kAuthPlainPrompt,    "AuthPlainPrompt",    334, "", ""),
  E(ReplyId::kAuthUserPrompt,     "AuthUserPrompt",     334, "", "VXNlcm5hbWU6"),
  E(ReplyId::kAuthPasswordPrompt, "AuthPasswordPrompt", 334, "", "UGFzc3dvcmQ6"),
  E(ReplyId::kTimeout,            "Timeout",            421, "4.4.2", "Error: timeout exceeded", kHost),
  E(ReplyId::kShuttingDown,       "ShuttingDown",       421, "4.3.2", "Service shutting down", kHost),
  E(ReplyId::kTooManyErrors,      "TooManyErrors",      421, "4.7.0", "Error: too many errors", kHost),
  E(ReplyId::kTooManyMessages,    "TooManyMessages",    421, "4.7.0", "Error: too many messages in this session", kHost),
  E(ReplyId::kTooManyConnections, "TooManyConnections", 421, "4.7.0", "Error: too many connections, try again later", kHost),
  E(ReplyId::kTooManyConnectionsFromIp, "TooManyConnectionsFromIp", 421, "4.7.0", "Error: too many connections from your address, try again later", kHost),
  // mxgate bridge: its local client gets this when no connection to the edge could be made
  // (RFC 3463 X.4.0: a network/routing problem), so that its MTA retries later.
  E(ReplyId::kBridgeUnreachable,  "BridgeUnreachable",  421, "4.4.0", "Error: the edge cannot be reached, try again later", kHost),
  // [rate_limits]: a greeting refusal is 421 (RFC 5321 3.8) so the client retries later;
  // RFC 3463 X.7.0 for the exceeded rate, X.7.1 for "not permitted now" when the limit
  // could not be checked and on_backend_error = "fail_closed".
  E(ReplyId::kConnectionRateLimited, "ConnectionRateLimited", 421, "4.7.0", "Error: connection rate limit exceeded, try again later", kHost),
  E(ReplyId::kRateLimitUnavailableClose, "RateLimitUnavailableClose", 421, "4.7.1", "Error: rate limit check unavailable, try again later", kHost),
  // 4xx replies caused by this side (limits, backends) are not the client's errors.
  // RFC 5321 4.5.3.1.10 and RFC 3463 X.5.3: the client retries the rest later.
  E(ReplyId::kTooManyRecipients,  "TooManyRecipients",  452, "4.5.3", "Error: too many recipients"),
  E(ReplyId::kRecipientTempFail,  "RecipientTempFail",  450, "4.2.0", "Recipient address temporarily rejected, try again later"),
  E(ReplyId::kCommitTempFail,     "CommitTempFail",     451, "4.3.0", "Error: queue file write error"),
  E(ReplyId::kAuthTempFail,       "AuthTempFail",       454, "4.7.0", "Temporary authentication failure"),
  // [auth_limits]: RFC 4954 section 6 454 (temporary), RFC 3463 X.7.0: too many failed
  // attempts from this address (or for this user from it); the check is not even made.
  E(ReplyId::kAuthLockedOut,      "AuthLockedOut",      454, "4.7.0", "Error: too many failed authentication attempts, try again later"),
  // One spool record belongs to one tenant: RFC 5321 4.5.3.1.10 has the client send the
  // deferred recipients in a later transaction.
  E(ReplyId::kOtherTenant,        "OtherTenant",        452, "4.5.3", "Recipients of another domain group: send them in a new transaction"),
  // Postfix queue_minfree: before the body is sent, so the client keeps the message.
  E(ReplyId::kInsufficientStorage,"InsufficientStorage",452, "4.3.1", "Insufficient system storage: try again later"),
  E(ReplyId::kPolicyTempFail,     "PolicyTempFail",     451, "4.3.0", "Error: temporary policy failure, try again later"),
  // ack_after = "store": the spool has it, the object store did not confirm in time.
  E(ReplyId::kStoreAckTempFail,   "StoreAckTempFail",   451, "4.3.0", "Error: storage did not confirm the message, try again later"),
  // [rate_limits]: RFC 5321 4.2.2 451 (local error in processing: try later), RFC 3463 X.7.1.
  E(ReplyId::kRateLimited,        "RateLimited",        451, "4.7.1", "Error: rate limit exceeded, try again later"),
  E(ReplyId::kRateLimitUnavailable,"RateLimitUnavailable",451, "4.7.1", "Error: rate limit check unavailable, try again later"),
  E(ReplyId::kUnrecognized,       "Unrecognized",       500, "5.5.2", "Error: command not recognized", kCounts),
  E(ReplyId::kEmptyCommand,       "EmptyCommand",       500, "5.5.2", "Error: bad syntax", kCounts),
  E(ReplyId::kLineTooLong,        "LineTooLong",        500, "5.5.2", "Error: line too long", kCounts),
  // RFC 5321 4.2.2 / 4.3.2: 501 for a syntax error in the arguments, with the usage.
  E(ReplyId::kSyntaxEhlo,         "SyntaxEhlo",         501, "5.5.4", "Syntax: EHLO hostname", kCounts),
  E(ReplyId::kSyntaxHelo,         "SyntaxHelo",         501, "5.5.4", "Syntax: HELO hostname", kCounts),
  E(ReplyId::kSyntaxMail,         "SyntaxMail",         501, "5.5.4", "Syntax: MAIL FROM:<address>", kCounts),
  E(ReplyId::kSyntaxRcpt,         "SyntaxRcpt",         501, "5.5.4", "Syntax: RCPT TO:<address>", kCounts),
  E(ReplyId::kSyntaxData,         "SyntaxData",         501, "5.5.4", "Syntax: DATA", kCounts),
  E(ReplyId::kSyntaxBdat,         "SyntaxBdat",         501, "5.5.4", "Syntax: BDAT chunk-size [LAST]", kCounts),
  E(ReplyId::kSyntaxRset,         "SyntaxRset",         501, "5.5.4", "Syntax: RSET", kCounts),
  E(ReplyId::kSyntaxQuit,         "SyntaxQuit",         501, "5.5.4", "Syntax: QUIT", kCounts),
  E(ReplyId::kSyntaxVrfy,         "SyntaxVrfy",         501, "5.5.4", "Syntax: VRFY address", kCounts),
  E(ReplyId::kSyntaxStartTls,     "SyntaxStartTls",     501, "5.5.4", "Syntax: STARTTLS", kCounts),
  E(ReplyId::kSyntaxAuth,         "SyntaxAuth",         501, "5.5.4", "Syntax: AUTH mechanism [initial-response]", kCounts),
  // RFC 3030 section 2: chunk-size = 1*DIGIT; anything else is a syntax error (501), and
  // since the chunk can then not be delimited the session closes after it.
  E(ReplyId::kBdatBadChunkSize,   "BdatBadChunkSize",   501, "5.5.4", "Error: invalid BDAT chunk size", kCounts),
  E(ReplyId::kNotImplemented,     "NotImplemented",     502, "5.5.1", "Error: command not implemented", kCounts),
  E(ReplyId::kExpnDisabled,       "ExpnDisabled",       502, "5.5.1", "Error: EXPN not supported"),
  E(ReplyId::kNeedHelo,           "NeedHelo",           503, "5.5.1", "Error: send HELO/EHLO first", kCounts),
  E(ReplyId::kNestedMail,         "NestedMail",         503, "5.5.1", "Error: nested MAIL command", kCounts),
  E(ReplyId::kNeedMail,           "NeedMail",           503, "5.5.1", "Error: need MAIL command", kCounts),
  E(ReplyId::kNeedRcpt,           "NeedRcpt",           503, "5.5.1", "Error: need RCPT command", kCounts),
  // RFC 3030 section 3: DATA after BODY=BINARYMIME gets 503.
  E(ReplyId::kBinaryNeedsBdat,    "BinaryNeedsBdat",    503, "5.5.1", "Error: BODY=BINARYMIME requires BDAT", kCounts),
  E(ReplyId::kDataAfterBdat,      "DataAfterBdat",      503, "5.5.1", "Error: transaction already uses BDAT", kCounts),
  E(ReplyId::kTlsActive,          "TlsActive",          503, "5.5.1", "Error: TLS already active", kCounts),
  E(ReplyId::kInTransaction,      "InTransaction",      503, "5.5.1", "Error: MAIL transaction in progress", kCounts),
  E(ReplyId::kAuthNotEnabled,     "AuthNotEnabled",     503, "5.5.1", "Error: authentication not enabled", kCounts),
  E(ReplyId::kAlreadyAuthenticated,"AlreadyAuthenticated",503, "5.5.1", "Error: already authenticated", kCounts),
  // RFC 2920 section 3.1 / RFC 5321 3.3: DATA with no accepted recipient.
  E(ReplyId::kNoValidRecipients,  "NoValidRecipients",  554, "5.5.1", "Error: no valid recipients", kCounts),
  E(ReplyId::kBadSender,          "BadSender",          501, "5.1.7", "Bad sender address syntax", kCounts),
  E(ReplyId::kBadRecipient,       "BadRecipient",       501, "5.1.3", "Bad recipient address syntax", kCounts),
  // RFC 5321 4.5.3.1.10: "501 Path too long".
  E(ReplyId::kSenderTooLong,      "SenderTooLong",      501, "5.1.7", "Error: path too long", kCounts),
  E(ReplyId::kRecipientTooLong,   "RecipientTooLong",   501, "5.1.3", "Error: path too long", kCounts),
  // RFC 6531 section 3.7.4.1 / RFC 6533: 553 5.6.7.
  E(ReplyId::kSenderNonAscii,     "SenderNonAscii",     553, "5.6.7", "Error: non-ASCII sender address requires SMTPUTF8", kCounts),
  E(ReplyId::kRecipientNonAscii,  "RecipientNonAscii",  553, "5.6.7", "Error: non-ASCII recipient address requires SMTPUTF8", kCounts),
  E(ReplyId::kParamSyntax,        "ParamSyntax",        501, "5.5.4", "Error: bad parameter syntax", kCounts),
  // RFC 5321 4.1.1.11: 555 for an unrecognised or unimplemented parameter.
  E(ReplyId::kParamUnknown,       "ParamUnknown",       555, "5.5.4", "Unsupported option: ", kCounts),
  E(ReplyId::kParamBadValue,      "ParamBadValue",      501, "5.5.4", "Error: bad value for parameter ", kCounts),
  E(ReplyId::kParamDuplicate,     "ParamDuplicate",     501, "5.5.4", "Error: duplicate parameter ", kCounts),
  // RFC 1870 section 6.1: 552 for a declared size over the limit; RFC 3463 X.3.4.
  E(ReplyId::kSizeExceedsLimit,   "SizeExceedsLimit",   552, "5.3.4", "Error: message size exceeds fixed limit", kCounts),
  // Permanent policy refusals of a command count (dictionary attacks, relay probing,
  // Postfix's smtpd_hard_error_limit counts every reject); temporary ones are ours.
  E(ReplyId::kRecipientPermFail,  "RecipientPermFail",  550, "5.1.1", "Recipient address rejected", kCounts),
  // RFC 3463 X.1.1: the mailbox does not exist ([tenant.recipients] list or lookup).
  E(ReplyId::kUnknownRecipient,   "UnknownRecipient",   550, "5.1.1", "Recipient address rejected: user unknown", kCounts),
  E(ReplyId::kRelayDenied,        "RelayDenied",        550, "5.7.1", "Relay access denied", kCounts),
  E(ReplyId::kRecipientNeedsDomain,"RecipientNeedsDomain",550, "5.1.3", "Recipient address needs a domain", kCounts),
  // RFC 5321 3.1: a 554 greeting refuses service (the session closes after it).
  E(ReplyId::kConnectionRefused,  "ConnectionRefused",  554, "5.7.1", "Error: connection refused"),
  // RFC 5321 4.3.1: the client waits for the greeting; one that talks first is not an MTA
  // (Postfix postscreen's pregreet test). RFC 3463 X.5.1: invalid command (sequence).
  E(ReplyId::kEarlyTalker,        "EarlyTalker",        554, "5.5.1", "Error: protocol error, talked before the greeting"),
  E(ReplyId::kHeloRefused,        "HeloRefused",        550, "5.7.1", "Error: HELO/EHLO name rejected", kCounts),
  E(ReplyId::kSenderRefused,      "SenderRefused",      550, "5.7.1", "Error: sender address rejected", kCounts),
  E(ReplyId::kMessageTooBig,      "MessageTooBig",      552, "5.3.4", "Error: message file too big"),
  E(ReplyId::kBareLineEnding,     "BareLineEnding",     554, "5.6.0", "Error: bare <CR> or <LF> in message data"),
  E(ReplyId::kLongLine,           "LongLine",           554, "5.6.0", "Error: message line too long"),
  E(ReplyId::kCommitPermFail,     "CommitPermFail",     554, "5.7.1", "Error: message rejected"),
  E(ReplyId::kMustStartTls,       "MustStartTls",       530, "5.7.0", "Must issue a STARTTLS command first", kCounts),
  E(ReplyId::kAuthRequired,       "AuthRequired",       530, "5.7.0", "Authentication required", kCounts),
  // RFC 4954 section 6.
  E(ReplyId::kEncryptionRequired, "EncryptionRequired", 538, "5.7.11", "Encryption required for requested authentication mechanism", kCounts),
  E(ReplyId::kUnknownMechanism,   "UnknownMechanism",   504, "5.5.4", "Unrecognized authentication type", kCounts),
  E(ReplyId::kAuthAborted,        "AuthAborted",        501, "5.0.0", "Error: authentication aborted", kCounts),
  E(ReplyId::kAuthBadBase64,      "AuthBadBase64",      501, "5.5.2", "Error: invalid base64 data", kCounts),
  E(ReplyId::kAuthMalformed,      "AuthMalformed",      501, "5.5.2", "Error: malformed authentication response", kCounts),
  E(ReplyId::kAuthFailed,         "AuthFailed",         535, "5.7.8", "Error: authentication failed", kCounts),
};
// clang-format on

constexpr std::array<ReplySpec, kReplyCount> makeTable() {
  std::array<ReplySpec, kReplyCount> t{};
  for (const Entry& e : kEntries) t[static_cast<size_t>(e.id)] = e.spec;
  return t;
}

constexpr bool tableComplete() {
  if (std::size(kEntries) != kReplyCount) return false;
  for (size_t i = 0; i < kReplyCount; ++i) {
    if (static_cast<size_t>(kEntries[i].id) != i) return false;
    for (size_t j = 0; j < i; ++j) {
      if (kEntries[j].name == kEntries[i].name) return false;
    }
  }
  return true;
}
static_assert(tableComplete(), "reply table must list every ReplyId once, in enum order");

constexpr auto kTable = makeTable();

void appendCode(std::string& out, uint16_t code) {
  out += static_cast<char>('0' + code / 100);
  out += static_cast<char>('0' + code / 10 % 10);
  out += static_cast<char>('0' + code % 10);
}

}  // namespace

const ReplySpec& replySpec(ReplyId id) { return kTable[static_cast<size_t>(id)]; }

bool isRefusal(ReplyId id) {
  if (static_cast<size_t>(id) >= kReplyCount) return false;
  const uint16_t cls = replySpec(id).code / 100;
  return cls == 4 || cls == 5;
}

std::string_view replyName(ReplyId id) {
  const auto i = static_cast<size_t>(id);
  return i < kReplyCount ? kEntries[i].name : std::string_view("?");
}

ReplyId replyIdFromName(std::string_view name) {
  for (const Entry& e : kEntries) {
    if (e.name == name) return e.id;
  }
  return ReplyId::kCount_;
}

void appendReply(std::string& out, ReplyId id, std::string_view host, std::string_view detail) {
  const ReplySpec& s = replySpec(id);
  appendCode(out, s.code);
  out += ' ';
  if (!s.enhanced.empty()) {
    out += s.enhanced;
    out += ' ';
  }
  if (s.with_host) {
    out += host;
    out += ' ';
  }
  out += s.text;
  out += detail;
  out += s.after;
  out += "\r\n";
}

void appendGreeting(std::string& out, std::string_view host) {
  out += "220 ";
  out += host;
  out += " ESMTP mxgate\r\n";
}

void appendHeloReply(std::string& out, std::string_view host) {
  out += "250 ";
  out += host;
  out += "\r\n";
}

void appendEhloReply(std::string& out, std::string_view host, const EhloOffer& offer) {
  // RFC 5321 4.2.1: every line but the last has "-" after the code.
  std::string_view lines[10];
  size_t n = 0;
  std::string size = "SIZE";
  if (offer.max_message_size != 0) size += " " + std::to_string(offer.max_message_size);
  lines[n++] = "PIPELINING";                          // RFC 2920
  lines[n++] = size;                                  // RFC 1870
  if (offer.starttls) lines[n++] = "STARTTLS";        // RFC 3207
  if (offer.auth) lines[n++] = "AUTH PLAIN LOGIN";    // RFC 4954
  lines[n++] = "ENHANCEDSTATUSCODES";                 // RFC 2034
  lines[n++] = "8BITMIME";                            // RFC 6152
  if (offer.chunking) {
    lines[n++] = "BINARYMIME";                        // RFC 3030
    lines[n++] = "CHUNKING";
  }
  if (offer.smtputf8) lines[n++] = "SMTPUTF8";        // RFC 6531
  out += "250-";
  out += host;
  out += "\r\n";
  for (size_t i = 0; i < n; ++i) {
    out += i + 1 < n ? "250-" : "250 ";
    out += lines[i];
    out += "\r\n";
  }
}

size_t enhancedCodeLength(std::string_view s) {
  // class "." subject "." detail; class 2/4/5, subject 1*3digit, detail 1*3digit.
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    const size_t start = i;
    while (i < s.size() && isDigit(s[i]) && i - start < 4) ++i;
    const size_t n = i - start;
    if (n == 0 || n > 3) return 0;
    if (part == 0) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
  }
  return i;
}

}  // namespace mx::smtp
