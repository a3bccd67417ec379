// server/http_ingest.h — the HTTP ingest listener (`kind = "http_ingest"`, docs/edge.md):
// the edge (the Cloudflare Worker behind Email Routing) POSTs each message to
// /v1/messages — the raw RFC 5322 bytes as the body, the envelope in MX-* headers, signed as
// Standard Webhooks signs. One HttpIngestConnection drives one keep-alive HTTP/1.1
// connection on a worker's event loop (Boost.Beast), request by request:
//
//   1. header (16 KiB bound): route (/v1/messages, GET /readyz; else 404/405), then
//      edge_request.h's checks: 401 (signature headers, 300 s window), 415, 413, 400;
//   2. body, streamed in 64 KiB pieces into the spool writer of the worker's Reception and
//      into the HMAC at once (no whole-message buffer: a 40 MB message costs 64 KiB here);
//      a chunked body over the limit stops at the limit with 413;
//   3. the signature over "<id>.<timestamp>.<body>": a mismatch is 401 and the spooled bytes
//      are discarded (the writer is dropped uncommitted);
//   4. the idempotency key webhook-id (idempotency.h): an id answered before gets its first
//      answer (201, the same id) and nothing is stored again;
//   5. the Policy, as an SMTP session would ask it (connect, HELO, MAIL, each RCPT, end of
//      data), with the client address of MX-Client-IP: refusals become 429 (a rate limit,
//      Retry-After), 503 (temporary: storage, a policy backend; Retry-After) or 400
//      (permanent, e.g. a recipient of no tenant; the JSON names the SMTP reply);
//   6. the commit through the Reception: 201 {"id": "<message id>"} only once the spool
//      says durable (the 250 contract), else 503.
// After an answer given before the body was read (401, 413, 415 ...) the connection is
// closed (Connection: close) rather than reading an unwanted body.
//
// Standards: RFC 9110 / RFC 9112 (HTTP/1.1, 100-continue, Retry-After), RFC 5322 (opaque
// body), Standard Webhooks 1.0.0 (core/webhook_signature.h).
// Threads: one connection lives on one worker's loop; policy, spool and idempotency
// completions are posted back to it.
// Trust: everything the peer sends is untrusted until the signature has matched; even then
// the envelope headers are checked (edge_request.h) and the body is stored opaquely.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/webhook_signature.h"
#include "policy/policy.h"
#include "server/connection.h"
#include "server/edge_request.h"
#include "server/transport.h"
#include "server/worker.h"

namespace mx::server {

class HttpIngestConnection final : public Connection, public std::enable_shared_from_this<HttpIngestConnection> {
 public:
  HttpIngestConnection(Worker& worker, const BoundListener& listener, boost::asio::ip::tcp::socket socket);

  // Connection
  void start(List::iterator self) override;
  // Idle: close now. In a request: answer it, then close.
  void drain() override;
  // Close now, unless a commit is in flight (its answer goes out first).
  void forceClose() override;

 private:
  enum class State : uint8_t { kHeader, kBody, kDeciding, kCommit, kWriting, kClosed };

  ServerShared& shared() const { return worker_.shared; }

  void readHeader();
  void onHeader(const ErrorCode& ec);
  void startBody();
  void readBody();
  void onBody(const ErrorCode& ec);
  void bodyDone();
  void claimId();
  void onClaimWake(const std::optional<std::string>& message_id);
  void askNext();
  void onVerdict(uint32_t seq, const smtp::Verdict& v);
  void commit();
  void onCommitted(uint32_t seq, const MessageId& id, const Status& st);

  // Answers; `body` is JSON unless `content_type` says otherwise. `close_after`: also when
  // the request asked for it or the server is draining.
  void respond(unsigned status, std::string body, bool close_after, uint32_t retry_after = 0,
               const char* content_type = "application/json");
  void refuse(unsigned status, std::string_view error, bool close_after, uint32_t retry_after = 0,
              std::string_view smtp_reply = {});
  void linger();
  void releaseClaim();
  void close(std::string_view reason);
  void armTimer(Millis after);
  void onTimer(uint32_t seq);

  Worker& worker_;
  const BoundListener& listener_;
  boost::beast::tcp_stream stream_;
  boost::asio::steady_timer timer_;  // policy answers
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::buffer_body>> parser_;
  std::shared_ptr<boost::beast::http::response<boost::beast::http::string_body>> response_;
  std::unique_ptr<char[]> chunk_;  // the body piece being read (only while a body is read)
  Connection::List::iterator self_it_;

  // The request in progress.
  uint64_t id_;
  std::string peer_ip_;
  uint64_t max_size_ = 0;
  IngestEnvelope parsed_;
  Envelope envelope_;
  std::string webhook_id_;
  std::string signature_;
  std::optional<WebhookVerifier> verifier_;
  spool::MessageWriterPtr writer_;
  std::string body_copy_;  // for the AckGate (ack_after = "store") only
  uint64_t body_bytes_ = 0;
  uint64_t lingered_ = 0;  // bytes dropped after an early answer (linger())
  bool writer_failed_ = false;
  bool claimed_ = false;
  size_t next_stage_ = 0;  // the policy question to ask next (askNext)
  policy::Stage pending_stage_ = policy::Stage::kConnect;
  uint32_t seq_ = 0;  // identifies the question or commit in flight
  MonoTime commit_began_{};
  State state_ = State::kHeader;
  bool draining_ = false;
  bool total_counted_ = false;
};

}  // namespace mx::server
