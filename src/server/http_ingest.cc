// server/http_ingest.cc — see http_ingest.h.
#include "server/http_ingest.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <limits>

#include "core/json_writer.h"
#include "server/edge_http.h"
#include "smtp/reply.h"

namespace mx::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using smtp::ReplyId;
using smtp::Verdict;

namespace {

constexpr size_t kChunkBytes = 64 * 1024;
constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr uint64_t kLingerBytes = 64ull << 20;
// Retry-After (seconds) of 429 and of 503: a rate-limit window is typically a minute; storage
// trouble or a draining node is worth retrying (elsewhere) sooner.
constexpr uint32_t kRateLimitedRetryAfter = 60;
constexpr uint32_t kUnavailableRetryAfter = 30;

int64_t unixSeconds(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string jsonId(const std::string& id) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().field("id", id).endObject();
  return out;
}

// What an SMTP refusal becomes over HTTP (docs/edge.md): a rate limit 429, anything else
// temporary 503, a permanent refusal 400 (the envelope is not acceptable as it is).
struct HttpRefusal {
  unsigned status;
  uint32_t retry_after;
};
HttpRefusal refusalOf(ReplyId r) {
  switch (r) {
    case ReplyId::kRateLimited:
    case ReplyId::kConnectionRateLimited:
    case ReplyId::kTooManyConnectionsFromIp:
    case ReplyId::kTooManyConnections:
      return {429, kRateLimitedRetryAfter};
    case ReplyId::kOtherTenant:
      // Temporary in SMTP ("start a new transaction"), but a retry of the same request
      // would get the same answer: the edge must split it, one request per tenant.
      return {400, 0};
    default:
      break;
  }
  if (smtp::isRefusal(r) && smtp::replySpec(r).code / 100 == 4) return {503, kUnavailableRetryAfter};
  return {400, 0};
}

std::string replyCodes(ReplyId r) {
  const smtp::ReplySpec& spec = smtp::replySpec(r);
  return std::to_string(spec.code) + " " + std::string(spec.enhanced);
}

}  // namespace

HttpIngestConnection::HttpIngestConnection(Worker& w, const BoundListener& l, tcp::socket s)
    : worker_(w),
      listener_(l),
      stream_(std::move(s)),
      timer_(w.ioc),
      id_(w.shared.next_connection_id.fetch_add(1, std::memory_order_relaxed)) {}

void HttpIngestConnection::start(List::iterator self) {
  self_it_ = self;
  shared().connectionOpened();
  shared().metrics().connections_accepted.fetch_add(1, std::memory_order_relaxed);
  shared().metrics().connections_active.fetch_add(1, std::memory_order_relaxed);
  ErrorCode ec;
  auto remote = stream_.socket().remote_endpoint(ec);
  if (ec) {
    close("peer gone before start");
    return;
  }
  peer_ip_ = remote.address().to_string();
  stream_.socket().set_option(tcp::no_delay(true), ec);
  if (!shared().limiter.acquireTotal()) {
    shared().metrics().connections_refused_limit.fetch_add(1, std::memory_order_relaxed);
    close("connection limit");
    return;
  }
  total_counted_ = true;
  max_size_ = listener_.options.max_message_size != 0 ? listener_.options.max_message_size
                                                      : shared().options.session.max_message_size;
  readHeader();
}

// ---- reading ----------------------------------------------------------------------------

void HttpIngestConnection::readHeader() {
  state_ = State::kHeader;
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  // No body limit while the header is read: a Content-Length over the limit is then answered
  // by checkIngestHead() in its order (401 before 413); the limit is set before the body.
  // (Not boost::none: Beast 1.74 compares a Content-Length against an empty optional as
  // "over the limit".)
  parser_->body_limit(std::numeric_limits<uint64_t>::max());
  // A keep-alive connection may idle between requests as an SMTP client may between commands.
  stream_.expires_after(shared().options.session.command_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](const ErrorCode& ec, size_t) { self->onHeader(ec); });
}

void HttpIngestConnection::onHeader(const ErrorCode& ec) {
  if (state_ == State::kClosed) return;
  if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset) {
    close("peer closed");
    return;
  }
  if (ec == beast::error::timeout || ec == asio::error::operation_aborted) {
    close(draining_ ? "shutdown" : "idle timeout");
    return;
  }
  if (ec) {
    refuse(400,
           ec == http::error::header_limit ? "request header over 16 KiB" : "malformed HTTP request: " + ec.message(),
           /*close_after=*/true);
    return;
  }
  const auto& req = parser_->get();
  std::string_view target(req.target().data(), req.target().size());
  const bool body_pending = !parser_->is_done();
  if (target == "/readyz") {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      refuse(405, "method not allowed", body_pending);
      return;
    }
    const bool ready = !shared().draining.load();
    respond(ready ? 200 : 503, ready ? "ready\n" : "not ready\n", body_pending, 0, "text/plain");
    return;
  }
  if (target != "/v1/messages") {
    refuse(404, "not found", body_pending);
    return;
  }
  if (req.method() != http::verb::post) {
    refuse(405, "use POST", body_pending);
    return;
  }
  if (draining_ || shared().draining.load()) {
    refuse(503, "draining: try another node", /*close_after=*/true, kUnavailableRetryAfter);
    return;
  }
  EdgeHead head = edgeHeadOf(req);
  if (auto len = parser_->content_length()) head.content_length = *len;
  IngestLimits limits{max_size_, shared().options.session.max_recipients};
  IngestCheck check = checkIngestHead(head, limits, unixSeconds(shared().clock().wall()));
  if (check.status != 0) {
    // The body is not read: the connection ends with the answer.
    refuse(static_cast<unsigned>(check.status), check.error, /*close_after=*/true);
    return;
  }
  parsed_ = std::move(check.envelope);
  parser_->body_limit(max_size_);  // a chunked body stops at the limit (413)
  webhook_id_ = std::string(*head.webhook_id);
  signature_ = std::string(*head.webhook_signature);
  verifier_.emplace(listener_.options.edge_key, *head.webhook_id, *head.webhook_timestamp);
  verifier_->update(signedEnvelope(head));  // then the body, as it streams
  auto expect = req.find(http::field::expect);
  if (expect != req.end() && beast::iequals(expect->value(), "100-continue")) {
    // RFC 9110 10.1.1: the client waits for this before it sends the body.
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.expires_after(shared().options.session.data_timeout);
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](const ErrorCode& wec, size_t) {
                        if (self->state_ == State::kClosed) return;
                        if (wec) {
                          self->close("write error");
                          return;
                        }
                        self->startBody();
                      });
    return;
  }
  startBody();
}

void HttpIngestConnection::startBody() {
  state_ = State::kBody;
  writer_ = worker_.reception.begin();
  writer_failed_ = false;
  body_bytes_ = 0;
  body_copy_.clear();
  if (parser_->is_done()) {
    bodyDone();
    return;
  }
  chunk_.reset(new char[kChunkBytes]);
  readBody();
}

void HttpIngestConnection::readBody() {
  auto& body = parser_->get().body();
  body.data = chunk_.get();
  body.size = kChunkBytes;
  stream_.expires_after(shared().options.session.data_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const ErrorCode& ec, size_t) { self->onBody(ec); });
}

void HttpIngestConnection::onBody(const ErrorCode& read_ec) {
  if (state_ == State::kClosed) return;
  const ErrorCode ec = read_ec == http::error::need_buffer ? ErrorCode() : read_ec;
  const size_t got = kChunkBytes - parser_->get().body().size;
  if (got > 0) {
    std::string_view piece(chunk_.get(), got);
    verifier_->update(piece);
    body_bytes_ += got;
    if (writer_ && !writer_failed_) {
      Status st = writer_->append(piece);
      if (!st.ok()) {
        // Keep reading, so the answer can be 503 on a connection that stays in sync.
        writer_failed_ = true;
        shared().logger().event("spool_error", shared().clock().wall(),
                                [&](JsonWriter& w) { w.field("conn", id_).field("error", st.error().message()); });
      }
      if (!writer_failed_ && worker_.reception.keepsBody()) body_copy_.append(piece);
    }
  }
  if (ec == http::error::body_limit) {
    writer_.reset();
    refuse(413, "message over the limit of " + std::to_string(max_size_) + " bytes", /*close_after=*/true);
    return;
  }
  if (ec) {
    close(ec == beast::error::timeout ? "body timeout" : "read error in body");
    return;
  }
  if (parser_->is_done()) {
    bodyDone();
    return;
  }
  readBody();
}

// ---- deciding ---------------------------------------------------------------------------

void HttpIngestConnection::bodyDone() {
  chunk_.reset();
  state_ = State::kDeciding;
  const bool signed_ok = verifier_->matches(signature_, kIngestSignatureVersion);
  verifier_.reset();
  if (!signed_ok) {
    writer_.reset();  // the spooled bytes are discarded: nothing was committed
    refuse(401, "signature mismatch", /*close_after=*/false);
    return;
  }
  if (writer_failed_ || !writer_) {
    writer_.reset();
    refuse(503, "the spool could not take the message", false, kUnavailableRetryAfter);
    return;
  }
  claimId();
}

void HttpIngestConnection::claimId() {
  const uint32_t seq = ++seq_;
  std::string prior;
  asio::io_context& ioc = worker_.ioc;
  auto waiter = [self = shared_from_this(), seq, &ioc](std::optional<std::string> message_id) {
    asio::post(ioc, [self, seq, message_id = std::move(message_id)] {
      if (self->state_ != State::kDeciding || self->seq_ != seq) return;
      self->onClaimWake(message_id);
    });
  };
  switch (shared().ingest_ids.claim(webhook_id_, shared().clock().wall(), &prior, std::move(waiter))) {
    case IdempotencyCache::Claim::kDone:
      onClaimWake(prior);
      return;
    case IdempotencyCache::Claim::kWaiting:
      return;  // a request with this id is being decided: its answer is ours (or we go next)
    case IdempotencyCache::Claim::kClaimed:
      break;
  }
  claimed_ = true;
  envelope_ = Envelope();
  envelope_.reception = mx::Reception::kHttp;
  envelope_.listener = listener_.options.name;
  envelope_.client_ip = parsed_.client_ip;
  envelope_.proxy_peer_ip = peer_ip_;  // the edge that vouched for the client address
  envelope_.helo = parsed_.helo;
  envelope_.esmtp = true;
  envelope_.mail_from = parsed_.mail_from;
  envelope_.smtputf8 = parsed_.smtputf8;
  envelope_.declared_size = body_bytes_;
  next_stage_ = 0;
  askNext();
}

void HttpIngestConnection::onClaimWake(const std::optional<std::string>& message_id) {
  if (!message_id) {
    claimId();  // the first attempt failed: this one decides
    return;
  }
  writer_.reset();  // a retry: the first copy is the one
  shared().metrics().ingest_duplicates.fetch_add(1, std::memory_order_relaxed);
  respond(201, jsonId(*message_id), false);
}

void HttpIngestConnection::askNext() {
  const size_t rcpts = parsed_.rcpt_to.size();
  policy::Query q{policy::Stage::kConnect, envelope_, {}, nullptr, 0, shared().clock().monotonic()};
  while (true) {
    const size_t s = next_stage_++;
    if (s == 0) {
      q.stage = policy::Stage::kConnect;
    } else if (s == 1) {
      if (envelope_.helo.empty()) continue;
      q.stage = policy::Stage::kHelo;
      q.argument = envelope_.helo;
    } else if (s == 2) {
      q.stage = policy::Stage::kMailFrom;
      q.argument = parsed_.mail_from;
    } else if (s < 3 + rcpts) {
      q.stage = policy::Stage::kRcptTo;
      q.argument = parsed_.rcpt_to[s - 3];
    } else if (s == 3 + rcpts) {
      q.stage = policy::Stage::kEndOfData;
      q.message_size = body_bytes_;
    } else {
      commit();
      return;
    }
    break;
  }
  pending_stage_ = q.stage;
  const uint32_t seq = ++seq_;
  armTimer(shared().options.policy_timeout);
  asio::io_context& ioc = worker_.ioc;
  // Always through the loop, also when answered inside check(): one path, no re-entry.
  shared().deps.policy->check(q, [self = shared_from_this(), seq, &ioc](Verdict v) {
    asio::post(ioc, [self, seq, v = std::move(v)] { self->onVerdict(seq, v); });
  });
}

void HttpIngestConnection::onVerdict(uint32_t seq, const Verdict& v) {
  if (state_ != State::kDeciding || seq != seq_) return;  // late: dropped
  timer_.cancel();
  Metrics& m = shared().metrics();
  if (pending_stage_ == policy::Stage::kRcptTo) {
    (v.accepted() ? m.recipients_accepted : m.recipients_rejected).fetch_add(1, std::memory_order_relaxed);
  }
  if (!v.accepted()) {
    releaseClaim();
    writer_.reset();
    const ReplyId r = smtp::isRefusal(v.reply()) ? v.reply() : ReplyId::kPolicyTempFail;
    const HttpRefusal h = refusalOf(r);
    std::string what = "refused at " + std::string(policy::stageName(pending_stage_));
    if (pending_stage_ == policy::Stage::kRcptTo) what += " <" + parsed_.rcpt_to[next_stage_ - 4] + ">";
    refuse(h.status, what, false, h.retry_after, replyCodes(r));
    return;
  }
  if (pending_stage_ == policy::Stage::kRcptTo) {
    if (envelope_.rcpt_to.empty()) envelope_.tenant = v.tenant();
    envelope_.rcpt_to.push_back(parsed_.rcpt_to[next_stage_ - 4]);
  }
  askNext();
}

void HttpIngestConnection::commit() {
  state_ = State::kCommit;
  commit_began_ = shared().clock().monotonic();
  const uint32_t seq = ++seq_;
  spool::MessageWriterPtr w = std::move(writer_);
  std::string body;
  body.swap(body_copy_);
  asio::io_context& ioc = worker_.ioc;
  IdempotencyCache& ids = shared().ingest_ids;
  const Clock& clock = shared().clock();
  // The idempotency key now belongs to the commit's completion: durable is durable, whether
  // or not this connection is still there to say so.
  claimed_ = false;
  worker_.reception.commit(
      std::move(w), envelope_,
      [self = shared_from_this(), seq, &ioc, &ids, &clock, wid = webhook_id_](const MessageId& id, Status st, bool) {
        // On the spool's sync thread (or the store's): record, then hand off only.
        if (st.ok()) {
          ids.finish(wid, id.toString(), clock.wall());
        } else {
          ids.release(wid);
        }
        asio::post(ioc, [self, seq, id, st = std::move(st)] { self->onCommitted(seq, id, st); });
      },
      std::move(body));
  // ack_after = "store": the edge waits at most timeouts.store_ack for the object store.
  if (worker_.reception.keepsBody()) armTimer(worker_.reception.ackTimeout());
}

void HttpIngestConnection::onCommitted(uint32_t seq, const MessageId& id, const Status& st) {
  if (state_ != State::kCommit || seq != seq_) return;
  timer_.cancel();
  Metrics& m = shared().metrics();
  if (st.ok()) {
    auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(shared().clock().monotonic() - commit_began_).count();
    m.observeCommitLatency(static_cast<uint64_t>(micros));
    m.messages_accepted.fetch_add(1, std::memory_order_relaxed);
    m.message_bytes_accepted.fetch_add(body_bytes_, std::memory_order_relaxed);
  } else {
    m.messages_temp_failed.fetch_add(1, std::memory_order_relaxed);
  }
  shared().logger().event("message", shared().clock().wall(), [&](JsonWriter& w) {
    w.field("id", id.toString()).field("conn", id_).field("tenant", envelope_.tenant).field("size", body_bytes_);
    w.field("recipients", static_cast<uint64_t>(envelope_.rcpt_to.size())).field("client_ip", envelope_.client_ip);
    w.field("reception", "http").field("webhook_id", webhook_id_).field("reply", st.ok() ? "201" : "503");
    if (!st.ok()) w.field("error", st.error().message());
  });
  if (st.ok()) {
    respond(201, jsonId(id.toString()), false);
  } else {
    refuse(503, "the spool could not make the message durable", false, kUnavailableRetryAfter);
  }
}

// ---- answering --------------------------------------------------------------------------

void HttpIngestConnection::refuse(unsigned status, std::string_view error, bool close_after, uint32_t retry_after,
                                  std::string_view smtp_reply) {
  std::string body;
  JsonWriter w(body);
  w.beginObject().field("error", error);
  if (!smtp_reply.empty()) w.field("reply", smtp_reply);
  w.endObject();
  shared().logger().event("ingest_refused", shared().clock().wall(), [&](JsonWriter& jw) {
    jw.field("conn", id_).field("listener", listener_.options.name).field("peer_ip", peer_ip_);
    jw.field("status", static_cast<uint64_t>(status)).field("error", error);
    if (!webhook_id_.empty()) jw.field("webhook_id", webhook_id_);
  });
  respond(status, std::move(body), close_after, retry_after);
}

void HttpIngestConnection::respond(unsigned status, std::string body, bool close_after, uint32_t retry_after,
                                   const char* content_type) {
  timer_.cancel();
  const bool is_ingest = parser_ && parser_->get().target() == "/v1/messages";
  if (is_ingest) {
    shared().metrics().ingest_requests.fetch_add(1, std::memory_order_relaxed);
    if (status >= 400) shared().metrics().ingest_refused.fetch_add(1, std::memory_order_relaxed);
  }
  const bool keep = !close_after && !draining_ && parser_ && parser_->keep_alive();
  auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
  res->set(http::field::server, "mxgate");
  res->set(http::field::content_type, content_type);
  if (retry_after != 0) res->set(http::field::retry_after, std::to_string(retry_after));
  if (status == 405) res->set(http::field::allow, parser_->get().target() == "/readyz" ? "GET, HEAD" : "POST");
  res->body() = std::move(body);
  res->keep_alive(keep);
  res->prepare_payload();
  if (parser_ && parser_->get().method() == http::verb::head) res->body().clear();
  response_ = res;
  state_ = State::kWriting;
  webhook_id_.clear();
  stream_.expires_after(shared().options.session.data_timeout);
  http::async_write(stream_, *res, [self = shared_from_this(), keep](const ErrorCode& ec, size_t) {
    if (self->state_ == State::kClosed) return;
    self->response_.reset();
    if (ec) {
      self->close("write error");
      return;
    }
    if (!keep) {
      if (self->parser_ && !self->parser_->is_done()) {
        self->linger();
        return;
      }
      self->close(self->draining_ ? "shutdown" : "answered");
      return;
    }
    self->readHeader();
  });
}

// ---- life-cycle -------------------------------------------------------------------------

void HttpIngestConnection::linger() {
  // Answered before the body was read (413, 401 ...): a client that sends its whole body
  // before reading the answer would otherwise meet a reset and never see it. Read and drop
  // what it still sends, for a bounded time and amount (as nginx's lingering close), then close.
  ErrorCode ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (!chunk_) chunk_.reset(new char[kChunkBytes]);
  stream_.expires_after(std::chrono::seconds(5));
  stream_.async_read_some(asio::buffer(chunk_.get(), kChunkBytes),
                          [self = shared_from_this()](const ErrorCode& ec, size_t n) {
                            if (self->state_ == State::kClosed) return;
                            self->lingered_ += n;
                            if (ec || self->lingered_ > kLingerBytes) {
                              self->close("answered");
                              return;
                            }
                            self->linger();
                          });
}

void HttpIngestConnection::releaseClaim() {
  if (!claimed_) return;
  claimed_ = false;
  shared().ingest_ids.release(webhook_id_);
}

void HttpIngestConnection::armTimer(Millis after) {
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this(), seq = seq_](const ErrorCode& ec) {
    if (ec == asio::error::operation_aborted) return;
    self->onTimer(seq);
  });
}

void HttpIngestConnection::onTimer(uint32_t seq) {
  if (seq != seq_) return;  // re-armed or answered meanwhile
  if (state_ == State::kDeciding) {
    // The policy did not answer in time: its answer, if it ever comes, is dropped.
    ++seq_;
    releaseClaim();
    writer_.reset();
    refuse(503, "a policy lookup did not answer in time", false, kUnavailableRetryAfter,
           replyCodes(ReplyId::kPolicyTempFail));
    return;
  }
  if (state_ == State::kCommit) {
    // ack_after = "store": spooled, but the object store did not confirm in time.
    ++seq_;
    refuse(503, "the object store did not confirm in time", false, kUnavailableRetryAfter,
           replyCodes(ReplyId::kStoreAckTempFail));
  }
}

void HttpIngestConnection::drain() {
  draining_ = true;
  if (state_ == State::kHeader) close("shutdown");
}

void HttpIngestConnection::forceClose() {
  if (state_ == State::kClosed || state_ == State::kCommit) return;
  close("shutdown deadline");
}

void HttpIngestConnection::close(std::string_view reason) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  ++seq_;  // answers still on their way are dropped
  timer_.cancel();
  releaseClaim();
  writer_.reset();
  ErrorCode ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  (void)reason;
  if (total_counted_) shared().limiter.releaseTotal();
  shared().metrics().connections_active.fetch_sub(1, std::memory_order_relaxed);
  auto keep = shared_from_this();
  worker_.connections.erase(self_it_);
  shared().connectionClosed();
}

}  // namespace mx::server
