// server/server.cc — threads, acceptors and the SMTP connection driver (see server.h).
//
// Each worker thread owns an io_context, one SO_REUSEPORT acceptor per listener, one spool
// lane, an id generator and a 64 KiB read buffer shared by its plaintext connections: an
// idle plaintext connection holds no read buffer at all (it waits for readability and
// reads into the worker's buffer), which keeps idle sessions to a few hundred bytes.
// TLS connections need a per-connection buffer (OpenSSL reads ahead); it is allocated at
// the handshake.
//
// A connection is driven in one loop: read -> Session::receive -> perform the actions
// (replies to the output buffer, body bytes to the spool writer) -> write the replies ->
// read again. Questions the session parks on (recipient, AUTH, commit, STARTTLS) stop
// reading until answered, so a pipelining client is paced by TCP, not by our memory.
#include "server/server.h"

#include <sys/socket.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <list>
#include <mutex>
#include <unordered_map>

#include "core/assert.h"
#include "core/message_id.h"
#include "server/proxy_protocol.h"
#include "smtp/session.h"

namespace mx::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;
constexpr size_t kTlsReadBufferBytes = 16 * 1024;

// Counts connections per client address across all threads. Touched only at connect and
// close (never per byte), so one mutex is fine.
class ConnectionLimiter {
 public:
  ConnectionLimiter(uint32_t total, uint32_t per_ip) : total_(total), per_ip_(per_ip) {}
  bool acquireTotal() {
    uint32_t cur = active_.load(std::memory_order_relaxed);
    while (true) {
      if (cur >= total_) return false;
      if (active_.compare_exchange_weak(cur, cur + 1)) return true;
    }
  }
  void releaseTotal() { active_.fetch_sub(1); }
  bool acquireIp(const std::string& ip) {
    std::lock_guard<std::mutex> lock(mu_);
    uint32_t& n = per_ip_count_[ip];
    if (n >= per_ip_) {
      if (n == 0) per_ip_count_.erase(ip);
      return false;
    }
    ++n;
    return true;
  }
  void releaseIp(const std::string& ip) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = per_ip_count_.find(ip);
    if (it != per_ip_count_.end() && --it->second == 0) per_ip_count_.erase(it);
  }

 private:
  const uint32_t total_, per_ip_;
  std::atomic<uint32_t> active_{0};
  std::mutex mu_;
  std::unordered_map<std::string, uint32_t> per_ip_count_;
};

}  // namespace

class SmtpConnection;

struct BoundListener {
  ListenerOptions options;
  uint16_t port = 0;
};

// One event-loop thread and everything it owns.
struct Worker {
  explicit Worker(Server::Impl& s, size_t i, spool::Lane& l)
      : server(s), index(i), lane(l), ids(0x9E3779B97F4A7C15ull * (i + 1) ^
                                          static_cast<uint64_t>(std::random_device{}())),
        read_buffer(new char[kReadBufferBytes]) {}

  Server::Impl& server;
  size_t index;
  spool::Lane& lane;
  asio::io_context ioc{1};
  MessageIdGenerator ids;
  std::unique_ptr<char[]> read_buffer;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::list<std::shared_ptr<SmtpConnection>> connections;
  std::thread thread;
  std::unique_ptr<asio::steady_timer> accept_backoff;
};

class Server::Impl {
 public:
  Impl(Server& owner, ServerOptions o, ServerDeps d)
      : owner_(owner), options_(std::move(o)), deps_(std::move(d)),
        limiter_(options_.max_connections, options_.max_connections_per_ip),
        auth_pool_(1) {
    directory_ = deps_.directory;
  }

  Server& owner_;
  ServerOptions options_;
  ServerDeps deps_;
  ConnectionLimiter limiter_;
  asio::thread_pool auth_pool_;  // crypt(3) is slow on purpose: keep it off the loops
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<BoundListener> listeners_;
  mutable std::mutex directory_mu_;
  policy::DirectoryPtr directory_;
  std::atomic<uint64_t> next_connection_id_{1};
  std::mutex drain_mu_;
  std::condition_variable drain_cv_;
  size_t workers_running_ = 0;

  policy::DirectoryPtr directory() const {
    std::lock_guard<std::mutex> lock(directory_mu_);
    return directory_;
  }
  const Clock& clock() const { return *deps_.clock; }
  Metrics& metrics() { return *deps_.metrics; }
  Logger& logger() { return *deps_.logger; }

  Status bindAll();
  void accept(Worker& w, size_t listener_index);
  void run(Worker& w);
};

// ---------------------------------------------------------------------------------------
// SmtpConnection

class SmtpConnection : public std::enable_shared_from_this<SmtpConnection> {
 public:
  SmtpConnection(Worker& w, const BoundListener& l, tcp::socket s)
      : worker_(w), listener_(l), socket_(std::move(s)), timer_(w.ioc),
        started_(w.server.clock().monotonic()),
        id_(w.server.next_connection_id_.fetch_add(1, std::memory_order_relaxed)) {}

  void start(std::list<std::shared_ptr<SmtpConnection>>::iterator self_it);
  void drain();
  void forceClose();

 private:
  enum class Phase : uint8_t { kProxyHeader, kTlsHandshake, kSmtp, kClosed };
  enum class Park : uint8_t { kNone, kRecipient, kAuth, kCommit, kStartTls };

  Server::Impl& server() { return worker_.server; }
  MonoTime now() const { return worker_.server.clock().monotonic(); }

  void readProxyHeader();
  void onProxyBytes(size_t n);
  void afterProxy();
  void openSession();
  void startTls(bool implicit);
  void waitReadable();
  void onReadable(const ErrorCode& ec);
  void onTlsRead(const ErrorCode& ec, size_t n);
  void feed(std::string_view bytes);
  void runActions();
  void answerRecipient();
  void answerAuth();
  void commit();
  void onCommitted(const MessageId& id, const Status& st, MonoTime began);
  void pump();
  void flush();
  void armTimer(MonoTime deadline);
  void onTimer(const ErrorCode& ec);
  void close(std::string_view reason);
  void logSession();

  Worker& worker_;
  const BoundListener& listener_;
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  std::unique_ptr<char[]> tls_buffer_;
  asio::steady_timer timer_;
  std::unique_ptr<smtp::Session> session_;
  std::string out_;
  std::string proxy_buffer_;
  spool::MessageWriterPtr writer_;
  bool writer_failed_ = false;
  std::list<std::shared_ptr<SmtpConnection>>::iterator self_it_;
  MonoTime started_;
  uint64_t id_;
  std::string client_ip_;
  uint16_t client_port_ = 0;
  std::string proxy_peer_ip_;
  std::string tls_version_, tls_cipher_;
  std::string auth_user_;
  std::string close_reason_;
  Phase phase_ = Phase::kProxyHeader;
  Park park_ = Park::kNone;
  bool reading_ = false;
  bool writing_ = false;
  bool close_after_write_ = false;
  bool ip_counted_ = false;
  bool total_counted_ = false;
  bool draining_ = false;
};

void SmtpConnection::start(std::list<std::shared_ptr<SmtpConnection>>::iterator self_it) {
  self_it_ = self_it;
  server().metrics().connections_accepted.fetch_add(1, std::memory_order_relaxed);
  server().metrics().connections_active.fetch_add(1, std::memory_order_relaxed);
  ErrorCode ec;
  auto remote = socket_.remote_endpoint(ec);
  if (ec) {
    close("peer gone before start");
    return;
  }
  client_ip_ = remote.address().to_string();
  client_port_ = remote.port();
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  if (!server().limiter_.acquireTotal()) {
    server().metrics().connections_refused_limit.fetch_add(1, std::memory_order_relaxed);
    phase_ = Phase::kSmtp;
    session_ = std::make_unique<smtp::Session>(smtp::SessionOptions{}, now());
    session_->refuse("421 4.7.0 " + server().options_.hostname +
                         " Too many connections, try again later",
                     now());
    close_reason_ = "connection limit";
    runActions();
    pump();
    return;
  }
  total_counted_ = true;
  if (listener_.options.proxy_protocol &&
      listener_.options.trusted_proxies.contains(client_ip_)) {
    phase_ = Phase::kProxyHeader;
    armTimer(now() + server().options_.proxy_header_timeout);
    readProxyHeader();
    return;
  }
  afterProxy();
}

void SmtpConnection::readProxyHeader() {
  reading_ = true;
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const ErrorCode& ec) {
    self->reading_ = false;
    if (ec || self->phase_ == Phase::kClosed) {
      if (self->phase_ != Phase::kClosed) self->close("read error before PROXY header");
      return;
    }
    // Peek first and consume only the header's bytes, so the SMTP (or TLS) bytes that follow
    // stay in the socket for the next stage.
    char* buf = self->worker_.read_buffer.get();
    ErrorCode rec;
    size_t n = self->socket_.receive(asio::buffer(buf, kReadBufferBytes),
                                     tcp::socket::message_peek, rec);
    if (rec == asio::error::would_block) {
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
    if (n >= kProxyHeaderMaxBytes) r.status = ProxyParseStatus::kInvalid;
    else {
      // The rest of the header is in flight; wait for more (timer still armed).
      readProxyHeader();
      return;
    }
  }
  if (r.status == ProxyParseStatus::kInvalid) {
    server().metrics().proxy_header_errors.fetch_add(1, std::memory_order_relaxed);
    server().logger().event("proxy_error", server().clock().wall(), [&](JsonWriter& w) {
      w.field("conn", id_).field("peer_ip", client_ip_).field("error", r.error);
    });
    close("bad PROXY header");
    return;
  }
  // Consume exactly the header.
  ErrorCode ec;
  size_t left = r.consumed;
  while (left > 0) {
    size_t got = socket_.receive(asio::buffer(worker_.read_buffer.get(), left), 0, ec);
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
  }
  afterProxy();
}

void SmtpConnection::afterProxy() {
  // Per-client limits apply to the real client (after PROXY), not to the load balancer.
  if (!server().limiter_.acquireIp(client_ip_)) {
    server().metrics().connections_refused_limit.fetch_add(1, std::memory_order_relaxed);
    phase_ = Phase::kSmtp;
    session_ = std::make_unique<smtp::Session>(smtp::SessionOptions{}, now());
    session_->refuse("421 4.7.0 " + server().options_.hostname +
                         " Too many connections from your address",
                     now());
    close_reason_ = "per-ip limit";
    runActions();
    pump();
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
  const ServerOptions& so = server().options_;
  const ListenerOptions& lo = listener_.options;
  smtp::SessionOptions opts;
  opts.hostname = so.hostname;
  opts.max_message_size = so.max_message_size;
  opts.max_recipients = so.max_recipients;
  opts.max_errors = so.max_errors;
  opts.max_messages = so.max_messages_per_session;
  opts.starttls_available = server().deps_.tls != nullptr && !tls_;
  opts.tls_active = tls_ != nullptr;
  opts.require_tls = lo.require_tls;
  opts.auth_available = !server().directory()->defaultTenant().empty();
  opts.auth_plaintext_allowed = lo.auth_plaintext;
  opts.auth_required = lo.auth_required;
  opts.command_timeout = so.command_timeout;
  opts.greeting_timeout = so.greeting_timeout;
  opts.idle_timeout = so.idle_timeout;
  opts.data_timeout = so.data_timeout;
  session_ = std::make_unique<smtp::Session>(opts, now());
  // Draining already: start() then sends the 421 instead of the greeting.
  if (draining_) session_->shutdown(now());
  session_->start(now());
  runActions();
  pump();
}

void SmtpConnection::startTls(bool implicit) {
  TlsContextPtr ctx = server().deps_.tls ? server().deps_.tls->current() : nullptr;
  if (!ctx) {
    close("no TLS context");
    return;
  }
  phase_ = Phase::kTlsHandshake;
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *ctx);
  armTimer(now() + server().options_.tls_handshake_timeout);
  tls_->async_handshake(
      asio::ssl::stream_base::server,
      [self = shared_from_this(), implicit, ctx](const ErrorCode& ec) {
        if (self->phase_ == Phase::kClosed) return;
        if (ec) {
          self->server().metrics().tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
          self->tls_.reset();  // no close_notify on a failed handshake
          if (!implicit && self->session_) {
            self->phase_ = Phase::kSmtp;
            self->session_->tlsDone(false, self->now());
          }
          self->close("TLS handshake failed: " + ec.message());
          return;
        }
        self->server().metrics().tls_handshakes.fetch_add(1, std::memory_order_relaxed);
        SSL* ssl = self->tls_->native_handle();
        self->tls_version_ = SSL_get_version(ssl);
        self->tls_cipher_ = SSL_get_cipher_name(ssl);
        self->tls_buffer_.reset(new char[kTlsReadBufferBytes]);
        if (implicit) {
          self->openSession();
        } else {
          self->phase_ = Phase::kSmtp;
          self->park_ = Park::kNone;
          self->session_->tlsDone(true, self->now());
          self->runActions();
          self->pump();
        }
      });
}


// ---- reading ----------------------------------------------------------------------------

void SmtpConnection::waitReadable() {
  if (reading_ || phase_ != Phase::kSmtp) return;
  reading_ = true;
  armTimer(session_->deadline());
  if (tls_) {
    tls_->async_read_some(asio::buffer(tls_buffer_.get(), kTlsReadBufferBytes),
                          [self = shared_from_this()](const ErrorCode& ec, size_t n) {
                            self->onTlsRead(ec, n);
                          });
    return;
  }
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const ErrorCode& ec) {
    self->onReadable(ec);
  });
}

void SmtpConnection::onReadable(const ErrorCode& ec) {
  reading_ = false;
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    session_->peerClosed(now());
    close_reason_ = "read error";
    runActions();
    pump();
    return;
  }
  // Read while the session keeps consuming without producing output or parking: a large
  // DATA block then flows through in 64 KiB steps without returning to the reactor.
  for (int rounds = 0; rounds < 16; ++rounds) {
    ErrorCode rec;
    size_t n = socket_.read_some(asio::buffer(worker_.read_buffer.get(), kReadBufferBytes), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) break;
    if (rec || n == 0) {
      session_->peerClosed(now());
      if (close_reason_.empty()) close_reason_ = rec ? "read error" : "peer closed";
      runActions();
      break;
    }
    feed(std::string_view(worker_.read_buffer.get(), n));
    if (park_ != Park::kNone || !out_.empty() || close_after_write_ || phase_ != Phase::kSmtp ||
        n < kReadBufferBytes)
      break;
  }
  pump();
}

void SmtpConnection::onTlsRead(const ErrorCode& ec, size_t n) {
  reading_ = false;
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    session_->peerClosed(now());
    if (close_reason_.empty()) close_reason_ = ec == asio::error::eof ? "peer closed" : "read error";
    runActions();
  } else {
    feed(std::string_view(tls_buffer_.get(), n));
  }
  pump();
}

void SmtpConnection::feed(std::string_view bytes) {
  session_->receive(bytes, now());
  runActions();
}

// ---- actions ----------------------------------------------------------------------------

void SmtpConnection::runActions() {
  // A parking action is always the last of a batch: the session stops there. Everything
  // before it is performed first, then the question is answered (which may queue more).
  while (phase_ != Phase::kClosed) {
    const auto& actions = session_->actions();
    if (actions.empty()) return;
    Park park = Park::kNone;
    for (const smtp::Action& a : actions) {
      switch (a.kind) {
        case smtp::ActionKind::kReply:
          out_.append(a.data);
          break;
        case smtp::ActionKind::kStartTls:
          park = Park::kStartTls;
          break;
        case smtp::ActionKind::kCheckRecipient:
          park = Park::kRecipient;
          break;
        case smtp::ActionKind::kCheckAuth:
          park = Park::kAuth;
          break;
        case smtp::ActionKind::kMessageBegin:
          writer_ = worker_.lane.begin();
          writer_failed_ = false;
          break;
        case smtp::ActionKind::kBodyData:
          if (writer_ && !writer_failed_) {
            Status st = writer_->append(a.data);
            if (!st.ok()) {
              // Keep reading the body to stay in sync; the commit then answers 451.
              writer_failed_ = true;
              server().logger().event("spool_error", server().clock().wall(), [&](JsonWriter& w) {
                w.field("conn", id_).field("error", st.error().message());
              });
            }
          }
          break;
        case smtp::ActionKind::kMessageEnd:
          park = Park::kCommit;
          break;
        case smtp::ActionKind::kMessageAbort:
          writer_.reset();
          break;
        case smtp::ActionKind::kClose:
          close_after_write_ = true;
          if (close_reason_.empty()) {
            // Name the reason after the last reply: "quit" for 221, else its code.
            size_t last = out_.rfind("\r\n", out_.size() >= 2 ? out_.size() - 3 : 0);
            std::string_view line = std::string_view(out_).substr(last == std::string::npos ? 0 : last + 2);
            close_reason_ = line.starts_with("221") ? "quit" : "closed with " + std::string(line.substr(0, 9));
          }
          break;
      }
    }
    session_->clearActions();
    park_ = park;
    switch (park) {
      case Park::kNone:
        return;
      case Park::kRecipient:
        answerRecipient();  // synchronous: loop to perform what it queued
        break;
      case Park::kAuth:
        answerAuth();       // asynchronous: resumes from the auth pool
        return;
      case Park::kCommit:
        commit();           // asynchronous: resumes when durable
        return;
      case Park::kStartTls:
        return;             // pump() flushes the 220, then starts the handshake
    }
  }
}

void SmtpConnection::answerRecipient() {
  const std::string& rcpt = session_->pendingRecipient();
  const smtp::Envelope& env = session_->envelope();
  policy::DirectoryPtr dir = server().directory();
  policy::RecipientRoute route = dir->routeRecipient(rcpt, env.auth_identity);
  smtp::RecipientDecision d;
  if (!route.accepted) {
    d.verdict = route.reply.starts_with("4") ? smtp::Verdict::kTempFail : smtp::Verdict::kPermFail;
    d.reply = route.reply;
    server().metrics().recipients_rejected.fetch_add(1, std::memory_order_relaxed);
  } else if (!env.recipients.empty() && env.recipients.front().route != route.tenant) {
    // One spool record belongs to one tenant. A recipient of another tenant is deferred to
    // a later transaction, as RFC 5321 section 4.5.3.1.10 has clients do for 452.
    d.verdict = smtp::Verdict::kTempFail;
    d.reply = "452 4.5.3 Recipients of another domain group: send them in a new transaction";
    server().metrics().recipients_rejected.fetch_add(1, std::memory_order_relaxed);
  } else if (server().deps_.storage != nullptr && !server().deps_.storage->hasRoom(now())) {
    // Before the body is sent, not after: the client keeps the message and retries.
    d.verdict = smtp::Verdict::kTempFail;
    d.reply = "452 4.3.1 Insufficient system storage: try again later";
    server().metrics().recipients_rejected.fetch_add(1, std::memory_order_relaxed);
    server().metrics().recipients_deferred_storage.fetch_add(1, std::memory_order_relaxed);
  } else {
    d.verdict = smtp::Verdict::kAccept;
    d.route = route.tenant;
    server().metrics().recipients_accepted.fetch_add(1, std::memory_order_relaxed);
  }
  park_ = Park::kNone;
  session_->recipientDone(d, now());
}

void SmtpConnection::answerAuth() {
  const smtp::AuthRequest& req = session_->pendingAuth();
  std::string user = req.authcid, password = req.password, authz = req.authzid;
  policy::DirectoryPtr dir = server().directory();
  asio::post(server().auth_pool_, [self = shared_from_this(), dir, user, password, authz]() mutable {
    bool ok = (authz.empty() || authz == user) && dir->authenticate(user, password).has_value();
    std::fill(password.begin(), password.end(), '\0');
    asio::post(self->worker_.ioc, [self, ok, user]() {
      if (self->phase_ == Phase::kClosed) return;
      self->park_ = Park::kNone;
      if (ok) {
        self->auth_user_ = user;
        self->server().metrics().auth_successes.fetch_add(1, std::memory_order_relaxed);
      } else {
        self->server().metrics().auth_failures.fetch_add(1, std::memory_order_relaxed);
      }
      self->session_->authDone(ok ? smtp::Verdict::kAccept : smtp::Verdict::kPermFail, self->now());
      self->runActions();
      self->pump();
    });
  });
}

void SmtpConnection::commit() {
  MonoTime began = now();
  MessageId id = worker_.ids.next(server().clock().wall());
  if (!writer_ || writer_failed_) {
    writer_.reset();
    onCommitted(id, Error(ErrorClass::kTransientBackend, "spool write failed"), began);
    return;
  }
  const smtp::Envelope& env = session_->envelope();
  Envelope se;
  se.id = id;
  se.received_at = server().clock().wall();
  se.tenant = env.recipients.empty() ? server().directory()->defaultTenant()
                                     : env.recipients.front().route;
  se.listener = listener_.options.name;
  se.mail_from = env.mail_from;
  se.rcpt_to.reserve(env.recipients.size());
  for (const auto& r : env.recipients) se.rcpt_to.push_back(r.address);
  se.helo = env.helo;
  se.client_ip = client_ip_;
  se.client_port = client_port_;
  se.proxy_peer_ip = proxy_peer_ip_;
  se.tls_version = tls_version_;
  se.tls_cipher = tls_cipher_;
  se.auth_user = env.auth_identity;
  se.smtputf8 = env.smtputf8;
  se.esmtp = env.esmtp;
  se.declared_size = env.declared_size;
  se.chunked = env.chunked;
  se.body = env.body == smtp::BodyType::kSevenBit      ? BodyType::kSevenBit
            : env.body == smtp::BodyType::kEightBitMime ? BodyType::kEightBitMime
                                                        : BodyType::kBinaryMime;
  asio::io_context& ioc = worker_.ioc;
  worker_.lane.commit(std::move(writer_), std::move(se),
                      [self = shared_from_this(), id, began, &ioc](Status st) {
                        // Runs on the spool's sync thread: hand off only.
                        asio::post(ioc, [self, id, began, st = std::move(st)]() {
                          self->onCommitted(id, st, began);
                        });
                      });
}

void SmtpConnection::onCommitted(const MessageId& id, const Status& st, MonoTime began) {
  if (phase_ == Phase::kClosed) return;
  park_ = Park::kNone;
  smtp::CommitResult r;
  r.id = id;
  const smtp::Envelope& env = session_->envelope();
  uint64_t size = 0;
  if (st.ok()) {
    r.verdict = smtp::Verdict::kAccept;
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now() - began).count();
    server().metrics().observeCommitLatency(static_cast<uint64_t>(micros));
    server().metrics().messages_accepted.fetch_add(1, std::memory_order_relaxed);
  } else {
    r.verdict = smtp::Verdict::kTempFail;
    r.reply = "451 4.3.0 Error: queue file write error, try again later";
    server().metrics().messages_temp_failed.fetch_add(1, std::memory_order_relaxed);
  }
  std::string idText = id.toString();
  std::string tenant = env.recipients.empty() ? std::string() : env.recipients.front().route;
  size_t rcpts = env.recipients.size();
  uint64_t before = session_->stats().bytes_accepted;
  session_->commitDone(r, now());
  size = session_->stats().bytes_accepted - before;
  if (st.ok()) server().metrics().message_bytes_accepted.fetch_add(size, std::memory_order_relaxed);
  server().logger().event("message", server().clock().wall(), [&](JsonWriter& w) {
    w.field("id", idText).field("conn", id_).field("tenant", tenant).field("size", size);
    w.field("recipients", static_cast<uint64_t>(rcpts)).field("client_ip", client_ip_);
    w.field("reply", st.ok() ? std::string("250 2.0.0") : r.reply);
    if (!st.ok()) w.field("error", st.error().message());
  });
  runActions();
  pump();
}

// ---- writing and the loop ---------------------------------------------------------------

void SmtpConnection::pump() {
  if (phase_ == Phase::kClosed || writing_) return;
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
  writing_ = true;
  auto done = [self = shared_from_this()](const ErrorCode& ec, size_t) {
    self->writing_ = false;
    if (self->phase_ == Phase::kClosed) return;
    self->out_.clear();
    if (ec) {
      if (self->session_) self->session_->peerClosed(self->now());
      self->close("write error");
      return;
    }
    self->pump();
  };
  if (tls_ && phase_ == Phase::kSmtp) {
    asio::async_write(*tls_, asio::buffer(out_), std::move(done));
  } else {
    asio::async_write(socket_, asio::buffer(out_), std::move(done));
  }
}

void SmtpConnection::armTimer(MonoTime deadline) {
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this()](const ErrorCode& ec) { self->onTimer(ec); });
}

void SmtpConnection::onTimer(const ErrorCode& ec) {
  if (ec == asio::error::operation_aborted || phase_ == Phase::kClosed) return;
  if (timer_.expiry() > std::chrono::steady_clock::now()) return;  // re-armed meanwhile
  if (phase_ != Phase::kSmtp) {
    close(phase_ == Phase::kProxyHeader ? "PROXY header timeout" : "TLS handshake timeout");
    return;
  }
  if (park_ != Park::kNone) return;  // waiting on us, not on the client
  server().metrics().sessions_timed_out.fetch_add(1, std::memory_order_relaxed);
  close_reason_ = "timeout";
  session_->onTimer(now());
  runActions();
  // The socket may be blocked on a read: cancel it so the 421 can go out and we can close.
  ErrorCode ignored;
  if (reading_ && !tls_) socket_.cancel(ignored);
  pump();
}

void SmtpConnection::drain() {
  draining_ = true;
  if (phase_ != Phase::kSmtp || !session_) return;  // openSession() applies it later
  session_->shutdown(now());
  if (close_reason_.empty()) close_reason_ = "shutdown";
  runActions();
  if (reading_ && !tls_ && !out_.empty()) {
    ErrorCode ignored;
    socket_.cancel(ignored);
  }
  pump();
}

void SmtpConnection::forceClose() {
  if (phase_ == Phase::kClosed) return;
  if (park_ == Park::kCommit) return;  // a commit in flight finishes first (it is quick)
  if (writer_) writer_.reset();
  out_ = "421 4.3.2 " + server().options_.hostname + " Service shutting down\r\n";
  ErrorCode ignored;
  // Best effort, non-blocking: the deadline has passed, we do not wait for a slow peer.
  if (!tls_) socket_.write_some(asio::buffer(out_), ignored);
  close("shutdown deadline");
}

void SmtpConnection::close(std::string_view reason) {
  if (phase_ == Phase::kClosed) return;
  if (close_reason_.empty()) close_reason_ = std::string(reason);
  phase_ = Phase::kClosed;
  writer_.reset();
  ErrorCode ignored;
  timer_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  logSession();
  if (ip_counted_) server().limiter_.releaseIp(client_ip_);
  if (total_counted_) server().limiter_.releaseTotal();
  server().metrics().connections_active.fetch_sub(1, std::memory_order_relaxed);
  // Drop the worker's reference last; handlers still queued hold their own.
  auto keep = shared_from_this();
  worker_.connections.erase(self_it_);
}

void SmtpConnection::logSession() {
  auto duration_ms = std::chrono::duration_cast<Millis>(now() - started_).count();
  server().logger().event("session", server().clock().wall(), [&](JsonWriter& w) {
    w.field("conn", id_).field("listener", listener_.options.name);
    w.field("client_ip", client_ip_).field("client_port", static_cast<uint64_t>(client_port_));
    if (!proxy_peer_ip_.empty()) w.field("proxy_peer_ip", proxy_peer_ip_);
    else w.nullField("proxy_peer_ip");
    if (!tls_version_.empty()) {
      w.key("tls").beginObject().field("version", tls_version_).field("cipher", tls_cipher_).endObject();
    } else {
      w.nullField("tls");
    }
    if (session_) {
      const smtp::SessionStats& s = session_->stats();
      const smtp::Envelope& env = session_->envelope();
      if (!env.auth_identity.empty()) w.field("auth_user", env.auth_identity);
      else if (!auth_user_.empty()) w.field("auth_user", auth_user_);
      else w.nullField("auth_user");
      w.field("helo", env.helo);
      w.field("messages", static_cast<uint64_t>(s.messages_accepted));
      w.field("messages_rejected", static_cast<uint64_t>(s.messages_rejected));
      w.field("recipients", static_cast<uint64_t>(s.recipients_accepted));
      w.field("recipients_rejected", static_cast<uint64_t>(s.recipients_rejected));
      w.field("errors", static_cast<uint64_t>(s.errors));
      w.field("auth_failed", s.auth_failed);
      w.field("bytes", s.bytes_accepted);
    }
    w.field("result", close_reason_);
    w.field("duration_ms", static_cast<int64_t>(duration_ms));
  });
}

// ---------------------------------------------------------------------------------------
// Server::Impl

Status Server::Impl::bindAll() {
  for (const auto& lo : options_.listeners) {
    if (lo.kind == ListenerKind::kSmtps && deps_.tls == nullptr)
      return Error(ErrorClass::kConfig, "listener '" + lo.name + "' is smtps but TLS is not configured");
    listeners_.push_back(BoundListener{lo, lo.port});
  }
  for (size_t li = 0; li < listeners_.size(); ++li) {
    BoundListener& bl = listeners_[li];
    ErrorCode ec;
    auto addr = asio::ip::make_address(bl.options.address, ec);
    if (ec) {
      return Error(ErrorClass::kConfig, "listener '" + bl.options.name + "': bad address '" +
                                            bl.options.address + "'");
    }
    for (auto& w : workers_) {
      auto acc = std::make_unique<tcp::acceptor>(w->ioc);
      tcp::endpoint ep(addr, bl.port);
      acc->open(ep.protocol(), ec);
      if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) {
        int one = 1;
        if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
          ec = ErrorCode(errno, boost::system::system_category());
      }
      if (!ec) acc->bind(ep, ec);
      if (!ec) acc->listen(4096, ec);
      if (ec) {
        return Error(ErrorClass::kConfig, "listener '" + bl.options.name + "' on " +
                                              bl.options.address + ":" + std::to_string(bl.port) +
                                              ": " + ec.message());
      }
      acc->non_blocking(true, ec);
      // Port 0: the first worker's bind picks the port; the others join it.
      if (bl.port == 0) bl.port = acc->local_endpoint().port();
      w->acceptors.push_back(std::move(acc));
    }
  }
  return okStatus();
}

void Server::Impl::accept(Worker& w, size_t li) {
  tcp::acceptor& acc = *w.acceptors[li];
  acc.async_accept(w.ioc, [this, &w, li](const ErrorCode& ec, tcp::socket sock) {
    if (ec == asio::error::operation_aborted || owner_.draining()) return;
    if (ec) {
      // EMFILE/ENFILE/ENOBUFS: back off briefly instead of spinning on the listen queue.
      logger().event("accept_error", clock().wall(), [&](JsonWriter& jw) {
        jw.field("listener", listeners_[li].options.name).field("error", ec.message());
      });
      auto t = std::make_shared<asio::steady_timer>(w.ioc, std::chrono::milliseconds(100));
      t->async_wait([this, &w, li, t](const ErrorCode&) { accept(w, li); });
      return;
    }
    w.connections.push_front(nullptr);
    auto it = w.connections.begin();
    *it = std::make_shared<SmtpConnection>(w, listeners_[li], std::move(sock));
    (*it)->start(it);
    accept(w, li);
  });
}

void Server::Impl::run(Worker& w) {
  for (size_t li = 0; li < w.acceptors.size(); ++li) accept(w, li);
  auto guard = asio::make_work_guard(w.ioc);
  // The guard is released by drain(); until then the loop runs even with no connections.
  w.ioc.run();
  {
    std::lock_guard<std::mutex> lock(drain_mu_);
    --workers_running_;
  }
  drain_cv_.notify_all();
}

// ---------------------------------------------------------------------------------------
// Server

Server::Server(ServerOptions options, ServerDeps deps)
    : impl_(std::make_unique<Impl>(*this, std::move(options), std::move(deps))) {}

Server::~Server() {
  if (!draining_.load()) drain();
}

Status Server::start() {
  ServerOptions& o = impl_->options_;
  size_t n = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  if (impl_->deps_.spool->laneCount() < n)
    return Error(ErrorClass::kConfig, "spool has fewer lanes than server threads");
  for (size_t i = 0; i < n; ++i) {
    impl_->workers_.push_back(std::make_unique<Worker>(*impl_, i, impl_->deps_.spool->lane(i)));
  }
  Status st = impl_->bindAll();
  if (!st.ok()) return st;
  impl_->workers_running_ = n;
  for (auto& w : impl_->workers_) {
    Worker* wp = w.get();
    w->thread = std::thread([this, wp] { impl_->run(*wp); });
  }
  return okStatus();
}

uint16_t Server::boundPort(const std::string& listener) const {
  for (const auto& l : impl_->listeners_) {
    if (l.options.name == listener) return l.port;
  }
  return 0;
}

size_t Server::threadCount() const { return impl_->workers_.size(); }

void Server::setDirectory(policy::DirectoryPtr d) {
  std::lock_guard<std::mutex> lock(impl_->directory_mu_);
  impl_->directory_ = std::move(d);
}

policy::DirectoryPtr Server::directory() const { return impl_->directory(); }

void Server::drain() {
  if (draining_.exchange(true)) return;
  Impl& s = *impl_;
  if (s.workers_.empty() || !s.workers_.front()->thread.joinable()) return;
  // 1. Stop accepting and ask every session to finish.
  for (auto& w : s.workers_) {
    Worker* wp = w.get();
    asio::post(wp->ioc, [wp] {
      ErrorCode ignored;
      for (auto& a : wp->acceptors) a->close(ignored);
      // Copy: drain() may close connections, which erases them from the list.
      std::vector<std::shared_ptr<SmtpConnection>> conns(wp->connections.begin(),
                                                         wp->connections.end());
      for (auto& c : conns) c->drain();
    });
  }
  // 2. Wait for sessions to end, up to the deadline; poll the connection counts.
  auto deadline = std::chrono::steady_clock::now() + s.options_.drain_timeout;
  auto remaining = [&s] {
    return s.deps_.metrics->connections_active.load(std::memory_order_relaxed);
  };
  while (remaining() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // 3. Close what is left, then let each loop finish its queued work and exit.
  for (auto& w : s.workers_) {
    Worker* wp = w.get();
    asio::post(wp->ioc, [wp] {
      std::vector<std::shared_ptr<SmtpConnection>> conns(wp->connections.begin(),
                                                         wp->connections.end());
      for (auto& c : conns) c->forceClose();
    });
  }
  auto commit_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (remaining() > 0 && std::chrono::steady_clock::now() < commit_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& w : s.workers_) w->ioc.stop();
  for (auto& w : s.workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  s.auth_pool_.join();
}

}  // namespace mx::server
