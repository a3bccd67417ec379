// smtp/session.h — the SMTP server session: a protocol state machine that performs no I/O.
//
// The driver (src/server) feeds received bytes with receive(), then drains the actions the
// session produced (replies to write, TLS to start, policy questions to answer, body bytes
// to spool, a commit to perform, a close). Questions (recipient, credentials, commit) park
// the session: it buffers further input and does nothing until the driver answers with the
// matching *Done() call. Time is passed in; the session never reads a clock.
//
// Standards: RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8),
// RFC 2920 (PIPELINING), RFC 2034 + RFC 3463 (ENHANCEDSTATUSCODES), RFC 3207 (STARTTLS),
// RFC 4954 + RFC 4616 (AUTH, SASL PLAIN) and the LOGIN mechanism, RFC 3030 (CHUNKING/BDAT).
//
// Trust: every byte from the peer is untrusted. Command lines are bounded (512 octets,
// 12288 for AUTH per RFC 4954 section 4), the input buffer never grows past one bounded
// line plus what the driver hands in, and body bytes are streamed out, never accumulated.
// The session is single-threaded and not re-entrant: call it from one thread, and never
// from inside the handling of one of its own actions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/message_id.h"

namespace mx::smtp {

struct SessionOptions {
  std::string hostname = "localhost";     // in the greeting, EHLO reply and trace
  uint64_t max_message_size = 50ull << 20; // SIZE (RFC 1870): declared and actual
  uint32_t max_recipients = 100;           // per transaction; then 452 4.5.3
  uint32_t max_errors = 10;                // 4xx/5xx replies to bad commands, then 421 4.7.0
  uint32_t max_messages = 0;               // per session, 0 = unlimited
  uint32_t max_line_length = 1000;         // DATA text line limit incl. CRLF (RFC 5321 4.5.3.1.6)
  uint32_t max_junk_commands = 100;        // NOOP/RSET/VRFY/EXPN/HELP before each counts as an
                                           // error (Postfix smtpd_junk_command_limit); 0 = none
  bool starttls_available = false;         // a certificate is loaded; offer STARTTLS
  bool tls_active = false;                 // TLS is already on (implicit TLS listener)
  bool require_tls = false;                // MAIL/AUTH need TLS first (530 5.7.0)
  bool auth_available = false;             // offer AUTH PLAIN LOGIN
  bool auth_plaintext_allowed = false;     // allow AUTH without TLS on this listener
  bool auth_required = false;              // MAIL needs a successful AUTH (530 5.7.0)
  bool chunking = true;                    // offer CHUNKING (BDAT)
  bool smtputf8 = true;                    // offer SMTPUTF8
  // Timeouts per state (RFC 5321 section 4.5.3.2 gives the classic minimums).
  Millis command_timeout{300'000};         // waiting for a command line in a transaction
  Millis greeting_timeout{0};              // from the greeting to the first EHLO/HELO; 0: command
  Millis idle_timeout{0};                  // between transactions (after EHLO); 0: command
  Millis data_timeout{180'000};            // waiting for the next DATA/BDAT block
};

enum class BodyType { kSevenBit, kEightBitMime, kBinaryMime };

struct Recipient {
  std::string address;   // the forward-path without angle brackets, as sent (quotes kept;
                         // a source route is stripped, RFC 5321 4.1.1.3); "Postmaster" alone
                         // for RCPT TO:<Postmaster>
  std::string route;     // opaque value set by the driver's recipient decision (e.g. tenant)
};

// The envelope of the transaction in progress; final once kMessageBegin has been emitted.
struct Envelope {
  std::string helo;                 // the EHLO/HELO argument
  bool esmtp = false;               // EHLO (true) or HELO (false)
  std::string mail_from;            // reverse-path without brackets (and source route); empty for <>
  uint64_t declared_size = 0;       // SIZE= parameter, 0 if absent
  BodyType body = BodyType::kSevenBit;
  bool smtputf8 = false;            // SMTPUTF8 parameter given
  bool chunked = false;             // body arrived by BDAT
  std::vector<Recipient> recipients;
  std::string auth_identity;        // the authenticated user, empty if none
  bool tls = false;                 // TLS was active when the message was received
};

enum class ActionKind {
  kReply,           // write `data` (one or more complete reply lines, CRLF-terminated)
  kStartTls,        // flush replies written so far, run the TLS handshake, then tlsDone()
  kCheckRecipient,  // decide pendingRecipient(), then recipientDone()
  kCheckAuth,       // verify pendingAuth(), then authDone()
  kMessageBegin,    // a body starts; envelope() is final; open a spool writer
  kBodyData,        // append `data` (dot-unstuffed body bytes) to the open writer
  kMessageEnd,      // the body is complete: commit it durably, then commitDone()
  kMessageAbort,    // discard the open writer (the body was refused or the peer left)
  kClose,           // flush replies, then close the connection
};

struct Action {
  ActionKind kind;
  // kReply and kBodyData: bytes owned by the session, valid until the next call into it.
  std::string_view data;
};

struct AuthRequest {
  std::string mechanism;  // "PLAIN" or "LOGIN"
  std::string authzid;    // PLAIN only; empty when absent
  std::string authcid;    // the user name
  std::string password;   // never log this
};

enum class Verdict { kAccept, kTempFail, kPermFail };

struct RecipientDecision {
  Verdict verdict = Verdict::kAccept;
  std::string route;   // stored in Recipient::route on accept
  // On reject: the full reply line without CRLF, e.g. "550 5.7.1 Relay access denied".
  // Empty means the session's default text for the verdict.
  std::string reply;
};

struct CommitResult {
  Verdict verdict = Verdict::kAccept;
  MessageId id;        // on accept: appears in "250 2.0.0 Ok: queued as <id>"
  std::string reply;   // on failure: full reply line without CRLF; empty for the default
};

// Counters for the session log line.
struct SessionStats {
  uint32_t messages_accepted = 0;
  uint32_t messages_rejected = 0;
  uint32_t recipients_accepted = 0;
  uint32_t recipients_rejected = 0;
  uint32_t errors = 0;
  uint64_t bytes_accepted = 0;
  bool auth_failed = false;
  // Commands that arrived after a group-ending command (RFC 2920 section 3.1: EHLO, DATA,
  // VRFY, EXPN, NOOP, QUIT; RFC 3207 STARTTLS; RFC 4954 AUTH other than PLAIN with an
  // initial response) before its reply was sent. Depends on timing; for logging only.
  uint32_t pipelining_violations = 0;
};

class Session {
 public:
  Session(const SessionOptions& options, MonoTime now);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Queues the 220 greeting. Call once, first.
  void start(MonoTime now);
  // Queues "554 5.7.1 <text>" as the greeting and a close (e.g. a connection limit hit);
  // the session then ignores all input. Call instead of start(). `reply_line` may also be a
  // complete 4xx/5xx reply line with an enhanced code (e.g. "421 4.7.0 <host> Too many
  // connections"), which is sent as given; any other text is sent as "554 5.7.1 <text>".
  void refuse(std::string_view reply_line, MonoTime now);

  // Hands received bytes to the session. It consumes what it can now and keeps the rest
  // (bounded) until it is unparked. Actions are appended to the queue (see actions()).
  void receive(std::string_view bytes, MonoTime now);

  // The peer closed its side (EOF). An open body is aborted; a close is queued.
  void peerClosed(MonoTime now);

  // The driver's answers to parking actions.
  void tlsDone(bool ok, MonoTime now);                          // after kStartTls
  void recipientDone(const RecipientDecision& d, MonoTime now); // after kCheckRecipient
  void authDone(Verdict v, MonoTime now);                       // after kCheckAuth
  void commitDone(const CommitResult& r, MonoTime now);         // after kMessageEnd

  // Time: the driver arms a timer for deadline() and calls onTimer() when it passes.
  // Passing the deadline queues "421 4.4.2 <host> Error: timeout exceeded" and a close.
  // The command timeout runs from the end of the previous command (bytes of an unfinished
  // line do not extend it); the data timeout restarts with every received block. While
  // the session is parked on the driver (kStartTls, kCheckRecipient, kCheckAuth,
  // kMessageEnd) deadline() is MonoTime::max(): the driver bounds its own work and the
  // TLS handshake.
  MonoTime deadline() const;
  void onTimer(MonoTime now);

  // Graceful drain: between transactions, queues "421 4.3.2 <host> Service shutting down"
  // and a close at once; during a transaction, after it completes. Pipelined commands
  // buffered behind the transaction get the 421 instead of being executed. Called before
  // start(), the 421 replaces the greeting.
  void shutdown(MonoTime now);

  // The queue of actions produced so far. The driver handles them in order and then calls
  // clearActions(); data views stay valid until the next call into the session.
  const std::vector<Action>& actions() const;
  void clearActions();

  // Valid while the corresponding action is pending.
  const std::string& pendingRecipient() const;
  const AuthRequest& pendingAuth() const;
  // The transaction's envelope (for kMessageBegin / kMessageEnd and logging).
  const Envelope& envelope() const;

  bool closed() const;
  const SessionStats& stats() const;

  // Octets received but not yet consumed (held while parked, or a partial line). A driver
  // may stop reading from the socket while this is large and the session is parked().
  size_t bufferedBytes() const;
  // True while a parking action (kStartTls, kCheckRecipient, kCheckAuth, kMessageEnd)
  // waits for its *Done() answer.
  bool parked() const;

  // sizeof the private state (the memory budget of an idle session is tested).
  static size_t implSizeForTest();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mx::smtp
