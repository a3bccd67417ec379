// server/smtp_connection.cc — see smtp_connection.h.
#include "server/smtp_connection.h"

#include <boost/asio/post.hpp>
#include <thread>

#include "core/json_writer.h"
#include "server/edge_http.h"
#include "server/proxy_protocol.h"
#include "server/tcp_transport.h"
#include "server/tls_transport.h"
#include "server/websocket_transport.h"
#include "smtp/reply.h"

namespace mx::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using smtp::ReplyId;
using smtp::Verdict;

namespace {

// The basic and enhanced code (e.g. 451 and 4.3.0) for the message log line: the basic and enhanced code of a reply.
std::string replyCodes(ReplyId id) {
  const smtp::ReplySpec& spec = smtp::replySpec(id);
  return std::to_string(spec.code) + " " + std::string(spec.enhanced);
}

// What a stage answers when its policy could not decide in time.
ReplyId temporaryRefusal(policy::Stage stage) {
  return stage == policy::Stage::kAuth ? ReplyId::kAuthTempFail : ReplyId::kPolicyTempFail;
}

}  // namespace

SmtpConnection::SmtpConnection(Worker& w, const BoundListener& l, tcp::socket s)
    : worker_(w),
      listener_(l),
      transport_(std::make_unique<TcpTransport>(std::move(s), w.read_buffer.get(), Worker::kReadBufferBytes)),
      timer_(w.ioc),
      started_(w.shared.clock().monotonic()),
      id_(w.shared.next_connection_id.fetch_add(1, std::memory_order_relaxed)) {}

// ---- life-cycle -------------------------------------------------------------------------

void SmtpConnection::start(List::iterator self_it) {
  self_it_ = self_it;
  shared().connectionOpened();
  shared().metrics().connections_accepted.fetch_add(1, std::memory_order_relaxed);
  shared().metrics().connections_active.fetch_add(1, std::memory_order_relaxed);
  tcp::socket& sock = transport_->socket();
  ErrorCode ec;
  auto remote = sock.remote_endpoint(ec);
  if (ec) {
    close("peer gone before start");
    return;
  }
  client_ip_ = remote.address().to_string();
  client_port_ = remote.port();
  sock.set_option(tcp::no_delay(true), ec);
  sock.non_blocking(true, ec);
  if (!shared().limiter.acquireTotal()) {
    shared().metrics().connections_refused_limit.fetch_add(1, std::memory_order_relaxed);
    connect_refusal_ = ReplyId::kTooManyConnections;
    close_reason_ = "connection limit";
    openSession();
    return;
  }
  total_counted_ = true;
  if (listener_.options.kind == ListenerKind::kWebSocket) {
    readUpgrade();
    return;
  }
  if (listener_.options.proxy_protocol && listener_.options.trusted_proxies.contains(client_ip_)) {
    phase_ = Phase::kProxyHeader;
    armTimer(now() + shared().options.proxy_header_timeout);
    readProxyHeader();
    return;
  }
  afterProxy();
}

void SmtpConnection::readUpgrade() {
  auto* plain = static_cast<TcpTransport*>(transport_.get());
  auto ws = std::make_unique<WebSocketTransport>(plain->release());
  WebSocketTransport* upgrading = ws.get();
  transport_ = std::move(ws);
  phase_ = Phase::kUpgrade;
  // The upgrade request is bounded like a PROXY header: a few KiB, promptly.
  armTimer(now() + shared().options.proxy_header_timeout);
  upgrading->readRequest([self = shared_from_this()](const ErrorCode& ec) { self->onUpgradeRequest(ec); });
}

void SmtpConnection::onUpgradeRequest(const ErrorCode& ec) {
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    close("bad or missing WebSocket upgrade request");
    return;
  }
  auto* ws = static_cast<WebSocketTransport*>(transport_.get());
  const WebSocketTransport::Request& req = ws->request();
  namespace http = boost::beast::http;
  std::string_view target(req.target().data(), req.target().size());
  if (target == "/readyz" && (req.method() == http::verb::get || req.method() == http::verb::head)) {
    const bool ready = !shared().draining.load();
    refuseUpgrade(ready ? 200 : 503, ready ? "ready\n" : "not ready\n", "readyz");
    return;
  }
  if (target != "/v1/smtp") return refuseUpgrade(404, "not found\n", "upgrade: unknown path");
  if (req.method() != http::verb::get) return refuseUpgrade(405, "method not allowed\n", "upgrade: not GET");
  if (!boost::beast::websocket::is_upgrade(req))
    return refuseUpgrade(426, "a WebSocket upgrade is required\n", "upgrade: not a WebSocket upgrade");
  if (shared().draining.load()) return refuseUpgrade(503, "draining\n", "shutdown");
  // The edge token (docs/edge.md): only a validly signed one makes MX-Client-IP the client.
  const WallTime wall = shared().clock().wall();
  const int64_t now_unix = std::chrono::duration_cast<std::chrono::seconds>(wall.time_since_epoch()).count();
  EdgeHead head = edgeHeadOf(req);
  EdgeTokenCheck token = checkEdgeToken(head, listener_.options.edge_key, now_unix);
  if (token.status == EdgeTokenStatus::kNone && listener_.options.require_edge_token) {
    token.status = EdgeTokenStatus::kInvalid;
    token.error = "no edge token (require_edge_token)";
  }
  if (token.status == EdgeTokenStatus::kValid) {
    // A token is good for one upgrade: a copy replayed within its window is refused.
    std::string ignored;
    const std::string id(*head.webhook_id);
    if (shared().edge_tokens.claim(id, wall, &ignored, nullptr) != IdempotencyCache::Claim::kClaimed) {
      token.status = EdgeTokenStatus::kInvalid;
      token.error = "edge token already used";
    } else {
      shared().edge_tokens.finish(id, "used", wall);
    }
  }
  if (token.status == EdgeTokenStatus::kInvalid) {
    shared().metrics().edge_token_refusals.fetch_add(1, std::memory_order_relaxed);
    shared().logger().event("edge_token_refused", wall, [&](JsonWriter& w) {
      w.field("conn", id_).field("listener", listener_.options.name).field("peer_ip", client_ip_);
      w.field("error", token.error);
    });
    refuseUpgrade(401, "edge token refused\n", "edge token refused");
    return;
  }
  if (token.status == EdgeTokenStatus::kValid) {
    // As after a PROXY header: the real client, and the edge that vouched for it.
    proxy_peer_ip_ = client_ip_;
    client_ip_ = token.client_ip;
    client_port_ = 0;
  }
  ws->accept([self = shared_from_this()](const ErrorCode& aec) {
    if (self->phase_ == Phase::kClosed) return;
    if (aec) {
      self->close("WebSocket handshake failed: " + aec.message());
      return;
    }
    self->shared().metrics().websocket_upgrades.fetch_add(1, std::memory_order_relaxed);
    self->afterProxy();
  });
}

void SmtpConnection::refuseUpgrade(unsigned status, std::string body, std::string_view reason) {
  auto* ws = static_cast<WebSocketTransport*>(transport_.get());
  close_reason_ = std::string(reason);
  ws->refuse(status, std::move(body),
             [self = shared_from_this()](const ErrorCode&) { self->close(self->close_reason_); });
}

void SmtpConnection::readProxyHeader() {
  reading_ = true;
  transport_->socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](const ErrorCode& ec) {
    self->reading_ = false;
    if (self->phase_ == Phase::kClosed) return;
    if (ec) {
      self->close("read error before PROXY header");
      return;
    }
    // Peek first and consume only the header's bytes, so the SMTP (or TLS) bytes that follow
    // stay in the socket for the next stage.
    char* buf = self->worker_.read_buffer.get();
    ErrorCode rec;
    size_t n = self->transport_->socket().receive(asio::buffer(buf, Worker::kReadBufferBytes),
                                                  tcp::socket::message_peek, rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) {
      self->readProxyHeader();
      return;
    }
    if (rec || n == 0) {
      self->close("closed before PROXY header");
      return;
    }
    self->onProxyBytes(n);
  });
}

void SmtpConnection::onProxyBytes(size_t n) {
  std::string_view peeked(worker_.read_buffer.get(), n);
  ProxyParseResult r = parseProxyHeader(peeked);
  if (r.status == ProxyParseStatus::kNeedMore) {
    if (n >= kProxyHeaderMaxBytes) {
      r.status = ProxyParseStatus::kInvalid;
    } else {
      readProxyHeader();  // the rest of the header is in flight (timer still armed)
      return;
    }
  }
  if (r.status == ProxyParseStatus::kInvalid) {
    shared().metrics().proxy_header_errors.fetch_add(1, std::memory_order_relaxed);
    shared().logger().event("proxy_error", shared().clock().wall(), [&](JsonWriter& w) {
      w.field("conn", id_).field("peer_ip", client_ip_).field("error", r.error);
    });
    close("bad PROXY header");
    return;
  }
  // Consume exactly the header.
  ErrorCode ec;
  size_t left = r.consumed;
  while (left > 0) {
    size_t got = transport_->socket().receive(asio::buffer(worker_.read_buffer.get(), left), 0, ec);
    if (ec) {
      close("read error in PROXY header");
      return;
    }
    left -= got;
  }
  if (!r.header.local) {
    proxy_peer_ip_ = client_ip_;
    client_ip_ = r.header.source_ip;
    client_port_ = r.header.source_port;
    // Only a header from a trusted proxy reaches here, so its word on TLS is believed. A
    // LOCAL header (the balancer's own health check) carries no client and vouches for nothing.
    tls_at_proxy_ = listener_.options.tls_at_proxy;
  }
  afterProxy();
}

void SmtpConnection::afterProxy() {
  // Per-client limits apply to the real client (after PROXY), not to the load balancer.
  if (!shared().limiter.acquireIp(client_ip_)) {
    shared().metrics().connections_refused_limit.fetch_add(1, std::memory_order_relaxed);
    connect_refusal_ = ReplyId::kTooManyConnectionsFromIp;
    close_reason_ = "per-ip limit";
    openSession();
    return;
  }
  ip_counted_ = true;
  if (listener_.options.kind == ListenerKind::kSmtps) {
    startTls(/*implicit=*/true);
    return;
  }
  openSession();
}

void SmtpConnection::openSession() {
  phase_ = Phase::kSmtp;
  const TlsInfo* tls = transport_->tls();
  session_ = std::make_unique<smtp::Session>(
      shared().sessionOptions(listener_.options, tls != nullptr || tls_at_proxy_), now());
  Envelope& env = session_->envelope();
  // The envelope field, not server::Reception.
  env.reception = listener_.options.kind == ListenerKind::kWebSocket ? mx::Reception::kWebSocket : mx::Reception::kSmtp;
  env.listener = listener_.options.name;
  env.client_ip = client_ip_;
  env.client_port = client_port_;
  env.proxy_peer_ip = proxy_peer_ip_;
  if (tls != nullptr) {
    env.tls_version = tls->version;
    env.tls_cipher = tls->cipher;
  } else if (tls_at_proxy_) {
    env.tls_version = kTlsAtProxy;
  }
  // Draining already: the 421 then replaces the greeting.
  if (draining_) session_->shutdown(now());
  const ListenerOptions& lo = listener_.options;
  if (lo.greet_delay.count() > 0 && !shared().greet_passes.passed(lo.name, client_ip_, now())) {
    greet_until_ = now() + lo.greet_delay;
  }
  session_->start(now());
  runActions();
  pump();
}

void SmtpConnection::startTls(bool implicit) {
  TlsContextPtr ctx = shared().deps.tls ? shared().deps.tls->current() : nullptr;
  if (!ctx) {
    close("no TLS context");
    return;
  }
  // STARTTLS is offered on plain connections only, so the transport is TCP here.
  auto* plain = static_cast<TcpTransport*>(transport_.get());
  auto tls = std::make_unique<TlsTransport>(plain->release(), std::move(ctx));
  TlsTransport* handshaking = tls.get();
  transport_ = std::move(tls);
  phase_ = Phase::kTlsHandshake;
  armTimer(now() + shared().options.tls_handshake_timeout);
  handshaking->handshake([self = shared_from_this(), implicit](const ErrorCode& ec) {
    if (self->phase_ == Phase::kClosed) return;
    if (ec) {
      self->shared().metrics().tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      if (!implicit && self->session_) {
        self->phase_ = Phase::kSmtp;
        self->session_->tlsDone(false, self->now());
      }
      self->close("TLS handshake failed: " + ec.message());
      return;
    }
    self->shared().metrics().tls_handshakes.fetch_add(1, std::memory_order_relaxed);
    if (implicit) {
      self->openSession();
      return;
    }
    const TlsInfo* info = self->transport_->tls();
    Envelope& env = self->session_->envelope();
    env.tls_version = info->version;
    env.tls_cipher = info->cipher;
    self->phase_ = Phase::kSmtp;
    self->park_ = Park::kNone;
    self->session_->tlsDone(true, self->now());
    self->runActions();
    self->pump();
  });
}

void SmtpConnection::drain() {
  draining_ = true;
  if (phase_ != Phase::kSmtp || !session_) return;  // openSession() applies it later
  session_->shutdown(now());
  if (close_reason_.empty()) close_reason_ = "shutdown";
  runActions();
  // A read may be pending: cancel it so the 421 can go out and the connection close.
  if (reading_ && !out_.empty()) transport_->cancelRead();
  pump();
}

void SmtpConnection::forceClose() {
  if (phase_ == Phase::kClosed) return;
  if (park_ == Park::kCommit) return;  // a commit in flight finishes first (it is quick)
  writer_.reset();
  std::string line;
  smtp::appendReply(line, ReplyId::kShuttingDown, shared().options.session.hostname);
  shared().metrics().countReplies(line);
  // Best effort, non-blocking: the deadline has passed, we do not wait for a slow peer.
  transport_->writeNow(line);
  close("shutdown deadline");
}

void SmtpConnection::close(std::string_view reason) {
  if (phase_ == Phase::kClosed) return;
  if (close_reason_.empty()) close_reason_ = std::string(reason);
  phase_ = Phase::kClosed;
  ++ask_seq_;  // a verdict still on its way is dropped
  writer_.reset();
  timer_.cancel();
  transport_->close();
  logSession();
  if (ip_counted_) shared().limiter.releaseIp(client_ip_);
  if (total_counted_) shared().limiter.releaseTotal();
  shared().metrics().connections_active.fetch_sub(1, std::memory_order_relaxed);
  // Drop the worker's reference last; handlers still queued hold their own.
  auto keep = shared_from_this();
  worker_.connections.erase(self_it_);
  shared().connectionClosed();
}

void SmtpConnection::logSession() {
  auto duration_ms = std::chrono::duration_cast<Millis>(now() - started_).count();
  shared().logger().event("session", shared().clock().wall(), [&](JsonWriter& w) {
    w.field("conn", id_).field("listener", listener_.options.name);
    w.field("client_ip", client_ip_).field("client_port", static_cast<uint64_t>(client_port_));
    if (!proxy_peer_ip_.empty()) {
      w.field("proxy_peer_ip", proxy_peer_ip_);
    } else {
      w.nullField("proxy_peer_ip");
    }
    if (const TlsInfo* tls = transport_->tls()) {
      w.key("tls").beginObject().field("version", tls->version).field("cipher", tls->cipher).endObject();
    } else if (tls_at_proxy_) {
      w.key("tls").beginObject().field("version", kTlsAtProxy).field("cipher", "").endObject();
    } else {
      w.nullField("tls");
    }
    if (session_) {
      const smtp::SessionStats& s = session_->stats();
      const Envelope& env = session_->envelope();
      if (!env.auth_user.empty()) {
        w.field("auth_user", env.auth_user);
      } else {
        w.nullField("auth_user");
      }
      w.field("helo", env.helo);
      w.field("messages", static_cast<uint64_t>(s.messages_accepted));
      w.field("messages_rejected", static_cast<uint64_t>(s.messages_rejected));
      w.field("recipients", static_cast<uint64_t>(s.recipients_accepted));
      w.field("recipients_rejected", static_cast<uint64_t>(s.recipients_rejected));
      w.field("errors", static_cast<uint64_t>(s.errors));
      w.field("auth_failed", s.auth_failed);
      if (s.early_talker) w.field("early_talker", true);
      w.field("bytes", s.bytes_accepted);
    }
    w.field("result", close_reason_);
    w.field("duration_ms", static_cast<int64_t>(duration_ms));
  });
}

// ---- actions ----------------------------------------------------------------------------

void SmtpConnection::runActions() {
  // A parking action is always the last of a batch: the session stops there. Everything
  // before it is performed first, then the question is asked; an answer given at once
  // lets the loop go on with what the session queued next.
  while (phase_ != Phase::kClosed && session_) {
    const auto& actions = session_->actions();
    if (actions.empty()) return;
    Park park = Park::kNone;
    policy::Stage stage = policy::Stage::kConnect;
    for (const smtp::Action& a : actions) {
      switch (a.kind) {
        case smtp::ActionKind::kReply:
          shared().metrics().countReplies(a.data);
          out_.append(a.data);
          break;
        case smtp::ActionKind::kStartTls:
          park = Park::kStartTls;
          break;
        case smtp::ActionKind::kAsk:
          park = Park::kAsk;
          stage = policy::stageOf(a.stage);
          break;
        case smtp::ActionKind::kMessageBegin:
          writer_ = worker_.reception.begin();
          writer_failed_ = false;
          body_copy_.clear();
          break;
        case smtp::ActionKind::kBodyData:
          if (writer_ && !writer_failed_) {
            Status st = writer_->append(a.data);
            if (!st.ok()) {
              // Keep reading the body to stay in sync; the commit then answers 451.
              writer_failed_ = true;
              shared().logger().event("spool_error", shared().clock().wall(), [&](JsonWriter& w) {
                w.field("conn", id_).field("error", st.error().message());
              });
            }
            // ack_after = "store": the AckGate gets the bytes after the spool commit.
            if (!writer_failed_ && worker_.reception.keepsBody()) body_copy_.append(a.data);
          }
          break;
        case smtp::ActionKind::kMessageEnd:
          // The end-of-data question comes first, then the commit.
          park = Park::kAsk;
          stage = policy::Stage::kEndOfData;
          break;
        case smtp::ActionKind::kMessageAbort:
          writer_.reset();
          std::string().swap(body_copy_);
          break;
        case smtp::ActionKind::kClose:
          close_after_write_ = true;
          if (close_reason_.empty()) {
            // Name the reason after the last reply: "quit" for 221, else its codes.
            size_t last = out_.rfind("\r\n", out_.size() >= 2 ? out_.size() - 3 : 0);
            std::string_view line = std::string_view(out_).substr(last == std::string::npos ? 0 : last + 2);
            close_reason_ = line.starts_with("221") ? "quit" : "closed with " + std::string(line.substr(0, 9));
          }
          break;
      }
    }
    session_->clearActions();
    park_ = park;
    if (park != Park::kAsk || !ask(stage)) return;
  }
}

bool SmtpConnection::ask(policy::Stage stage) {
  pending_stage_ = stage;
  const uint32_t seq = ++ask_seq_;
  if (stage == policy::Stage::kConnect && connect_refusal_) {
    applyVerdict(stage, Verdict::refuse(*connect_refusal_));
    return true;
  }
  const smtp::Session& s = *session_;
  policy::Query q{stage, s.envelope(), {}, nullptr, 0, now()};
  switch (stage) {
    case policy::Stage::kHelo:
    case policy::Stage::kMailFrom:
    case policy::Stage::kRcptTo:
      q.argument = s.pendingArgument();
      break;
    case policy::Stage::kAuth:
      q.auth = &s.pendingAuth();
      break;
    case policy::Stage::kEndOfData:
      q.message_size = writer_ ? writer_->size() : 0;
      break;
    case policy::Stage::kConnect:
      break;
  }
  asking_ = true;
  shared().deps.policy->check(q, [self = shared_from_this(), seq](Verdict v) {
    // Answered inside check(), on this loop: taken up below without another hop.
    if (std::this_thread::get_id() == self->worker_.thread_id && self->asking_ && seq == self->ask_seq_) {
      self->inline_verdict_.emplace(std::move(v));
      return;
    }
    asio::post(self->worker_.ioc, [self, seq, v = std::move(v)]() mutable { self->onLateVerdict(seq, v); });
  });
  asking_ = false;
  if (inline_verdict_) {
    Verdict v = std::move(*inline_verdict_);
    inline_verdict_.reset();
    applyVerdict(stage, v);
    return true;
  }
  // The policy bounds its own work; this bounds a policy that never answers.
  armTimer(now() + shared().options.policy_timeout);
  return false;
}

void SmtpConnection::onLateVerdict(uint32_t seq, const Verdict& v) {
  if (phase_ == Phase::kClosed || park_ != Park::kAsk || seq != ask_seq_) return;  // late: dropped
  applyVerdict(pending_stage_, v);
  runActions();
  pump();
}

void SmtpConnection::applyVerdict(policy::Stage stage, const Verdict& v) {
  Metrics& m = shared().metrics();
  park_ = Park::kNone;
  switch (stage) {
    case policy::Stage::kEndOfData:
      if (v.accepted()) {
        commit();
      } else {
        writer_.reset();
        smtp::CommitResult r{v, MessageId()};
        session_->commitDone(r, now());
      }
      return;
    case policy::Stage::kRcptTo:
      if (v.accepted()) {
        m.recipients_accepted.fetch_add(1, std::memory_order_relaxed);
      } else {
        m.recipients_rejected.fetch_add(1, std::memory_order_relaxed);
        if (v.reply() == ReplyId::kInsufficientStorage) {
          m.recipients_deferred_storage.fetch_add(1, std::memory_order_relaxed);
        }
      }
      break;
    case policy::Stage::kAuth:
      (v.accepted() ? m.auth_successes : m.auth_failures).fetch_add(1, std::memory_order_relaxed);
      break;
    case policy::Stage::kConnect:
      if (v.accepted() && greet_until_ > now()) {
        holdGreeting(v);
        return;
      }
      break;
    case policy::Stage::kHelo:
    case policy::Stage::kMailFrom:
      break;
  }
  session_->answer(v, now());
}

void SmtpConnection::holdGreeting(const Verdict& v) {
  held_connect_ = v;
  park_ = Park::kGreetDelay;
  armTimer(greet_until_);
  // One read is enough: any byte before the greeting decides (the session keeps it).
  if (!reading_) {
    reading_ = true;
    transport_->waitReadable([self = shared_from_this()](const ErrorCode& ec) { self->onReadable(ec); });
  }
}

void SmtpConnection::releaseGreeting() {
  park_ = Park::kNone;
  Verdict v = std::move(*held_connect_);
  held_connect_.reset();
  session_->answer(v, now());  // bytes buffered meanwhile: 554 5.5.1 (EarlyTalker) instead of 220
  if (session_->stats().early_talker) {
    shared().metrics().sessions_early_talkers.fetch_add(1, std::memory_order_relaxed);
    if (close_reason_.empty()) close_reason_ = "early talker";
  } else {
    shared().greet_passes.remember(listener_.options.name, client_ip_, now(), listener_.options.greet_pass_ttl);
  }
}

void SmtpConnection::commit() {
  park_ = Park::kCommit;
  commit_began_ = now();
  const uint32_t seq = ++ask_seq_;  // a result after the store-ack timeout is dropped
  spool::MessageWriterPtr w = writer_failed_ ? nullptr : std::move(writer_);
  writer_.reset();
  std::string body;
  body.swap(body_copy_);
  asio::io_context& ioc = worker_.ioc;
  auto on_done = [self = shared_from_this(), seq, &ioc](const MessageId& id, Status st, bool spooled) {
    // Runs on the spool's sync thread (or the store's): hand off only.
    asio::post(ioc, [self, seq, id, spooled, st = std::move(st)]() { self->onCommitted(seq, id, st, spooled); });
  };
  // A message for several tenants is stored and announced once per tenant, each copy with
  // its own id and only its recipients, all made durable by one group commit before the one
  // 250 (which names the first copy's id).
  std::vector<Envelope> copies = splitByTenant(session_->envelope());
  copy_ids_.clear();
  copy_tenants_.clear();
  if (copies.size() == 1) {
    commit_id_ = worker_.reception.commit(std::move(w), std::move(copies.front()), std::move(on_done), std::move(body));
  } else {
    for (const auto& c : copies) copy_tenants_.push_back(c.tenant);
    copy_ids_ = worker_.reception.commitCopies(std::move(w), std::move(copies), std::move(on_done), std::move(body));
    commit_id_ = copy_ids_.front();
  }
  // ack_after = "store": the client waits at most timeouts.store_ack for the object store.
  if (worker_.reception.keepsBody()) armTimer(now() + worker_.reception.ackTimeout());
}

void SmtpConnection::onCommitted(uint32_t seq, const MessageId& id, const Status& st, bool spooled) {
  if (phase_ == Phase::kClosed || park_ != Park::kCommit || seq != ask_seq_) return;  // late: dropped
  finishCommit(id, st, spooled);
}

void SmtpConnection::finishCommit(const MessageId& id, const Status& st, bool spooled) {
  park_ = Park::kNone;
  const MonoTime began = commit_began_;
  Metrics& m = shared().metrics();
  // Spooled but not confirmed by the AckGate: its own reply, so a log reader can tell.
  const ReplyId refusal = spooled ? ReplyId::kStoreAckTempFail : ReplyId::kCommitTempFail;
  if (!st.ok() && spooled) m.messages_store_ack_failed.fetch_add(1, std::memory_order_relaxed);
  smtp::CommitResult r{st.ok() ? Verdict::accept() : Verdict::refuse(refusal), id};
  if (st.ok()) {
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now() - began).count();
    m.observeCommitLatency(static_cast<uint64_t>(micros));
    m.messages_accepted.fetch_add(1, std::memory_order_relaxed);
  } else {
    m.messages_temp_failed.fetch_add(1, std::memory_order_relaxed);
  }
  // The transaction's facts, before commitDone() resets the envelope.
  const Envelope& env = session_->envelope();
  std::string tenant = env.tenant;  // the first copy's when there are several
  size_t rcpts = env.rcpt_to.size();
  uint64_t before = session_->stats().bytes_accepted;
  session_->commitDone(r, now());
  uint64_t size = session_->stats().bytes_accepted - before;
  if (st.ok()) m.message_bytes_accepted.fetch_add(size, std::memory_order_relaxed);
  shared().logger().event("message", shared().clock().wall(), [&](JsonWriter& w) {
    w.field("id", id.toString()).field("conn", id_).field("tenant", tenant).field("size", size);
    w.field("recipients", static_cast<uint64_t>(rcpts)).field("client_ip", client_ip_);
    w.field("reply", replyCodes(st.ok() ? ReplyId::kQueued : refusal));
    if (!copy_ids_.empty()) {
      // One message for several tenants: the copies, each stored and announced on its own.
      w.key("copies").beginArray();
      for (size_t i = 0; i < copy_ids_.size(); ++i) {
        w.beginObject().field("id", copy_ids_[i].toString()).field("tenant", copy_tenants_[i]).endObject();
      }
      w.endArray();
    }
    if (!st.ok()) w.field("error", st.error().message());
  });
  // The store-ack timer replaced the session's deadline; a read may still be pending.
  if (worker_.reception.keepsBody() && session_) armTimer(session_->deadline());
  runActions();
  pump();
}

// ---- reading, writing, time -------------------------------------------------------------

void SmtpConnection::waitReadable() {
  if (phase_ != Phase::kSmtp) return;
  armTimer(session_->deadline());
  if (reading_) return;  // a read is pending already (one begun during a greet delay)
  reading_ = true;
  transport_->waitReadable([self = shared_from_this()](const ErrorCode& ec) { self->onReadable(ec); });
}

void SmtpConnection::onReadable(const ErrorCode& ec) {
  reading_ = false;
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    // A cancelled wait (timeout, drain) or a socket error: the session ends either way.
    session_->peerClosed(now());
    if (close_reason_.empty()) close_reason_ = "read error";
    runActions();
    pump();
    return;
  }
  for (int rounds = 0; rounds < 16; ++rounds) {
    ErrorCode rec;
    std::string_view bytes = transport_->readSome(rec);
    if (rec == asio::error::would_block) break;
    if (rec) {
      session_->peerClosed(now());
      if (close_reason_.empty()) close_reason_ = rec == asio::error::eof ? "peer closed" : "read error";
      runActions();
      break;
    }
    session_->receive(bytes, now());
    runActions();
    if (park_ != Park::kNone || !out_.empty() || close_after_write_ || phase_ != Phase::kSmtp ||
        bytes.size() < Worker::kReadBufferBytes)
      break;
  }
  pump();
}

void SmtpConnection::pump() {
  if (phase_ == Phase::kClosed || writing_now_) return;
  if (!out_.empty()) {
    flush();
    return;
  }
  if (close_after_write_) {
    close(close_reason_.empty() ? "session closed" : close_reason_);
    return;
  }
  if (park_ == Park::kStartTls) {
    startTls(/*implicit=*/false);
    return;
  }
  if (park_ != Park::kNone) return;
  waitReadable();
}

void SmtpConnection::flush() {
  writing_now_ = true;
  // The write owns writing_ until it completes; replies produced meanwhile (a verdict
  // arriving) go to out_ and are written next.
  writing_.swap(out_);
  out_.clear();
  transport_->write(writing_, [self = shared_from_this()](const ErrorCode& ec) {
    self->writing_now_ = false;
    if (self->phase_ == Phase::kClosed) return;
    self->writing_.clear();
    if (ec) {
      if (self->session_) self->session_->peerClosed(self->now());
      self->close("write error");
      return;
    }
    self->pump();
  });
}

void SmtpConnection::armTimer(MonoTime deadline) {
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this()](const ErrorCode& ec) { self->onTimer(ec); });
}

void SmtpConnection::onTimer(const ErrorCode& ec) {
  if (ec == asio::error::operation_aborted || phase_ == Phase::kClosed) return;
  if (timer_.expiry() > std::chrono::steady_clock::now()) return;  // re-armed meanwhile
  if (phase_ != Phase::kSmtp) {
    close(phase_ == Phase::kProxyHeader ? "PROXY header timeout"
          : phase_ == Phase::kUpgrade   ? "WebSocket upgrade timeout"
                                        : "TLS handshake timeout");
    return;
  }
  if (park_ == Park::kCommit && worker_.reception.keepsBody()) {
    // ack_after = "store": spooled, but the object store did not confirm in time. The
    // record stays in the spool (the pipeline stores it); the client gets 451 and retries.
    const std::string error =
        "the object store did not confirm within " + std::to_string(worker_.reception.ackTimeout().count()) + " ms";
    ++ask_seq_;  // the gate's answer, if it ever comes, is dropped
    shared().logger().event("store_ack_timeout", shared().clock().wall(),
                            [&](JsonWriter& w) { w.field("conn", id_).field("id", commit_id_.toString()); });
    finishCommit(commit_id_, Error(ErrorClass::kTransientBackend, error), /*spooled=*/true);
    return;
  }
  if (park_ == Park::kGreetDelay) {
    releaseGreeting();
    runActions();
    pump();
    return;
  }
  if (park_ == Park::kAsk) {
    // The policy did not answer in time: a temporary refusal, and its answer, if it ever
    // comes, is dropped.
    ++ask_seq_;
    shared().logger().event("policy_timeout", shared().clock().wall(), [&](JsonWriter& w) {
      w.field("conn", id_).field("stage", policy::stageName(pending_stage_));
    });
    applyVerdict(pending_stage_, Verdict::refuse(temporaryRefusal(pending_stage_)));
    runActions();
    pump();
    return;
  }
  if (park_ != Park::kNone) return;  // waiting on the spool or the handshake, not the client
  shared().metrics().sessions_timed_out.fetch_add(1, std::memory_order_relaxed);
  close_reason_ = "timeout";
  session_->onTimer(now());
  runActions();
  // The socket may be blocked on a read: cancel it so the 421 can go out and we can close.
  if (reading_) transport_->cancelRead();
  pump();
}

}  // namespace mx::server
