// tests/support/redis_server.h — a real redis-server (PLATFORM.md: `redis-server --bind
// 127.0.0.1 --port PORT --save '' --appendonly no`) on a free loopback port for one test,
// which it can kill (SIGKILL), pause (SIGSTOP/SIGCONT) and restart on the same port. The
// server dies with the test process (PR_SET_PDEATHSIG). command() talks to it with
// hiredis's blocking API (test code only). Header-only; needs libhiredis.
// Trust: test code; binds 127.0.0.1 only.
#pragma once

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace mx::testing {

class RedisServer {
 public:
  ~RedisServer() { stop(); }

  // Starts redis-server on a free port (the same port again after stop()); false with
  // why() when it is not installed or does not answer PING within 10 s.
  bool start() {
    if (port_ == 0) port_ = freePort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::string port = std::to_string(port_);
      (void)std::freopen("/dev/null", "w", stdout);
      ::execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", port.c_str(), "--save", "",
               "--appendonly", "no", nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      if (command("PING") == "PONG") return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        why_ = "redis-server did not start (installed? scripts/install-deps.sh)";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    why_ = "redis-server did not answer PING on port " + std::to_string(port_);
    return false;
  }

  // Kills it hard (SIGKILL: no goodbye on the connections, as a crash).
  void stop() {
    if (pid_ <= 0) return;
    resume();
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

  uint16_t port() const { return port_; }
  const std::string& why() const { return why_; }

  // One command, blocking (1 s timeout): the reply as text (strings, status, errors,
  // integers), "" when there is no connection.
  std::string command(const std::string& cmd) const {
    timeval tv{1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c == nullptr || c->err != 0) {
      if (c) redisFree(c);
      return "";
    }
    redisSetTimeout(c, tv);
    auto* r = static_cast<redisReply*>(redisCommand(c, cmd.c_str()));
    std::string out;
    if (r != nullptr) {
      if (r->type == REDIS_REPLY_INTEGER)
        out = std::to_string(r->integer);
      else if (r->str != nullptr)
        out.assign(r->str, r->len);
      else if (r->type == REDIS_REPLY_ARRAY)
        out = std::to_string(r->elements);
      freeReplyObject(r);
    }
    redisFree(c);
    return out;
  }

 private:
  static uint16_t freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string why_;
};

}  // namespace mx::testing
