// server/server.cc — threads, acceptors and drain (see server.h). The connection itself is
// driven by SmtpConnection (smtp_connection.h).
//
// Each worker thread owns an io_context, one SO_REUSEPORT acceptor per listener, one spool
// lane (through its Reception) and a 64 KiB read buffer shared by its plaintext
// connections, so nothing on the per-byte path takes a lock.
#include "server/server.h"

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>

#include "server/http_ingest.h"
#include "server/server_shared.h"
#include "server/smtp_connection.h"
#include "server/worker.h"

namespace mx::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// ---- ServerShared -----------------------------------------------------------------------

smtp::SessionOptions ServerShared::sessionOptions(const ListenerOptions& lo, bool tls_active) const {
  smtp::SessionOptions opts = options.session;
  // No STARTTLS inside WebSocket frames (the bridge's wss:// is the encryption there).
  opts.starttls_available = deps.tls != nullptr && !tls_active && lo.kind != ListenerKind::kWebSocket;
  opts.tls_active = tls_active;
  opts.require_tls = lo.require_tls;
  opts.auth_plaintext_allowed = lo.auth_plaintext;
  opts.auth_required = lo.auth_required;
  return opts;
}

void ServerShared::connectionOpened() {
  std::lock_guard lock(live_mu_);
  ++live_;
}

void ServerShared::connectionClosed() {
  bool none;
  {
    std::lock_guard lock(live_mu_);
    none = --live_ == 0;
  }
  if (none) live_cv_.notify_all();
}

bool ServerShared::waitForNoConnections(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(live_mu_);
  return live_cv_.wait_until(lock, deadline, [this] { return live_ == 0; });
}

// ---- Server::Impl -----------------------------------------------------------------------

class Server::Impl {
 public:
  Impl(ServerOptions o, ServerDeps d) : shared_(std::move(o), d) {}

  ServerShared shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<BoundListener> listeners_;

  Status bindAll();
  void accept(Worker& w, size_t listener_index);
  void run(Worker& w);
  void forEachConnection(void (Connection::*what)());
};

Status Server::Impl::bindAll() {
  const ServerOptions& options = shared_.options;
  for (const auto& lo : options.listeners) {
    if (lo.kind == ListenerKind::kSmtps && shared_.deps.tls == nullptr)
      return Error(ErrorClass::kConfig, "listener '" + lo.name + "' is smtps but TLS is not configured");
    listeners_.push_back(BoundListener{lo, lo.port});
  }
  for (auto& bl : listeners_) {
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
    if (ec == asio::error::operation_aborted || shared_.draining.load()) return;
    if (ec) {
      // EMFILE/ENFILE/ENOBUFS: back off briefly instead of spinning on the listen queue.
      shared_.logger().event("accept_error", shared_.clock().wall(), [&](JsonWriter& jw) {
        jw.field("listener", listeners_[li].options.name).field("error", ec.message());
      });
      auto t = std::make_shared<asio::steady_timer>(w.ioc, std::chrono::milliseconds(100));
      t->async_wait([this, &w, li, t](const ErrorCode&) { accept(w, li); });
      return;
    }
    w.connections.push_front(nullptr);
    auto it = w.connections.begin();
    if (listeners_[li].options.kind == ListenerKind::kHttpIngest) {
      *it = std::make_shared<HttpIngestConnection>(w, listeners_[li], std::move(sock));
    } else {
      *it = std::make_shared<SmtpConnection>(w, listeners_[li], std::move(sock));
    }
    (*it)->start(it);
    accept(w, li);
  });
}

void Server::Impl::run(Worker& w) {
  w.thread_id = std::this_thread::get_id();
  for (size_t li = 0; li < w.acceptors.size(); ++li) accept(w, li);
  auto guard = asio::make_work_guard(w.ioc);
  // The guard is released by drain() (ioc.stop()); until then the loop runs even idle.
  w.ioc.run();
}

void Server::Impl::forEachConnection(void (Connection::*what)()) {
  for (auto& w : workers_) {
    Worker* wp = w.get();
    asio::post(wp->ioc, [wp, what] {
      // Copy: the call may close connections, which erases them from the list.
      std::vector<std::shared_ptr<Connection>> conns(wp->connections.begin(), wp->connections.end());
      for (auto& c : conns) ((*c).*what)();
    });
  }
}

// ---- Server -----------------------------------------------------------------------------

Server::Server(ServerOptions options, ServerDeps deps)
    : impl_(std::make_unique<Impl>(std::move(options), deps)) {}

Server::~Server() {
  if (!draining_.load()) drain();
}

Status Server::start() {
  const ServerOptions& o = impl_->shared_.options;
  const ServerDeps& d = impl_->shared_.deps;
  if (d.spool == nullptr || d.clock == nullptr || d.logger == nullptr || d.metrics == nullptr ||
      d.policy == nullptr)
    return Error(ErrorClass::kConfig, "server: spool, clock, logger, metrics and policy are required");
  size_t n = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  if (d.spool->laneCount() < n) return Error(ErrorClass::kConfig, "spool has fewer lanes than server threads");
  std::random_device rd;
  for (size_t i = 0; i < n; ++i) {
    uint64_t seed = 0x9E3779B97F4A7C15ull * (i + 1) ^ (static_cast<uint64_t>(rd()) << 32 | rd());
    impl_->workers_.push_back(std::make_unique<Worker>(impl_->shared_, i, d.spool->lane(i), seed, d.ack_gate));
  }
  Status st = impl_->bindAll();
  if (!st.ok()) return st;
  bool ingest = false;
  for (const auto& l : o.listeners) ingest = ingest || l.kind == ListenerKind::kHttpIngest;
  if (ingest && !o.ingest_ids_file.empty()) {
    st = impl_->shared_.ingest_ids.open(o.ingest_ids_file, d.clock->wall());
    if (!st.ok()) return st;
  }
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

bool Server::loopsResponsive() {
  if (draining_.load()) return true;  // the loops are being stopped on purpose
  bool all_ran = true;
  for (auto& w : impl_->workers_) {
    if (w->probes_run.load() != w->probes_posted.load()) all_ran = false;
  }
  if (!all_ran) return false;  // a loop has not come round since the last probe
  for (auto& w : impl_->workers_) {
    Worker* wp = w.get();
    wp->probes_posted.fetch_add(1);
    asio::post(wp->ioc, [wp] { wp->probes_run.fetch_add(1); });
  }
  return true;
}

void Server::drain() {
  if (draining_.exchange(true)) return;
  Impl& s = *impl_;
  s.shared_.draining.store(true);
  if (s.workers_.empty() || !s.workers_.front()->thread.joinable()) return;
  // 1. Stop accepting and ask every session to finish.
  for (auto& w : s.workers_) {
    Worker* wp = w.get();
    asio::post(wp->ioc, [wp] {
      ErrorCode ignored;
      for (auto& a : wp->acceptors) a->close(ignored);
    });
  }
  s.forEachConnection(&Connection::drain);
  // 2. Wait for sessions to end, up to the deadline (woken by each close).
  auto now = std::chrono::steady_clock::now;
  if (!s.shared_.waitForNoConnections(now() + s.shared_.options.drain_timeout)) {
    // 3. Close what is left; a commit in flight completes first (bounded by the spool).
    s.forEachConnection(&Connection::forceClose);
    s.shared_.waitForNoConnections(now() + std::chrono::seconds(10));
  }
  for (auto& w : s.workers_) w->ioc.stop();
  for (auto& w : s.workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace mx::server
