// server/connection.h — what the server's threads know of a live connection, whatever it
// speaks: the SMTP driver (smtp_connection.h, over TCP, TLS or WebSocket) and the HTTP
// ingest (http_ingest.h). A worker keeps its connections in one list, for drain.
// Threads: every method runs on the connection's own event loop. Internal to src/server.
#pragma once

#include <list>
#include <memory>

namespace mx::server {

class Connection {
 public:
  virtual ~Connection() = default;
  using List = std::list<std::shared_ptr<Connection>>;

  // Takes over: `self` is this connection's entry in its worker's list (erased at close).
  virtual void start(List::iterator self) = 0;
  // Graceful: finish what is in progress, then close (SMTP: 421 4.3.2 between transactions).
  virtual void drain() = 0;
  // After the drain deadline: close now, unless a commit is in flight (it completes first).
  virtual void forceClose() = 0;
};

}  // namespace mx::server
