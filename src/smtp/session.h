// smtp/session.h — the SMTP server session: a protocol state machine that performs no I/O.
//
// The driver (src/server) feeds received bytes with receive(), then drains the actions the
// session produced (replies to write, TLS to start, policy questions to answer, body bytes
// to spool, a commit to perform, a close). Three actions park the session: kAsk (a policy
// question at one PolicyStage — connect, HELO, MAIL, RCPT, AUTH — answered by answer() with
// a Verdict), kMessageEnd (answered by commitDone()) and kStartTls (tlsDone()). While
// parked the session buffers further input (a pipelining client's later commands) and does
// nothing until the answer; deadline() is then MonoTime::max(). Every reply comes from the
// session's reply table (reply.h): verdicts name table entries, never text. Time is passed
// in; the session never reads a clock.
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
#include "core/envelope.h"
#include "core/message_id.h"
#include "smtp/verdict.h"

namespace mx::smtp {

struct SessionOptions {
  std::string hostname = "localhost";     // in the greeting, EHLO reply and trace
  uint64_t max_message_size = 50ull << 20; // SIZE (RFC 1870): declared and actual
  uint32_t max_recipients = 100;           // per transaction; then 452 4.5.3
  uint32_t max_errors = 10;                // 4xx/5xx replies to bad commands, then 421 4.7.0
  uint32_t max_messages = 0;               // per session, 0 = unlimited
  // Hard bound on one line of message data, CRLF included. Lines over RFC 5321's 1000
  // octets are accepted and stored byte-exact (real mail has them; the parser flags
  // LINE_TOO_LONG); a line beyond this bound gets the message refused (554 5.6.0).
  uint32_t max_line_length = 1u << 20;
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
  Millis greeting_timeout{60'000};         // from the greeting to the first EHLO/HELO; 0: command
  Millis idle_timeout{300'000};            // between transactions (after EHLO); 0: command
  Millis data_timeout{180'000};            // waiting for the next DATA/BDAT block
};

enum class ActionKind {
  kReply,           // write `data` (one or more complete reply lines, CRLF-terminated)
  kStartTls,        // flush replies written so far, run the TLS handshake, then tlsDone()
  kAsk,             // a policy question at `stage` (see pendingArgument(), pendingAuth(),
                    // envelope()); answer it with answer()
  kMessageBegin,    // a body starts; envelope() is final; open a spool writer
  kBodyData,        // append `data` (dot-unstuffed body bytes) to the open writer
  kMessageEnd,      // the body is complete: check and commit it durably, then commitDone()
  kMessageAbort,    // discard the open writer (the body was refused or the peer left)
  kClose,           // flush replies, then close the connection
};

struct Action {
  ActionKind kind;
  // kReply and kBodyData: bytes owned by the session, valid until the next call into it.
  std::string_view data;
  PolicyStage stage = PolicyStage::kConnect;  // kAsk only
};

struct AuthRequest {
  std::string mechanism;  // "PLAIN" or "LOGIN"
  std::string authzid;    // PLAIN only; empty when absent
  std::string authcid;    // the user name
  std::string password;   // never log this
};

// The driver's answer to kMessageEnd. Accepted: kQueued ("Ok: queued as <id>"). Refused:
// the verdict's reply (the commit failed: kCommitTempFail; or an end-of-data policy said
// no); the message counts as rejected.
struct CommitResult {
  Verdict verdict = Verdict::accept();
  MessageId id;
};

// Counters for the session log line.
struct SessionStats {
  uint32_t messages_accepted = 0;
  uint32_t messages_rejected = 0;
  uint32_t recipients_accepted = 0;
  uint32_t recipients_rejected = 0;
  uint32_t errors = 0;
  uint64_t bytes_accepted = 0;
  bool auth_failed = false;                // a permanent AUTH refusal (wrong credentials)
  uint32_t bare_lf_messages = 0;           // DATA bodies with a bare LF (normalised to CRLF)
  // Commands that arrived after a group-ending command (RFC 2920 section 3.1: EHLO, DATA,
  // VRFY, EXPN, NOOP, QUIT; RFC 3207 STARTTLS; RFC 4954 AUTH other than PLAIN with an
  // initial response) before its reply was sent. Depends on timing; for logging only.
  uint32_t pipelining_violations = 0;
  bool early_talker = false;  // sent before the greeting: refused with 554 5.5.1 (EarlyTalker)
};

class Session {
 public:
  Session(const SessionOptions& options, MonoTime now);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Begins the session: queues kAsk(kConnect) and parks. Accepted: the 220 greeting — or,
  // when bytes arrived while the question was pending (an early talker, RFC 5321 4.3.1),
  // 554 5.5.1 (kEarlyTalker) and kClose.
  // Refused (a policy, or the driver's own connection limits): the verdict's reply, then
  // kClose; all input is ignored from then on. This is the one refuse path. Call once, first.
  void start(MonoTime now);

  // Hands received bytes to the session. It consumes what it can now and keeps the rest
  // (bounded) until it is unparked. Actions are appended to the queue (see actions()).
  void receive(std::string_view bytes, MonoTime now);

  // The peer closed its side (EOF). An open body is aborted; a close is queued.
  void peerClosed(MonoTime now);

  // The driver's answers to parking actions. Each must be called exactly once per parking
  // action, after clearActions(), and never from inside the handling of an action.
  void tlsDone(bool ok, MonoTime now);                   // after kStartTls
  void answer(const Verdict& v, MonoTime now);           // after kAsk (any stage)
  void commitDone(const CommitResult& r, MonoTime now);  // after kMessageEnd

  // Time: the driver arms a timer for deadline() and calls onTimer() when it passes.
  // Passing the deadline queues kTimeout (421, "<host> Error: timeout exceeded") and a close.
  // The command timeout runs from the end of the previous command (bytes of an unfinished
  // line do not extend it); the data timeout restarts with every received block. While
  // the session is parked on the driver (kStartTls, kAsk, kMessageEnd) deadline() is
  // MonoTime::max(): the driver bounds its own work and the
  // TLS handshake.
  MonoTime deadline() const;
  void onTimer(MonoTime now);

  // Graceful drain: between transactions, queues kShuttingDown (421, "<host> Service shutting down")
  // and a close at once; during a transaction, after it completes. Pipelined commands
  // buffered behind the transaction get the 421 instead of being executed. Called before
  // start() or while the connect question is pending, the 421 replaces the greeting.
  void shutdown(MonoTime now);

  // The queue of actions produced so far. The driver handles them in order and then calls
  // clearActions(); data views stay valid until the next call into the session.
  const std::vector<Action>& actions() const;
  void clearActions();

  // Valid while a kAsk is pending: its stage; its argument — the EHLO/HELO name (kHelo),
  // the reverse-path without brackets (kMailFrom; empty for <>), the forward-path
  // (kRcptTo); empty for kConnect and kAuth; and the credentials (kAuth).
  PolicyStage pendingStage() const;
  const std::string& pendingArgument() const;
  const AuthRequest& pendingAuth() const;

  // The envelope (core/envelope.h). The session owns the transaction part — helo, esmtp,
  // auth_user, mail_from, rcpt_to, declared_size, body, smtputf8, chunked, and tenant
  // (from the first accepted recipient's verdict) — and keeps it final from kMessageBegin
  // to the end of the transaction; during kAsk(kMailFrom) the MAIL parameters (size,
  // body, smtputf8) are already in it, with mail_from still empty until accepted. The
  // driver owns and may set at any time the connection part — reception, listener,
  // client_ip, client_port, proxy_peer_ip, tls_version, tls_cipher — which the session
  // never changes; the reception path sets id and received_at at commit.
  const Envelope& envelope() const;
  Envelope& envelope();

  bool closed() const;
  const SessionStats& stats() const;

  // Octets received but not yet consumed (held while parked, or a partial line). A driver
  // may stop reading from the socket while this is large and the session is parked().
  size_t bufferedBytes() const;
  // True while a parking action (kStartTls, kAsk, kMessageEnd) waits for its answer.
  bool parked() const;

  // sizeof the private state (the memory budget of an idle session is tested).
  static size_t implSizeForTest();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mx::smtp
