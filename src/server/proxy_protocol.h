// server/proxy_protocol.h — parser for the PROXY protocol header (HAProxy's spec, versions
// 1 and 2) that a TCP load balancer (AWS NLB, HAProxy, Cloudflare Spectrum) puts before the
// client's bytes to tell us the real client address.
//
// Standard: "The PROXY protocol, versions 1 & 2" (haproxy.org/download/2.6/doc/proxy-protocol.txt):
// v1 section 2.1 (text, at most 107 bytes incl. CRLF), v2 section 2.2 (binary, 16-byte
// header + address block + TLVs), TLVs section 2.2.x incl. PP2_TYPE_SSL (0x20) and the AWS
// VPC endpoint TLV (0xEA, subtype 0x01) that NLB sends for PrivateLink.
//
// Trust: the bytes are untrusted. The caller must only parse a header from a peer in the
// configured trusted networks; this parser only guarantees it never reads out of bounds,
// never buffers more than a v2 header can declare (16 + 65535 bytes), and rejects anything
// malformed with a reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mx::server {

struct ProxyHeader {
  int version = 0;            // 1 or 2
  bool local = false;         // v2 LOCAL command or v1 UNKNOWN: keep the socket's addresses
  std::string source_ip;      // textual address of the real client
  uint16_t source_port = 0;
  std::string dest_ip;
  uint16_t dest_port = 0;
  std::string aws_vpce_id;    // TLV 0xEA subtype 0x01, when present
  bool ssl = false;           // PP2_TYPE_SSL client-connected-over-SSL bit
  std::string authority;      // PP2_TYPE_AUTHORITY (SNI), when present
};

enum class ProxyParseStatus { kNeedMore, kDone, kInvalid };

struct ProxyParseResult {
  ProxyParseStatus status = ProxyParseStatus::kNeedMore;
  size_t consumed = 0;        // bytes of the header, valid when kDone
  ProxyHeader header;         // valid when kDone
  std::string error;          // valid when kInvalid
};

// Parses a PROXY header at the start of `buffer`. Returns kNeedMore while the bytes seen so
// far are a valid prefix of a header; the caller appends more and calls again.
ProxyParseResult parseProxyHeader(std::string_view buffer);

// Upper bound on the bytes a header may take (v2 maximum).
constexpr size_t kProxyHeaderMaxBytes = 16 + 65535;

}  // namespace mx::server
