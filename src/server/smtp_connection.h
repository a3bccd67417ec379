// server/smtp_connection.h — the SMTP connection driver: the life-cycle of one accepted
// connection (PROXY header, implicit TLS, session, STARTTLS, drain, close) and the loop
// that performs smtp::Session's actions: replies to the transport, policy questions to the
// Policy (answered later, on this loop: post-and-resume), body bytes to the spool writer,
// the commit to the Reception. One refuse path: a connection over a limit is refused by
// answering the session's connect question with the limit's reply.
//
// Reading: waits for readability and reads while the session consumes without producing
// output or parking, so a large DATA block flows in 64 KiB steps without returning to the
// reactor. A parked session is not read from, so a pipelining client is paced by TCP, not
// by our memory.
//
// A websocket listener first reads the HTTP upgrade request (GET /v1/smtp), checks the edge
// token (edge_request.h: only a validly signed token makes MX-Client-IP the client address),
// upgrades (websocket_transport.h) and then runs the same session over binary frames.
//
// Standards: RFC 5321 (server speaks first; 421 on shutdown), RFC 3207 / RFC 8314
// (STARTTLS, implicit TLS), PROXY protocol v1/v2 (proxy_protocol.h), RFC 6455 (WebSocket).
// Threads: a connection lives on one worker's loop; policy and spool completions are
// posted back to it. Trust: peer bytes go only to the PROXY parser or the session; a PROXY
// header is honoured only from the listener's trusted networks.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "server/connection.h"
#include "server/transport.h"
#include "server/worker.h"
#include "smtp/session.h"

namespace mx::server {

class SmtpConnection final : public Connection, public std::enable_shared_from_this<SmtpConnection> {
 public:
  SmtpConnection(Worker& worker, const BoundListener& listener, boost::asio::ip::tcp::socket socket);

  // Connection
  void start(List::iterator self) override;
  // Graceful: 421 4.3.2 between transactions, after the current one otherwise.
  void drain() override;
  // After the drain deadline: 421 4.3.2 (best effort) and close, unless a commit is in
  // flight (it completes first; the spool bounds it).
  void forceClose() override;

 private:
  // kUpgrade: a websocket listener reading and answering the HTTP upgrade request.
  enum class Phase : uint8_t { kProxyHeader, kUpgrade, kTlsHandshake, kSmtp, kClosed };
  // kAsk: waiting for a policy verdict (pending_stage_); kCommit: waiting for the spool;
  // kGreetDelay: the connect verdict is held until greet_until_ (reading meanwhile, so
  // that a client talking before the greeting is seen).
  enum class Park : uint8_t { kNone, kAsk, kCommit, kStartTls, kGreetDelay };

  ServerShared& shared() const { return worker_.shared; }
  MonoTime now() const { return shared().clock().monotonic(); }

  // Life-cycle.
  void readUpgrade();
  void onUpgradeRequest(const ErrorCode& ec);
  void refuseUpgrade(unsigned status, std::string body, std::string_view reason);
  void readProxyHeader();
  void onProxyBytes(size_t n);
  void afterProxy();
  void openSession();
  void startTls(bool implicit);
  void close(std::string_view reason);
  void logSession();

  // The action loop.
  void runActions();
  bool ask(policy::Stage stage);  // true when answered at once (and applied)
  void onLateVerdict(uint32_t seq, const smtp::Verdict& v);
  void applyVerdict(policy::Stage stage, const smtp::Verdict& v);
  void holdGreeting(const smtp::Verdict& v);  // greet_delay: keep the accepted connect verdict
  void releaseGreeting();
  void commit();
  // `spooled`: the spool commit succeeded (a failure is then the AckGate's).
  void onCommitted(uint32_t seq, const MessageId& id, const Status& st, bool spooled);
  void finishCommit(const MessageId& id, const Status& st, bool spooled);

  // Reading, writing, time.
  void waitReadable();
  void onReadable(const ErrorCode& ec);
  void pump();
  void flush();
  void armTimer(MonoTime deadline);
  void onTimer(const ErrorCode& ec);

  Worker& worker_;
  const BoundListener& listener_;
  std::unique_ptr<Transport> transport_;
  boost::asio::steady_timer timer_;
  std::unique_ptr<smtp::Session> session_;
  std::string out_;       // replies not yet handed to the transport
  std::string writing_;   // the buffer of the write in flight (out_ may grow meanwhile)
  spool::MessageWriterPtr writer_;
  std::string body_copy_;                  // the body for the AckGate (ack_after = "store" only)
  MessageId commit_id_;                    // the message in commit (for the store-ack timeout's reply)
  std::vector<MessageId> copy_ids_;        // a message for several tenants: each copy's id
  std::vector<std::string> copy_tenants_;  // and its tenant (empty for one tenant)
  MonoTime commit_began_{};
  std::optional<smtp::Verdict> inline_verdict_;  // a verdict given inside Policy::check()
  std::optional<smtp::Verdict> held_connect_;    // Park::kGreetDelay
  MonoTime greet_until_{};                       // greet_delay: no greeting before this
  List::iterator self_it_;
  MonoTime started_;
  uint64_t id_;
  std::string client_ip_;
  uint16_t client_port_ = 0;
  std::string proxy_peer_ip_;
  std::string close_reason_;
  uint32_t ask_seq_ = 0;  // identifies the question or commit in flight; late answers are dropped
  Phase phase_ = Phase::kProxyHeader;
  Park park_ = Park::kNone;
  policy::Stage pending_stage_ = policy::Stage::kConnect;
  std::optional<smtp::ReplyId> connect_refusal_;  // a limit refuses the connection
  bool asking_ = false;  // inside Policy::check()
  bool writer_failed_ = false;
  bool reading_ = false;
  bool writing_now_ = false;
  bool close_after_write_ = false;
  bool ip_counted_ = false;
  bool total_counted_ = false;
  bool draining_ = false;
  bool tls_at_proxy_ = false;  // a trusted PROXY header on a tls_at_proxy listener
};

}  // namespace mx::server
