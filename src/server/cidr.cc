// server/cidr.cc — see cidr.h.
#include "server/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace mx::server {

std::optional<IpBytes> parseIpAddress(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpBytes out{};
  unsigned char v4[4];
  if (inet_pton(AF_INET, buf, v4) == 1) {
    out[10] = out[11] = 0xFF;
    std::memcpy(out.data() + 12, v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, buf, out.data()) == 1) return out;
  return std::nullopt;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  Cidr c;
  c.text_ = std::string(text);
  size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  auto ip = parseIpAddress(addr);
  if (!ip) return std::nullopt;
  bool v4 = addr.find(':') == std::string_view::npos;
  int max_bits = v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view b = text.substr(slash + 1);
    auto r = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (b.empty() || r.ec != std::errc() || r.ptr != b.data() + b.size() || bits < 0 ||
        bits > max_bits)
      return std::nullopt;
  }
  c.prefix_bits_ = v4 ? bits + 96 : bits;
  c.net_ = *ip;
  // Clear host bits so that "10.1.2.3/8" means 10.0.0.0/8.
  for (int i = 0; i < 16; ++i) {
    int keep = c.prefix_bits_ - i * 8;
    if (keep >= 8) continue;
    c.net_[i] &= keep <= 0 ? 0 : static_cast<uint8_t>(0xFF << (8 - keep));
  }
  return c;
}

bool Cidr::contains(const IpBytes& ip) const {
  int full = prefix_bits_ / 8, rest = prefix_bits_ % 8;
  if (std::memcmp(ip.data(), net_.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (ip[full] & mask) == net_[full];
}

bool CidrSet::contains(std::string_view ip_text) const {
  auto ip = parseIpAddress(ip_text);
  if (!ip) return false;
  for (const auto& c : cidrs_) {
    if (c.contains(*ip)) return true;
  }
  return false;
}

}  // namespace mx::server
