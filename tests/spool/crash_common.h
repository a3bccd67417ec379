// tests/spool/crash_common.h — what the crash-test helpers commit for a given message id,
// so the checking test can regenerate the exact envelope and body from the id alone.
// Also a small child-process runner: start a helper with its stdout on a pipe, kill -9 it
// at a chosen moment, and collect the complete lines it printed.
// Trust: test code only.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "spool_test_util.h"

namespace mx::spool::testing {

inline uint64_t idHash(const std::string& id) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Mostly small bodies, one in eight well above 64 KiB (spilled with inline_max 64 KiB).
inline size_t crashBodySize(const std::string& id) {
  uint64_t h = idHash(id);
  return (h % 8 == 0) ? 70000 + (h >> 8) % 60000 : (h >> 8) % 3000;
}

inline std::string crashBody(const std::string& id) { return makeBody(idHash(id), crashBodySize(id)); }

inline Envelope crashEnvelope(const MessageId& id) {
  Envelope e = makeEnvelope(idHash(id.toString()) % 1000);
  e.id = id;
  return e;
}

// A child process with its stdout on a pipe.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe(fds) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
    reader_ = std::thread([this] {
      char buf[65536];
      for (;;) {
        ssize_t n = ::read(out_fd_, buf, sizeof buf);
        if (n <= 0) break;
        std::lock_guard l(mu_);
        output_.append(buf, static_cast<size_t>(n));
        cv_.notify_all();
      }
      std::lock_guard l(mu_);
      eof_ = true;
      cv_.notify_all();
    });
  }
  ~Child() {
    if (pid_ > 0) kill9();
  }
  void kill9() {
    ::kill(pid_, SIGKILL);
    wait();
  }
  // Waits for the child to exit; returns its wait status.
  int wait() {
    int status = 0;
    if (pid_ > 0) {
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
    return status;
  }
  // Waits until the child has printed a line starting with `prefix` (true), or exited or
  // `timeout` passed (false).
  bool waitForLine(const std::string& prefix, std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] {
      return eof_ || output_.rfind("\n" + prefix, std::string::npos) != std::string::npos ||
             output_.rfind(prefix, 0) == 0;
    }) && !eof_;
  }
  // Complete lines printed so far (call after wait()).
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    size_t pos = 0;
    for (;;) {
      size_t nl = output_.find('\n', pos);
      if (nl == std::string::npos) break;
      out.push_back(output_.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  bool eof_ = false;
  std::string output_;
  std::thread reader_;
};

}  // namespace mx::spool::testing
