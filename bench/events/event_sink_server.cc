// bench/events/event_sink_server.cc — a small, fast HTTP/1.1 receiver for the event-delivery
// benchmark (bench/events/run.sh): the events' "postfix smtp-sink". Two modes:
//
//   --mode webhook  answers every POST 204 once the Standard Webhooks headers are there
//                   (webhook-id, webhook-timestamp, webhook-signature "v1,..."); with
//                   --secret (whsec_<base64> or raw) it also checks the HMAC-SHA256
//                   signature of "<id>.<timestamp>.<body>" (401 when none matches). The
//                   event id is the webhook-id (mxgate sends the CloudEvents id there).
//   --mode sqs      answers AWS JSON 1.0 `X-Amz-Target: AmazonSQS.SendMessageBatch` as SQS
//                   does: {"Successful":[{"Id","MessageId","MD5OfMessageBody"}],"Failed":[]}
//                   for every entry. The request must carry a SigV4 Authorization header
//                   (its presence is checked, not the signature: 403
//                   MissingAuthenticationToken otherwise). The event id is the `id` member
//                   of each entry's MessageBody (a CloudEvents JSON text). Other targets get
//                   400 InvalidAction. MD5OfMessageAttributes is not sent (mxgate ignores it).
//
// For each event it records the receive time (when the whole request was read) against
// the event id, a ULID whose first 48 bits are the Unix ms at which mxgate accepted the
// message (just before its 250): latency = receive time - id time. A repeated id (an
// at-least-once redelivery) counts as a duplicate, not as an event, and keeps its first time.
//
//   GET /stats   the figures as one line (below); POST /reset zeroes them.
//   SIGTERM/SIGINT: writes the line to stdout, or to --stats-file, and exits 0.
//   "events N duplicates N requests N bad N first_id_ms T first_recv_ms T last_recv_ms T
//    p50_ms X p99_ms X max_ms X"  (T: Unix ms with microseconds; X: ms; 0 when no event)
//
// Specs: RFC 9112 (message framing: Content-Length only; chunked bodies get 411 and the
// connection closes), Standard Webhooks 1.0 (signature scheme v1), Amazon SQS API
// Reference (SendMessageBatch, AWS JSON 1.0 protocol), ULID spec (Crockford base32).
// Design: one thread, epoll (level-triggered), non-blocking sockets, keep-alive, pipelined
// requests answered in order; any number of connections (up to the fd limit).
// Trust: a benchmark tool for loopback. Requests are parsed defensively (header block at
// most 64 KiB, body at most 16 MiB: otherwise 413/431 and close; a malformed request line
// or JSON body gets 400 and counts as bad), but nothing else is hardened.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/base64.h"
#include "core/message_id.h"
#include "core/sha256.h"

namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxBodyBytes = 16 * 1024 * 1024;

enum class Mode { kWebhook, kSqs };

// ---------------------------------------------------------------------------------------------
// Figures.

struct Stats {
  uint64_t requests = 0, bad = 0, duplicates = 0;
  double first_id_ms = 0, first_recv_ms = 0, last_recv_ms = 0;
  std::unordered_set<std::string> ids;
  std::vector<double> latencies_ms;

  void reset() { *this = Stats(); }

  void record(std::string_view id, double recv_ms) {
    if (!ids.emplace(id).second) {
      ++duplicates;
      return;
    }
    auto parsed = mx::MessageId::parse(id);
    const double id_ms = parsed ? static_cast<double>(parsed->millis()) : recv_ms;
    if (first_id_ms == 0 || id_ms < first_id_ms) first_id_ms = id_ms;
    if (first_recv_ms == 0) first_recv_ms = recv_ms;
    last_recv_ms = recv_ms;
    latencies_ms.push_back(recv_ms - id_ms);
  }

  std::string line() {
    double p50 = 0, p99 = 0, max = 0;
    if (!latencies_ms.empty()) {
      std::vector<double> v = latencies_ms;
      std::sort(v.begin(), v.end());
      auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))]; };
      p50 = at(0.5);
      p99 = at(0.99);
      max = v.back();
    }
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "events %zu duplicates %llu requests %llu bad %llu first_id_ms %.3f first_recv_ms %.3f "
                  "last_recv_ms %.3f p50_ms %.3f p99_ms %.3f max_ms %.3f\n",
                  ids.size(), static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(requests),
                  static_cast<unsigned long long>(bad), first_id_ms, first_recv_ms, last_recv_ms, p50, p99, max);
    return buf;
  }
};

double nowUnixMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// A minimal JSON reader: enough to walk SendMessageBatch's request and a CloudEvents text
// without building a tree. Every function returns false on malformed input.

struct JsonCursor {
  std::string_view s;
  size_t i = 0;

  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(uint32_t& v) {
    if (i + 4 > s.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s[i++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }
  // A string; decoded into *out when out is not null (RFC 8259 section 7).
  bool str(std::string* out) {
    ws();
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    for (;;) {
      // Copy the run up to the next quote or backslash at once.
      size_t j = i;
      while (j < s.size() && s[j] != '"' && s[j] != '\\') ++j;
      if (j >= s.size()) return false;
      if (out) out->append(s.data() + i, j - i);
      i = j;
      if (s[i] == '"') {
        ++i;
        return true;
      }
      if (++i >= s.size()) return false;
      char e = s[i++];
      char c = 0;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          c = e;
          break;
        case 'b':
          c = '\b';
          break;
        case 'f':
          c = '\f';
          break;
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case 't':
          c = '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < s.size() && s[i] == '\\' && s[i + 1] == 'u') {
            i += 2;
            uint32_t lo = 0;
            if (!hex4(lo) || lo < 0xDC00 || lo >= 0xE000) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          if (out) utf8(*out, cp);
          continue;
        }
        default:
          return false;
      }
      if (out) *out += c;
    }
  }
  bool skip(int depth = 0) {
    if (depth > 64) return false;
    ws();
    if (i >= s.size()) return false;
    char c = s[i];
    if (c == '"') return str(nullptr);
    if (c == '{') {
      ++i;
      if (eat('}')) return true;
      do {
        if (!str(nullptr) || !eat(':') || !skip(depth + 1)) return false;
      } while (eat(','));
      return eat('}');
    }
    if (c == '[') {
      ++i;
      if (eat(']')) return true;
      do {
        if (!skip(depth + 1)) return false;
      } while (eat(','));
      return eat(']');
    }
    // A number, true, false or null: the run of their characters.
    size_t j = i;
    while (j < s.size() && std::strchr("0123456789+-.eEtruefalsn", s[j]) != nullptr) ++j;
    if (j == i) return false;
    i = j;
    return true;
  }
  // Walks the members of an object; `member(key)` reads the value (or returns false to
  // have it skipped by the caller: it must then leave the cursor untouched).
  template <typename F>
  bool object(F&& member) {
    if (!eat('{')) return false;
    if (eat('}')) return true;
    std::string key;
    do {
      key.clear();
      if (!str(&key) || !eat(':')) return false;
      int r = member(key);
      if (r < 0) return false;
      if (r == 0 && !skip()) return false;
    } while (eat(','));
    return eat('}');
  }
};

// The top-level "id" of a CloudEvents JSON text.
bool cloudEventId(std::string_view json, std::string* id) {
  JsonCursor c{json};
  bool found = false;
  bool ok = c.object([&](const std::string& key) -> int {
    if (key != "id" || found) return 0;
    found = true;
    return c.str(id) ? 1 : -1;
  });
  return ok && found;
}

struct SqsEntry {
  std::string id, body;
};

// SendMessageBatch's Entries: each entry's Id and MessageBody.
bool sqsEntries(std::string_view json, std::vector<SqsEntry>* out) {
  JsonCursor c{json};
  bool ok = c.object([&](const std::string& key) -> int {
    if (key != "Entries") return 0;
    if (!c.eat('[')) return -1;
    if (c.eat(']')) return 1;
    do {
      SqsEntry e;
      bool has_id = false, has_body = false;
      if (!c.object([&](const std::string& k) -> int {
            if (k == "Id") return (has_id = c.str(&e.id)) ? 1 : -1;
            if (k == "MessageBody") return (has_body = c.str(&e.body)) ? 1 : -1;
            return 0;
          })) {
        return -1;
      }
      if (!has_id || !has_body) return -1;
      out->push_back(std::move(e));
    } while (c.eat(','));
    return c.eat(']') ? 1 : -1;
  });
  return ok && !out->empty();
}

// ---------------------------------------------------------------------------------------------
// HTTP.

struct Request {
  std::string_view method, target;
  bool http10 = false, close = false;
  std::string_view webhook_id, webhook_ts, webhook_sig, authorization, amz_target;
  std::string_view body;
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (std::tolower(static_cast<unsigned char>(a[k])) != std::tolower(static_cast<unsigned char>(b[k]))) return false;
  }
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

std::string response(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                     bool close) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  if (!content_type.empty()) r += "Content-Type: " + std::string(content_type) + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (close) r += "Connection: close\r\n";
  r += "\r\n";
  r.append(body);
  return r;
}

class Server {
 public:
  Server(Mode mode, std::string key) : mode_(mode), key_(std::move(key)) {
    md5_ = EVP_MD_fetch(nullptr, "MD5", nullptr);
    md_ctx_ = EVP_MD_CTX_new();
  }

  Stats& stats() { return stats_; }

  // Handles one complete request; appends the answer to `out`. Returns false to close.
  bool handle(const Request& rq, std::string& out) {
    const double recv_ms = nowUnixMs();
    bool close = rq.close;
    if (rq.method == "GET" && rq.target == "/stats") {
      out += response(200, "OK", "text/plain", stats_.line(), close);
      return !close;
    }
    if (rq.method == "POST" && rq.target == "/reset") {
      stats_.reset();
      out += response(204, "No Content", "", "", close);
      return !close;
    }
    ++stats_.requests;
    if (rq.method != "POST") {
      ++stats_.bad;
      out += response(405, "Method Not Allowed", "", "", close);
      return !close;
    }
    if (mode_ == Mode::kWebhook) {
      out += webhook(rq, recv_ms, close);
    } else {
      out += sqs(rq, recv_ms, close);
    }
    return !close;
  }

 private:
  std::string webhook(const Request& rq, double recv_ms, bool close) {
    if (rq.webhook_id.empty() || rq.webhook_ts.empty() || rq.webhook_sig.find("v1,") == std::string_view::npos) {
      ++stats_.bad;
      return response(400, "Bad Request", "text/plain", "missing Standard Webhooks headers\n", close);
    }
    if (!key_.empty()) {
      std::string content;
      content.reserve(rq.webhook_id.size() + rq.webhook_ts.size() + rq.body.size() + 2);
      content.append(rq.webhook_id).append(".").append(rq.webhook_ts).append(".").append(rq.body);
      const std::string want = "v1," + mx::base64Encode(mx::asBytes(mx::hmacSha256(key_, content)));
      bool match = false;
      std::string_view sigs = rq.webhook_sig;
      while (!sigs.empty() && !match) {
        size_t sp = sigs.find(' ');
        match = sigs.substr(0, sp) == want;
        sigs = sp == std::string_view::npos ? std::string_view() : sigs.substr(sp + 1);
      }
      if (!match) {
        ++stats_.bad;
        return response(401, "Unauthorized", "text/plain", "bad webhook-signature\n", close);
      }
    }
    stats_.record(rq.webhook_id, recv_ms);
    return response(204, "No Content", "", "", close);
  }

  std::string sqsError(int status, std::string_view reason, std::string_view type, std::string_view message,
                       bool close) {
    ++stats_.bad;
    std::string body =
        "{\"__type\":\"com.amazonaws.sqs#" + std::string(type) + "\",\"message\":\"" + std::string(message) + "\"}";
    return response(status, reason, "application/x-amz-json-1.0", body, close);
  }

  std::string md5Hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestInit_ex(md_ctx_, md5_, nullptr);
    EVP_DigestUpdate(md_ctx_, data.data(), data.size());
    EVP_DigestFinal_ex(md_ctx_, md, &n);
    return mx::toHex(md, n);
  }

  std::string sqs(const Request& rq, double recv_ms, bool close) {
    if (rq.authorization.substr(0, 17) != "AWS4-HMAC-SHA256 ") {
      return sqsError(403, "Forbidden", "MissingAuthenticationToken", "no SigV4 Authorization header", close);
    }
    if (rq.amz_target != "AmazonSQS.SendMessageBatch") {
      return sqsError(400, "Bad Request", "InvalidAction", "only AmazonSQS.SendMessageBatch is served", close);
    }
    entries_.clear();
    if (!sqsEntries(rq.body, &entries_)) {
      return sqsError(400, "Bad Request", "InvalidParameterValue", "malformed SendMessageBatch body", close);
    }
    ids_.resize(entries_.size());
    for (size_t k = 0; k < entries_.size(); ++k) {
      ids_[k].clear();
      if (!cloudEventId(entries_[k].body, &ids_[k])) {
        return sqsError(400, "Bad Request", "InvalidParameterValue", "a MessageBody without a CloudEvents id", close);
      }
    }
    std::string body = "{\"Successful\":[";
    for (size_t k = 0; k < entries_.size(); ++k) {
      const SqsEntry& e = entries_[k];
      stats_.record(ids_[k], recv_ms);
      char mid[40];
      std::snprintf(mid, sizeof mid, "00000000-0000-4000-8000-%012llx",
                    static_cast<unsigned long long>(++message_ids_));
      if (k) body += ',';
      // The entry Ids are mxgate's (small decimal indexes); echoed as read, quotes escaped.
      std::string safe_id;
      for (char c : e.id) {
        if (c == '"' || c == '\\') safe_id += '\\';
        safe_id += c;
      }
      body +=
          "{\"Id\":\"" + safe_id + "\",\"MessageId\":\"" + mid + "\",\"MD5OfMessageBody\":\"" + md5Hex(e.body) + "\"}";
    }
    body += "],\"Failed\":[]}";
    std::string r = response(200, "OK", "application/x-amz-json-1.0", body, close);
    return r;
  }

  Mode mode_;
  std::string key_;
  Stats stats_;
  std::vector<SqsEntry> entries_;
  std::vector<std::string> ids_;
  uint64_t message_ids_ = 0;
  EVP_MD* md5_ = nullptr;
  EVP_MD_CTX* md_ctx_ = nullptr;
};

struct Conn {
  int fd = -1;
  std::string in, out;
  size_t out_off = 0;
  bool closing = false;  // close once `out` is written
  bool want_out = false;
};

// Parses one request at the front of `buf`. Returns the bytes it takes, 0 when more input
// is needed, or -status for a framing error (answered with that status, then closed).
long parseRequest(std::string_view buf, Request* rq) {
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) return buf.size() > kMaxHeaderBytes ? -431 : 0;
  if (end > kMaxHeaderBytes) return -431;
  std::string_view head = buf.substr(0, end);
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return -400;
  *rq = Request();
  rq->method = line.substr(0, sp1);
  rq->target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.0") {
    rq->http10 = true;
    rq->close = true;
  } else if (version != "HTTP/1.1") {
    return -505;
  }
  size_t length = 0;
  bool chunked = false;
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!rest.empty()) {
    size_t e = rest.find("\r\n");
    std::string_view h = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    size_t colon = h.find(':');
    if (colon == std::string_view::npos) return -400;
    std::string_view name = h.substr(0, colon), value = trim(h.substr(colon + 1));
    if (iequals(name, "content-length")) {
      length = 0;
      if (value.empty() || value.size() > 9) return -400;
      for (char c : value) {
        if (c < '0' || c > '9') return -400;
        length = length * 10 + static_cast<size_t>(c - '0');
      }
      if (length > kMaxBodyBytes) return -413;
    } else if (iequals(name, "transfer-encoding")) {
      chunked = true;
    } else if (iequals(name, "connection")) {
      if (iequals(value, "close")) rq->close = true;
      if (iequals(value, "keep-alive")) rq->close = false;
    } else if (iequals(name, "webhook-id")) {
      rq->webhook_id = value;
    } else if (iequals(name, "webhook-timestamp")) {
      rq->webhook_ts = value;
    } else if (iequals(name, "webhook-signature")) {
      rq->webhook_sig = value;
    } else if (iequals(name, "authorization")) {
      rq->authorization = value;
    } else if (iequals(name, "x-amz-target")) {
      rq->amz_target = value;
    }
  }
  if (chunked) return -411;
  if (buf.size() < end + 4 + length) return 0;
  rq->body = buf.substr(end + 4, length);
  return static_cast<long>(end + 4 + length);
}

const char* reasonOf(int status) {
  switch (status) {
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Bad Request";
  }
}

void writeStats(Stats& stats, const std::string& path) {
  FILE* out = path.empty() ? stdout : std::fopen(path.c_str(), "w");
  if (out == nullptr) return;
  std::string l = stats.line();
  std::fputs(l.c_str(), out);
  std::fflush(out);
  if (out != stdout) std::fclose(out);
}

int usage() {
  std::fprintf(stderr,
               "usage: event_sink_server --mode webhook|sqs [--listen 127.0.0.1] [--port N] [--secret S] "
               "[--stats-file PATH]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_addr = "127.0.0.1", stats_file, secret, mode_name;
  int port = 0;
  for (int a = 1; a + 1 < argc; a += 2) {
    std::string k = argv[a];
    if (k == "--mode") {
      mode_name = argv[a + 1];
    } else if (k == "--listen") {
      listen_addr = argv[a + 1];
    } else if (k == "--port") {
      port = std::atoi(argv[a + 1]);
    } else if (k == "--secret") {
      secret = argv[a + 1];
    } else if (k == "--stats-file") {
      stats_file = argv[a + 1];
    } else {
      return usage();
    }
  }
  if (argc % 2 == 0 || (mode_name != "webhook" && mode_name != "sqs")) return usage();
  const Mode mode = mode_name == "webhook" ? Mode::kWebhook : Mode::kSqs;
  std::string key;
  if (!secret.empty()) {
    if (secret.rfind("whsec_", 0) == 0) {
      auto k = mx::base64DecodeStrict(std::string_view(secret).substr(6));
      if (!k) {
        std::fprintf(stderr, "event_sink_server: --secret whsec_ is not base64\n");
        return 2;
      }
      key = std::move(*k);
    } else {
      key = secret;
    }
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigprocmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);

  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, listen_addr.c_str(), &sa.sin_addr) != 1) return usage();
  if (bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(lfd, 1024) != 0) {
    std::fprintf(stderr, "event_sink_server: cannot listen on %s:%d: %s\n", listen_addr.c_str(), port,
                 std::strerror(errno));
    return 1;
  }
  socklen_t sl = sizeof sa;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &sl);
  std::printf("listening %u\n", ntohs(sa.sin_port));
  std::fflush(stdout);

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.fd = sfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

  Server server(mode, key);
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  auto drop = [&](Conn* c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
    close(c->fd);
    conns.erase(c->fd);
  };
  // Writes what it can; false when the connection was closed.
  auto flush = [&](Conn* c) -> bool {
    while (c->out_off < c->out.size()) {
      ssize_t n = write(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        drop(c);
        return false;
      }
      c->out_off += static_cast<size_t>(n);
    }
    if (c->out_off == c->out.size()) {
      c->out.clear();
      c->out_off = 0;
      if (c->closing) {
        drop(c);
        return false;
      }
    }
    const bool want = !c->out.empty();
    if (want != c->want_out) {
      epoll_event e{};
      e.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
      e.data.fd = c->fd;
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
      c->want_out = want;
    }
    return true;
  };

  std::vector<epoll_event> events(256);
  char rbuf[64 * 1024];
  for (;;) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno == EINTR) continue;
    for (int k = 0; k < n; ++k) {
      const int fd = events[k].data.fd;
      if (fd == sfd) {
        writeStats(server.stats(), stats_file);
        _exit(0);
      }
      if (fd == lfd) {
        for (;;) {
          int cfd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto c = std::make_unique<Conn>();
          c->fd = cfd;
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.fd = cfd;
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &e);
          conns[cfd] = std::move(c);
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn* c = it->second.get();
      if (events[k].events & EPOLLOUT) {
        if (!flush(c)) continue;
      }
      if (!(events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      ssize_t r = read(fd, rbuf, sizeof rbuf);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        drop(c);
        continue;
      }
      if (c->closing) continue;  // input after a close answer is ignored
      c->in.append(rbuf, static_cast<size_t>(r));
      size_t off = 0;
      for (;;) {
        Request rq;
        long used = parseRequest(std::string_view(c->in).substr(off), &rq);
        if (used == 0) break;
        if (used < 0) {
          ++server.stats().bad;
          c->out += response(static_cast<int>(-used), reasonOf(static_cast<int>(-used)), "", "", true);
          c->closing = true;
          break;
        }
        off += static_cast<size_t>(used);
        if (!server.handle(rq, c->out)) {
          c->closing = true;
          break;
        }
      }
      c->in.erase(0, off);
      flush(c);
    }
  }
}
