// tests/spool/spool_test_util.h — helpers shared by the spool tests (and the pipeline
// tests): a self-deleting temporary directory, envelope generators with awkward bytes,
// deterministic bodies, and a synchronous commit.
// Trust: test code only.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "core/envelope.h"
#include "core/message_id.h"
#include "spool/spool.h"

namespace mx::spool::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mxspool-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    if (std::getenv("MX_KEEP_TMP") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A body whose bytes are a function of (seed, size): cheap to regenerate for checking.
inline std::string makeBody(uint64_t seed, size_t size) {
  std::string b(size, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b[i] = static_cast<char>(x);
  }
  return b;
}

// An envelope with every field set, including NUL, CR/LF and invalid UTF-8 bytes.
inline Envelope makeEnvelope(uint64_t n) {
  Envelope e;
  e.id = MessageId(1700000000000ull + n, static_cast<uint16_t>(n * 7), n * 0x1234567ull);
  e.received_at = WallTime(std::chrono::nanoseconds(1700000000123456789ll + static_cast<int64_t>(n)));
  e.tenant = "tenant-" + std::to_string(n % 3);
  e.listener = "smtp";
  e.mail_from = std::string("s\0nder\r\n\xff", 10) + std::to_string(n) + "@example.org";
  e.rcpt_to = {"a@example.com", std::string("b\0@x", 4), "\xC3\xA9t\xC3\xA9@example.fr"};
  for (uint64_t i = 0; i < n % 4; ++i) e.rcpt_to.push_back("extra" + std::to_string(i) + "@e.com");
  e.helo = "mail.example.org";
  e.client_ip = "2001:db8::" + std::to_string(n % 100);
  e.client_port = static_cast<uint16_t>(1024 + n);
  e.proxy_peer_ip = n % 2 ? "10.0.0.1" : "";
  e.tls_version = n % 2 ? "TLSv1.3" : "";
  e.tls_cipher = n % 2 ? "TLS_AES_128_GCM_SHA256" : "";
  e.auth_user = n % 5 == 0 ? "user" : "";
  e.smtputf8 = n % 2 == 0;
  e.body = n % 3 == 0 ? BodyType::kEightBitMime : BodyType::kSevenBit;
  e.esmtp = n % 4 != 1;
  e.chunked = n % 5 == 2;
  e.declared_size = n % 3 == 1 ? 1000 + n : 0;
  e.reception = static_cast<Reception>(n % kReceptionCount);
  return e;
}

// Writes `body` in `chunk`-sized appends and commits; returns the commit's status.
inline Status commitSync(Lane& lane, const Envelope& env, std::string_view body, size_t chunk = 4096) {
  auto w = lane.begin();
  for (size_t i = 0; i < body.size(); i += chunk) {
    if (auto s = w->append(body.substr(i, chunk)); !s.ok()) return s;
  }
  std::promise<std::optional<Error>> p;
  auto f = p.get_future();
  lane.commit(std::move(w), env, [&p](Status s) {
    p.set_value(s.ok() ? std::nullopt : std::optional<Error>(s.error()));
  });
  auto r = f.get();
  if (r) return *r;
  return okStatus();
}

struct ReadRecord {
  Envelope envelope;
  std::string body;
  uint64_t lane;
  uint64_t sequence;
};

// Reads every record currently durable (no waiting once the reader runs dry).
inline std::vector<ReadRecord> drain(Reader& r, bool checkpoint_last = false) {
  std::vector<ReadRecord> out;
  std::optional<Record> last;
  for (;;) {
    auto n = r.next(Millis(0));
    if (!n.ok() || !*n) break;
    out.push_back(ReadRecord{(*n)->envelope, std::string((*n)->body), (*n)->lane, (*n)->sequence});
    last = **n;
  }
  if (checkpoint_last && last) {
    auto s = r.checkpoint(*last);
    (void)s;
  }
  return out;
}

inline SpoolOptions testOptions(const std::string& dir, size_t lanes = 1) {
  SpoolOptions o;
  o.dir = dir;
  o.lanes = lanes;
  o.log = [](std::string_view) {};
  return o;
}

}  // namespace mx::spool::testing
