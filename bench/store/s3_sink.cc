// bench/store/s3_sink.cc — a small, fast S3-compatible endpoint for benchmarks: it answers
// PutObject and the multipart calls (CreateMultipartUpload, UploadPart,
// CompleteMultipartUpload, AbortMultipartUpload) like S3 does (ETag header, XML bodies),
// verifies x-amz-checksum-sha256 when sent (400 BadDigest otherwise, as S3), and keeps
// nothing: GET and HEAD answer 404 NoSuchKey. It does NOT verify signatures. The store's
// "postfix smtp-sink". HTTP/1.1 keep-alive on Boost.Beast, one thread per connection.
//
// Specs: Amazon S3 API Reference (the calls above, "Error responses"), RFC 9112.
// Usage: s3_sink [--listen 127.0.0.1] --port N [--stats-file PATH]
//   Prints "listening PORT" when ready; on SIGTERM/SIGINT writes (to stdout, or PATH)
//   "objects N multipart N parts N bytes N bad_digests N requests N" and exits.
// Trust: a benchmark tool for loopback; requests are parsed by Beast with a 6 GiB body limit.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/base64.h"
#include "core/sha256.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

using namespace mx;

namespace {

std::atomic<uint64_t> g_objects{0}, g_multipart{0}, g_parts{0}, g_bytes{0}, g_bad{0}, g_requests{0}, g_upload_ids{0};

std::string queryOf(std::string_view target) {
  size_t q = target.find('?');
  return q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
}

bool hasParam(const std::string& q, std::string_view name) {
  size_t pos = 0;
  while (pos <= q.size()) {
    size_t end = q.find('&', pos);
    std::string_view p = std::string_view(q).substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (p == name || p.substr(0, name.size() + 1) == std::string(name) + "=") return true;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return false;
}

bhttp::response<bhttp::string_body> xml(int status, std::string body, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> r{static_cast<bhttp::status>(status), version};
  r.set(bhttp::field::server, "s3_sink");
  r.set(bhttp::field::content_type, "application/xml");
  r.set("x-amz-request-id", "0000000000000000");
  r.keep_alive(keep_alive);
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

std::string error(std::string_view code, std::string_view message) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) + "</Code><Message>" +
         std::string(message) + "</Message></Error>";
}

bhttp::response<bhttp::string_body> handle(bhttp::request<bhttp::string_body>& req) {
  ++g_requests;
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  const std::string q = queryOf(std::string_view(req.target().data(), req.target().size()));
  const std::string& body = req.body();
  auto verb = req.method();
  if (verb == bhttp::verb::put) {
    Sha256Digest d = sha256(body);
    std::string b64 = base64Encode(asBytes(d));
    auto sent = req.find("x-amz-checksum-sha256");
    if (sent != req.end() && std::string_view(sent->value().data(), sent->value().size()) != b64) {
      ++g_bad;
      return xml(400, error("BadDigest", "The SHA256 you specified did not match the calculated checksum."), v, ka);
    }
    auto r = xml(200, "", v, ka);
    r.set(bhttp::field::etag, "\"" + toHex(d.data(), 16) + "\"");
    if (sent != req.end()) r.set("x-amz-checksum-sha256", b64);
    g_bytes += body.size();
    if (hasParam(q, "partNumber")) {
      ++g_parts;
    } else {
      ++g_objects;
    }
    return r;
  }
  if (verb == bhttp::verb::post && hasParam(q, "uploads")) {
    return xml(
        200,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
        "<UploadId>sink-" +
            std::to_string(++g_upload_ids) + "</UploadId></InitiateMultipartUploadResult>",
        v, ka);
  }
  if (verb == bhttp::verb::post && hasParam(q, "uploadId")) {
    ++g_objects;
    ++g_multipart;
    return xml(
        200,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
        "<ETag>\"multipart-1\"</ETag></CompleteMultipartUploadResult>",
        v, ka);
  }
  if (verb == bhttp::verb::delete_) {
    auto r = xml(204, "", v, ka);
    r.body().clear();
    r.prepare_payload();
    return r;
  }
  return xml(404, verb == bhttp::verb::head ? "" : error("NoSuchKey", "The specified key does not exist."), v, ka);
}

void session(tcp::socket sock) {
  beast::flat_buffer buf;
  beast::error_code ec;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(6ull << 30);
    parser.header_limit(64 * 1024);
    bhttp::read(sock, buf, parser, ec);
    if (ec) return;
    auto req = parser.release();
    auto resp = handle(req);
    if (req.method() == bhttp::verb::head) {
      bhttp::response_serializer<bhttp::string_body> sr{resp};
      bhttp::write_header(sock, sr, ec);
    } else {
      bhttp::write(sock, resp, ec);
    }
    if (ec || !resp.keep_alive()) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1", stats_file;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--listen")
      listen = argv[i + 1];
    else if (a == "--port")
      port = std::atoi(argv[i + 1]);
    else if (a == "--stats-file")
      stats_file = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: s3_sink [--listen ADDR] --port N [--stats-file PATH]\n");
      return 2;
    }
  }
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(listen), static_cast<unsigned short>(port)));
  std::printf("listening %u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  std::thread([&acceptor] {
    for (;;) {
      beast::error_code ec;
      tcp::socket s = acceptor.accept(ec);
      if (ec) continue;
      s.set_option(tcp::no_delay(true), ec);
      std::thread(session, std::move(s)).detach();
    }
  }).detach();
  int sig = 0;
  sigwait(&sigs, &sig);
  FILE* out = stats_file.empty() ? stdout : std::fopen(stats_file.c_str(), "w");
  if (out) {
    std::fprintf(out, "objects %llu multipart %llu parts %llu bytes %llu bad_digests %llu requests %llu\n",
                 (unsigned long long)g_objects.load(), (unsigned long long)g_multipart.load(),
                 (unsigned long long)g_parts.load(), (unsigned long long)g_bytes.load(),
                 (unsigned long long)g_bad.load(), (unsigned long long)g_requests.load());
    std::fflush(out);
  }
  _exit(0);
}
