// server/cidr.h — IPv4/IPv6 network prefixes ("10.0.0.0/8", "2001:db8::/32") and a set of
// them, for "trusted proxies" and per-network policy. IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d) match IPv4 prefixes, since a dual-stack socket reports them that way.
// Trust: parse() takes config text and reports errors; contains() takes any address text.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mx::server {

// An address normalised to 16 bytes (IPv4 as IPv4-mapped IPv6).
using IpBytes = std::array<uint8_t, 16>;
std::optional<IpBytes> parseIpAddress(std::string_view text);

class Cidr {
 public:
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpBytes& ip) const;
  const std::string& text() const { return text_; }

 private:
  IpBytes net_{};
  int prefix_bits_ = 0;  // over the 128-bit normalised form
  std::string text_;
};

class CidrSet {
 public:
  void add(Cidr c) { cidrs_.push_back(std::move(c)); }
  bool contains(std::string_view ip_text) const;
  bool empty() const { return cidrs_.empty(); }

 private:
  std::vector<Cidr> cidrs_;
};

}  // namespace mx::server
