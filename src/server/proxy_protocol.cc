// server/proxy_protocol.cc — see proxy_protocol.h for the standard and trust notes.
#include "server/proxy_protocol.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace mx::server {
namespace {

constexpr char kV2Signature[12] = {'\r', '\n', '\r', '\n', '\0', '\r',
                                   '\n', 'Q',  'U',  'I',  'T',  '\n'};
constexpr size_t kV1MaxBytes = 107;  // spec 2.1: worst case including CRLF

ProxyParseResult invalid(std::string why) {
  ProxyParseResult r;
  r.status = ProxyParseStatus::kInvalid;
  r.error = std::move(why);
  return r;
}

bool parsePort(std::string_view s, uint16_t& out) {
  // Spec 2.1: ports are 1-5 digits, no leading zeros except "0" itself.
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

bool parseIp(std::string_view s, int family, std::string& out) {
  if (s.empty() || s.size() > 45) return false;
  char buf[64];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  unsigned char addr[16];
  if (inet_pton(family, buf, addr) != 1) return false;
  out.assign(s);
  return true;
}

ProxyParseResult parseV1(std::string_view buf) {
  size_t eol = buf.find("\r\n");
  if (eol == std::string_view::npos) {
    if (buf.size() >= kV1MaxBytes) return invalid("PROXY v1 line longer than 107 bytes");
    // Spec 2.1: a bare LF or other control byte is never valid; fail early.
    for (char c : buf) {
      if (c == '\n' || c == '\0') return invalid("PROXY v1 line has a control character");
    }
    return {};
  }
  if (eol + 2 > kV1MaxBytes) return invalid("PROXY v1 line longer than 107 bytes");
  std::string_view line = buf.substr(0, eol);
  // Tokens separated by exactly one space.
  std::string_view tok[6];
  size_t n = 0, start = 0;
  while (true) {
    size_t sp = line.find(' ', start);
    if (n == 6) return invalid("PROXY v1 line has too many fields");
    tok[n++] = line.substr(start, sp == std::string_view::npos ? sp : sp - start);
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  ProxyParseResult r;
  r.consumed = eol + 2;
  r.header.version = 1;
  if (n >= 2 && tok[1] == "UNKNOWN") {
    // Spec 2.1: the receiver must ignore anything after UNKNOWN and use the real addresses.
    r.status = ProxyParseStatus::kDone;
    r.header.local = true;
    return r;
  }
  if (n != 6) return invalid("PROXY v1 line needs 6 fields");
  int family;
  if (tok[1] == "TCP4") family = AF_INET;
  else if (tok[1] == "TCP6") family = AF_INET6;
  else return invalid("PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN");
  if (!parseIp(tok[2], family, r.header.source_ip) || !parseIp(tok[3], family, r.header.dest_ip))
    return invalid("PROXY v1 address is not valid for its family");
  if (!parsePort(tok[4], r.header.source_port) || !parsePort(tok[5], r.header.dest_port))
    return invalid("PROXY v1 port is not valid");
  r.status = ProxyParseStatus::kDone;
  return r;
}

std::string formatIp(int family, const unsigned char* bytes) {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(family, bytes, buf, sizeof buf)) return {};
  return buf;
}

uint16_t be16(const unsigned char* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// Spec 2.2.7 (TLV vectors). Unknown types are skipped; a TLV overrunning its block is invalid.
bool parseTlvs(const unsigned char* p, size_t len, ProxyHeader& h, std::string& error) {
  while (len > 0) {
    if (len < 3) { error = "PROXY v2 TLV truncated"; return false; }
    unsigned type = p[0];
    size_t vlen = be16(p + 1);
    if (vlen > len - 3) { error = "PROXY v2 TLV overruns the header"; return false; }
    const unsigned char* v = p + 3;
    switch (type) {
      case 0x02:  // PP2_TYPE_AUTHORITY
        h.authority.assign(reinterpret_cast<const char*>(v), vlen);
        break;
      case 0x20:  // PP2_TYPE_SSL: client(1) verify(4) then sub-TLVs
        if (vlen >= 1) h.ssl = (v[0] & 0x01) != 0;
        break;
      case 0xEA:  // PP2_TYPE_AWS: subtype 0x01 = VPC endpoint id (PrivateLink)
        if (vlen >= 1 && v[0] == 0x01)
          h.aws_vpce_id.assign(reinterpret_cast<const char*>(v + 1), vlen - 1);
        break;
      default:
        break;
    }
    p += 3 + vlen;
    len -= 3 + vlen;
  }
  return true;
}

ProxyParseResult parseV2(std::string_view buf) {
  if (buf.size() < 16) return {};
  const auto* p = reinterpret_cast<const unsigned char*>(buf.data());
  unsigned ver = p[12] >> 4, cmd = p[12] & 0x0F;
  if (ver != 2) return invalid("PROXY v2 version nibble is not 2");
  if (cmd > 1) return invalid("PROXY v2 command is neither LOCAL nor PROXY");
  size_t len = be16(p + 14);
  if (buf.size() < 16 + len) return {};
  ProxyParseResult r;
  r.consumed = 16 + len;
  r.header.version = 2;
  const unsigned char* a = p + 16;
  unsigned fam = p[13] >> 4, proto = p[13] & 0x0F;
  size_t addr_len = 0;
  if (cmd == 0) {
    // LOCAL: health checks from the proxy itself; addresses are ignored (spec 2.2).
    r.header.local = true;
  } else if (fam == 0x1 && proto == 0x1) {  // TCP over IPv4
    addr_len = 12;
    if (len < addr_len) return invalid("PROXY v2 IPv4 address block too short");
    r.header.source_ip = formatIp(AF_INET, a);
    r.header.dest_ip = formatIp(AF_INET, a + 4);
    r.header.source_port = be16(a + 8);
    r.header.dest_port = be16(a + 10);
  } else if (fam == 0x2 && proto == 0x1) {  // TCP over IPv6
    addr_len = 36;
    if (len < addr_len) return invalid("PROXY v2 IPv6 address block too short");
    r.header.source_ip = formatIp(AF_INET6, a);
    r.header.dest_ip = formatIp(AF_INET6, a + 16);
    r.header.source_port = be16(a + 32);
    r.header.dest_port = be16(a + 34);
  } else if (fam == 0x0) {
    // AF_UNSPEC with PROXY: the sender does not know the addresses; keep ours (spec 2.2).
    r.header.local = true;
  } else {
    return invalid("PROXY v2 address family/protocol is not TCP over IPv4/IPv6");
  }
  if (!r.header.local || addr_len > 0) {
    if (!parseTlvs(a + addr_len, len - addr_len, r.header, r.error)) {
      return invalid(r.error);
    }
  }
  r.status = ProxyParseStatus::kDone;
  return r;
}

}  // namespace

ProxyParseResult parseProxyHeader(std::string_view buffer) {
  if (buffer.empty()) return {};
  // Decide the version from as many signature bytes as we have (spec 2: "PROXY " or the
  // 12-byte v2 signature). A mismatch on any available byte is definitive.
  size_t v1n = std::min<size_t>(buffer.size(), 6);
  if (std::memcmp(buffer.data(), "PROXY ", v1n) == 0) {
    if (buffer.size() < 6) return {};
    return parseV1(buffer);
  }
  size_t v2n = std::min<size_t>(buffer.size(), sizeof kV2Signature);
  if (std::memcmp(buffer.data(), kV2Signature, v2n) == 0) {
    if (buffer.size() < sizeof kV2Signature) return {};
    return parseV2(buffer);
  }
  return invalid("no PROXY protocol header from a peer that must send one");
}

}  // namespace mx::server
