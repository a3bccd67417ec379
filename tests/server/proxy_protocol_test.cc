// Tests for server/proxy_protocol: v1 and v2 headers, TLVs (incl. AWS 0xEA, which HAProxy
// cannot emit, so it is crafted here), and rejection of malformed input at every prefix.
#include "server/proxy_protocol.h"

#include <gtest/gtest.h>

namespace mx::server {
namespace {

std::string v2(uint8_t ver_cmd, uint8_t fam, const std::string& body) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += static_cast<char>(ver_cmd);
  h += static_cast<char>(fam);
  h += static_cast<char>(body.size() >> 8);
  h += static_cast<char>(body.size() & 0xFF);
  return h + body;
}

std::string ipv4Block() {
  return std::string("\xC0\x00\x02\x01" "\x0A\x00\x00\x01" "\xD4\x31" "\x00\x19", 12);
}

// Every strict prefix of a valid header must ask for more, never fail or succeed.
void expectPrefixesNeedMore(const std::string& header) {
  for (size_t n = 0; n < header.size(); ++n) {
    auto r = parseProxyHeader(std::string_view(header).substr(0, n));
    ASSERT_EQ(r.status, ProxyParseStatus::kNeedMore) << "prefix length " << n;
  }
}

TEST(ProxyProtocol, V1Tcp4) {
  std::string h = "PROXY TCP4 192.0.2.1 10.0.0.1 54321 25\r\n";
  expectPrefixesNeedMore(h);
  auto r = parseProxyHeader(h + "EHLO x\r\n");
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, h.size());
  EXPECT_EQ(r.header.version, 1);
  EXPECT_EQ(r.header.source_ip, "192.0.2.1");
  EXPECT_EQ(r.header.source_port, 54321);
  EXPECT_EQ(r.header.dest_ip, "10.0.0.1");
  EXPECT_EQ(r.header.dest_port, 25);
}

TEST(ProxyProtocol, V1Tcp6AndUnknown) {
  auto r = parseProxyHeader("PROXY TCP6 2001:db8::1 2001:db8::2 1000 587\r\n");
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.header.source_ip, "2001:db8::1");
  auto u = parseProxyHeader("PROXY UNKNOWN ffff:f...f:ffff 1 2\r\n");
  ASSERT_EQ(u.status, ProxyParseStatus::kDone);
  EXPECT_TRUE(u.header.local);
}

TEST(ProxyProtocol, V1Rejects) {
  const char* bad[] = {
      "PROXY TCP4 192.0.2.1 10.0.0.1 54321\r\n",         // missing field
      "PROXY TCP4 192.0.2.1 10.0.0.1 54321 25 x\r\n",    // extra field
      "PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n",         // family mismatch
      "PROXY TCP4 192.0.2.1 10.0.0.1 65536 25\r\n",      // port range
      "PROXY TCP4 192.0.2.1 10.0.0.1 025 25\r\n",        // leading zero
      "PROXY TCP4  192.0.2.1 10.0.0.1 1 25\r\n",         // double space
      "PROXY UDP4 192.0.2.1 10.0.0.1 1 25\r\n",          // protocol
      "PROXY TCP4 192.0.2.1 10.0.0.1 1 25\n",            // bare LF
      "EHLO example.com\r\n",                            // no header at all
  };
  for (const char* b : bad) {
    EXPECT_EQ(parseProxyHeader(b).status, ProxyParseStatus::kInvalid) << b;
  }
  std::string longline = "PROXY TCP4 " + std::string(120, '1');
  EXPECT_EQ(parseProxyHeader(longline).status, ProxyParseStatus::kInvalid);
}

TEST(ProxyProtocol, V2Ipv4WithTlvs) {
  std::string tlv_aws = std::string("\xEA\x00\x0E\x01", 4) + "vpce-0123abcd";
  std::string tlv_ssl = std::string("\x20\x00\x05\x01\x00\x00\x00\x00", 8);
  std::string tlv_auth = std::string("\x02\x00\x0B", 3) + "mx.test.com";
  std::string h = v2(0x21, 0x11, ipv4Block() + tlv_aws + tlv_ssl + tlv_auth);
  expectPrefixesNeedMore(h);
  auto r = parseProxyHeader(h + "EHLO");
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, h.size());
  EXPECT_EQ(r.header.version, 2);
  EXPECT_EQ(r.header.source_ip, "192.0.2.1");
  EXPECT_EQ(r.header.source_port, 54321);
  EXPECT_EQ(r.header.dest_port, 25);
  EXPECT_EQ(r.header.aws_vpce_id, "vpce-0123abcd");
  EXPECT_TRUE(r.header.ssl);
  EXPECT_EQ(r.header.authority, "mx.test.com");
}

TEST(ProxyProtocol, V2Ipv6AndLocal) {
  std::string a(36, '\0');
  a[0] = '\x20'; a[1] = '\x01'; a[2] = '\x0d'; a[3] = '\xb8'; a[15] = '\x07';
  a[32] = '\x04'; a[33] = '\xD2';
  auto r = parseProxyHeader(v2(0x21, 0x21, a));
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.header.source_ip, "2001:db8::7");
  EXPECT_EQ(r.header.source_port, 1234);
  auto l = parseProxyHeader(v2(0x20, 0x00, ""));
  ASSERT_EQ(l.status, ProxyParseStatus::kDone);
  EXPECT_TRUE(l.header.local);
}

TEST(ProxyProtocol, V2Rejects) {
  EXPECT_EQ(parseProxyHeader(v2(0x11, 0x11, ipv4Block())).status, ProxyParseStatus::kInvalid);
  EXPECT_EQ(parseProxyHeader(v2(0x22, 0x11, ipv4Block())).status, ProxyParseStatus::kInvalid);
  EXPECT_EQ(parseProxyHeader(v2(0x21, 0x11, ipv4Block().substr(0, 8))).status,
            ProxyParseStatus::kInvalid);
  EXPECT_EQ(parseProxyHeader(v2(0x21, 0x12, ipv4Block())).status, ProxyParseStatus::kInvalid);
  std::string overrun = ipv4Block() + std::string("\xEA\x00\x30\x01", 4);
  EXPECT_EQ(parseProxyHeader(v2(0x21, 0x11, overrun)).status, ProxyParseStatus::kInvalid);
}

}  // namespace
}  // namespace mx::server
