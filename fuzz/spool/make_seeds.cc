// fuzz/spool/make_seeds.cc — writes the seed corpora for the spool fuzz targets into
// fuzz/corpus/spool_envelope_fuzz and fuzz/corpus/spool_segment_fuzz, each file named by
// the SHA-256 of its content (renamed with `sha256sum`, as below).
// Build and run by hand:
//   c++ -std=c++20 -O1 -Isrc fuzz/spool/make_seeds.cc src/spool/crc32c.cc \
//       src/spool/envelope_codec.cc src/spool/record_format.cc src/core/message_id.cc \
//       -o /tmp/make_seeds && /tmp/make_seeds /tmp/seeds
// then move /tmp/seeds/<target>/* into fuzz/corpus/<target>/ renamed by sha256sum.
#include <filesystem>
#include <fstream>
#include <string>

#include "spool/crc32c.h"
#include "spool/envelope_codec.h"
#include "spool/record_format.h"

using namespace mx;
using namespace mx::spool;

namespace {

Envelope sample(int n) {
  Envelope e;
  e.id = MessageId(1700000000000ull + static_cast<uint64_t>(n), static_cast<uint16_t>(n), 42);
  e.received_at = WallTime(std::chrono::nanoseconds(1700000000000000000ll + n));
  e.tenant = n % 2 ? "acme" : "";
  e.listener = "smtp";
  e.mail_from = n % 3 ? "a@example.org" : "";
  for (int i = 0; i < n % 4; ++i) e.rcpt_to.push_back("r" + std::to_string(i) + "@example.com");
  e.helo = std::string("helo\0x", 6);
  e.client_ip = "192.0.2.1";
  e.client_port = 25;
  e.tls_version = n % 2 ? "TLSv1.3" : "";
  e.smtputf8 = n % 2;
  e.esmtp = n % 3 != 0;
  e.chunked = n % 4 == 1;
  e.body = static_cast<BodyType>(n % kBodyTypeCount);
  e.reception = static_cast<Reception>(n % kReceptionCount);
  e.declared_size = n % 2 ? 1000 : 0;
  return e;
}

void write(const std::filesystem::path& p, const std::string& bytes) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path out = argc > 1 ? argv[1] : "seeds";
  for (int n = 0; n < 4; ++n) {
    std::string env;
    encodeEnvelope(sample(n), env);
    write(out / "spool_envelope_fuzz" / ("seed" + std::to_string(n)), env);
  }
  std::string seg;
  for (int n = 1; n <= 3; ++n) {
    std::string env, rec;
    encodeEnvelope(sample(n), env);
    std::string body(static_cast<size_t>(n * 20), static_cast<char>('a' + n));
    std::string spill = n == 2 ? "lane-0000/spill/0123456789abcdef.spill" : "";
    encodeRecordPrefix(0, static_cast<uint64_t>(n), env, spill, body.size(), crc32c(body), rec);
    if (spill.empty()) rec += body;
    seg += rec;
    write(out / "spool_segment_fuzz" / ("seed" + std::to_string(n)), seg);
  }
  write(out / "spool_segment_fuzz" / "seed-torn", seg.substr(0, seg.size() - 7));
  write(out / "spool_segment_fuzz" / "seed-header", encodeSegmentHeader(SegmentHeader{1, 5, 0}));
  return 0;
}
