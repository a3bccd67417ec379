// server/worker.h — one event-loop thread and everything it owns: its io_context, one
// SO_REUSEPORT acceptor per listener, its Reception (spool lane + id generator), the 64 KiB
// read buffer shared by its plaintext connections, and the list of its connections (for
// drain). Internal to src/server.
// Threads: everything here is touched only by the worker's own thread, except `ioc`
// (post() from anywhere), `thread` and the probe counters (atomics).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <list>
#include <memory>
#include <thread>
#include <vector>

#include "server/connection.h"
#include "server/reception.h"
#include "server/server_shared.h"

namespace mx::server {

struct Worker {
  static constexpr size_t kReadBufferBytes = 64 * 1024;

  Worker(ServerShared& s, size_t i, spool::Lane& lane, uint64_t seed, AckGate* ack_gate)
      : shared(s), index(i), reception(lane, s.clock(), seed, ack_gate), read_buffer(new char[kReadBufferBytes]) {}

  ServerShared& shared;
  size_t index;
  boost::asio::io_context ioc{1};
  Reception reception;
  std::unique_ptr<char[]> read_buffer;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors;
  Connection::List connections;
  std::thread thread;
  std::thread::id thread_id;  // set by the thread itself before its loop runs
  // Server::loopsResponsive(): probes posted to this loop, and probes it has run.
  std::atomic<uint64_t> probes_posted{0}, probes_run{0};
};

}  // namespace mx::server
