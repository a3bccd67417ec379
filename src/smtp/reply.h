// smtp/reply.h — every reply the session can send, with its basic code, its enhanced
// status code and its text, in one table (after OpenSMTPD's esc.c and Postfix's habit of
// keeping code and enhanced code together).
//
// Standards: RFC 5321 section 4.2 (reply codes) and 4.2.3 (their meanings), RFC 2034
// (ENHANCEDSTATUSCODES: every 2xx, 4xx and 5xx reply carries one — except the greeting
// and the EHLO/HELO replies, which precede the negotiation), RFC 3463 (the codes),
// RFC 4954 section 6 and RFC 5248 (AUTH codes 5.7.8, 5.7.11, 4.7.0), RFC 3207 section 4
// (STARTTLS), RFC 6531 section 3.7.4 (5.6.7), RFC 1870 section 6 (552 5.3.4).
//
// Every reply literal of the session lives here: the table, the greeting, the HELO/EHLO
// replies and the SASL prompts. Policy verdicts (verdict.h) name entries of this table;
// nothing outside src/smtp/reply.* composes reply text.
//
// Trust: the table is constant; `detail` arguments may carry protocol tokens that were
// validated by the caller (keywords, counts, ids) — never raw untrusted text. The host
// name comes from configuration.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mx::smtp {

enum class ReplyId : uint8_t {
  // 2xx / 3xx
  kOk,                  // 250 2.0.0 Ok (RSET, NOOP)
  kMailOk,              // 250 2.1.0 Ok
  kRcptOk,              // 250 2.1.5 Ok
  kQueued,              // 250 2.0.0 Ok: queued as <id>            (detail: the id)
  kChunkReceived,       // 250 2.0.0 <n> octets received            (detail: n)
  kStartData,           // 354 End data with <CR><LF>.<CR><LF>
  kBye,                 // 221 2.0.0 Bye
  kCannotVrfy,          // 252 2.0.0 ...
  kHelp,                // 214 2.0.0 ...
  kReadyToStartTls,     // 220 2.0.0 Ready to start TLS
  kAuthSucceeded,       // 235 2.7.0 Authentication successful
  kForbiddenCommand,    // 221 2.7.0 (HTTP on the SMTP port: close)
  kAuthPlainPrompt,     // 334 (empty challenge, RFC 4616)
  kAuthUserPrompt,      // 334 VXNlcm5hbWU6 (LOGIN: base64 "Username:")
  kAuthPasswordPrompt,  // 334 UGFzc3dvcmQ6 (LOGIN: base64 "Password:")
  // 421: the session closes after these
  kTimeout,                    // 421 4.4.2 <host> Error: timeout exceeded
  kShuttingDown,               // 421 4.3.2 <host> Service shutting down
  kTooManyErrors,              // 421 4.7.0 <host> Error: too many errors
  kTooManyMessages,            // 421 4.7.0 <host> Error: too many messages in this session
  kTooManyConnections,         // 421 4.7.0 <host> Error: too many connections, try again later
  kTooManyConnectionsFromIp,   // 421 4.7.0 <host> Error: too many connections from your address
  kBridgeUnreachable,          // 421 4.4.0 (mxgate bridge, to its local client) the edge cannot be reached
  kConnectionRateLimited,      // 421 4.7.0 <host> a [[rate_limit]] on connections refused this client
  kRateLimitUnavailableClose,  // 421 4.7.1 <host> fail_closed: the rate-limit backend could not decide (connect)
  // 4xx
  kTooManyRecipients,     // 452 4.5.3
  kRecipientTempFail,     // 450 4.2.0 (the default temporary RCPT refusal)
  kCommitTempFail,        // 451 4.3.0 (the commit failed: try again)
  kAuthTempFail,          // 454 4.7.0
  kAuthLockedOut,         // 454 4.7.0 too many failed AUTH attempts: locked out for a while
  kOtherTenant,           // 452 4.5.3 recipients of another domain group: a new transaction
  kInsufficientStorage,   // 452 4.3.1 Insufficient system storage: try again later
  kPolicyTempFail,        // 451 4.3.0 a policy lookup failed (backend down): try again later
  kStoreAckTempFail,      // 451 4.3.0 spooled, but the object store did not confirm (ack_after = "store")
  kRateLimited,           // 451 4.7.1 a [[rate_limit]] (messages, recipients, bytes) was exceeded
  kRateLimitUnavailable,  // 451 4.7.1 fail_closed: the rate-limit backend could not decide
  // 5xx: syntax and sequence
  kUnrecognized,          // 500 5.5.2 Error: command not recognized
  kEmptyCommand,          // 500 5.5.2 Error: bad syntax
  kLineTooLong,           // 500 5.5.2 Error: line too long
  kSyntaxEhlo,            // 501 5.5.4 Syntax: EHLO hostname
  kSyntaxHelo,            // 501 5.5.4 Syntax: HELO hostname
  kSyntaxMail,            // 501 5.5.4 Syntax: MAIL FROM:<address>
  kSyntaxRcpt,            // 501 5.5.4 Syntax: RCPT TO:<address>
  kSyntaxData,            // 501 5.5.4 Syntax: DATA
  kSyntaxBdat,            // 501 5.5.4 Syntax: BDAT chunk-size [LAST] (bad end marker)
  kSyntaxRset,            // 501 5.5.4 Syntax: RSET
  kSyntaxQuit,            // 501 5.5.4 Syntax: QUIT
  kSyntaxVrfy,            // 501 5.5.4 Syntax: VRFY address
  kSyntaxStartTls,        // 501 5.5.4 Syntax: STARTTLS
  kSyntaxAuth,            // 501 5.5.4 Syntax: AUTH mechanism [initial-response]
  kBdatBadChunkSize,      // 501 5.5.4 Error: invalid BDAT chunk size (then close)
  kNotImplemented,        // 502 5.5.1 Error: command not implemented
  kExpnDisabled,          // 502 5.5.1 Error: EXPN not supported
  kNeedHelo,              // 503 5.5.1 Error: send HELO/EHLO first
  kNestedMail,            // 503 5.5.1 Error: nested MAIL command
  kNeedMail,              // 503 5.5.1 Error: need MAIL command
  kNeedRcpt,              // 503 5.5.1 Error: need RCPT command
  kBinaryNeedsBdat,       // 503 5.5.1 Error: BODY=BINARYMIME requires BDAT
  kDataAfterBdat,         // 503 5.5.1 Error: transaction already uses BDAT (DATA, RCPT)
  kTlsActive,             // 503 5.5.1 Error: TLS already active
  kInTransaction,         // 503 5.5.1 Error: MAIL transaction in progress
  kAuthNotEnabled,        // 503 5.5.1 Error: authentication not enabled
  kAlreadyAuthenticated,  // 503 5.5.1 Error: already authenticated
  kNoValidRecipients,     // 554 5.5.1 Error: no valid recipients
  // 5xx: addresses and parameters
  kBadSender,             // 501 5.1.7 Bad sender address syntax
  kBadRecipient,          // 501 5.1.3 Bad recipient address syntax
  kSenderTooLong,         // 501 5.1.7 Error: path too long
  kRecipientTooLong,      // 501 5.1.3 Error: path too long
  kSenderNonAscii,        // 553 5.6.7
  kRecipientNonAscii,     // 553 5.6.7
  kParamSyntax,           // 501 5.5.4 Error: bad parameter syntax
  kParamUnknown,          // 555 5.5.4 Unsupported option: <keyword>          (detail)
  kParamBadValue,         // 501 5.5.4 Error: bad value for parameter <keyword> (detail)
  kParamDuplicate,        // 501 5.5.4 Error: duplicate parameter <keyword>    (detail)
  kSizeExceedsLimit,      // 552 5.3.4 Error: message size exceeds fixed limit (MAIL SIZE=)
  kRecipientPermFail,     // 550 5.1.1 (the default permanent RCPT refusal)
  kUnknownRecipient,      // 550 5.1.1 a tenant's recipient rule knows no such recipient
  kRelayDenied,           // 550 5.7.1 Relay access denied
  kRecipientNeedsDomain,  // 550 5.1.3 Recipient address needs a domain
  kConnectionRefused,     // 554 5.7.1 a connect policy refused this client
  kEarlyTalker,           // 554 5.5.1 the client sent before the greeting (RFC 5321 4.3.1)
  kHeloRefused,           // 550 5.7.1 a HELO policy refused the name
  kSenderRefused,         // 550 5.7.1 a MAIL policy refused the sender
  // 5xx: the message
  kMessageTooBig,   // 552 5.3.4 Error: message file too big
  kBareLineEnding,  // 554 5.6.0 Error: bare <CR> or <LF> in message data (bare CR only)
  kLongLine,        // 554 5.6.0 Error: message line too long
  kCommitPermFail,  // 554 5.7.1 Error: message rejected (the default permanent refusal)
  // 5xx: security
  kMustStartTls,        // 530 5.7.0 Must issue a STARTTLS command first
  kAuthRequired,        // 530 5.7.0 Authentication required
  kEncryptionRequired,  // 538 5.7.11 Encryption required for requested authentication mechanism
  kUnknownMechanism,    // 504 5.5.4 Unrecognized authentication type
  kAuthAborted,         // 501 5.0.0 Error: authentication aborted
  kAuthBadBase64,       // 501 5.5.2 Error: invalid base64 data
  kAuthMalformed,       // 501 5.5.2 Error: malformed authentication response
  kAuthFailed,          // 535 5.7.8 Error: authentication failed
  kCount_,
};

struct ReplySpec {
  uint16_t code;
  std::string_view enhanced;  // empty only for 3xx replies
  std::string_view text;      // before the detail
  std::string_view after;     // after the detail (usually empty)
  bool with_host;             // "<code> <enhanced> <host> <text>" (the 421 family)
  bool counts_as_error;       // counted towards max_errors (a bad command)
};

// The entry of `id`; `id` must be a real entry (not kCount_).
const ReplySpec& replySpec(ReplyId id);

// True when `id` names a 4xx or 5xx entry: what a policy refusal may name.
bool isRefusal(ReplyId id);

// The entry's name without the "k" ("RelayDenied"), for logs, config and test scripts;
// replyIdFromName() is its inverse (exact, case-sensitive); kCount_ when unknown.
std::string_view replyName(ReplyId id);
ReplyId replyIdFromName(std::string_view name);

// Appends "<code> [<enhanced> ][<host> ]<text><detail><after>\r\n" to out. `detail` is a
// protocol token validated by the caller (a keyword, a count, a message id), never raw
// client text.
void appendReply(std::string& out, ReplyId id, std::string_view host, std::string_view detail = {});

// The replies without an enhanced code (RFC 2034 section 3: the greeting and the EHLO/HELO
// replies precede the negotiation of ENHANCEDSTATUSCODES).
// RFC 5321 4.3.1 / 3.1: "220 <host> ESMTP mxgate".
void appendGreeting(std::string& out, std::string_view host);
// RFC 5321 4.1.1.1: "250 <host>".
void appendHeloReply(std::string& out, std::string_view host);

// What the EHLO reply offers (RFC 5321 4.1.1.1 / 4.2.1: a multi-line 250, one keyword a line).
struct EhloOffer {
  uint64_t max_message_size = 0;  // SIZE n (RFC 1870); bare SIZE when 0 (no limit)
  bool starttls = false;          // RFC 3207
  bool auth = false;              // RFC 4954: AUTH PLAIN LOGIN
  bool chunking = false;          // RFC 3030: BINARYMIME and CHUNKING
  bool smtputf8 = false;          // RFC 6531
};
void appendEhloReply(std::string& out, std::string_view host, const EhloOffer& offer);

// Checks an enhanced status code "c.sss.ddd" (RFC 3463 section 2) at the start of `s`;
// returns its length or 0.
size_t enhancedCodeLength(std::string_view s);

}  // namespace mx::smtp
