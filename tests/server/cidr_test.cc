// Tests for server/cidr.
#include "server/cidr.h"

#include <gtest/gtest.h>

namespace mx::server {
namespace {

TEST(Cidr, Ipv4Prefixes) {
  CidrSet s;
  s.add(*Cidr::parse("10.0.0.0/8"));
  s.add(*Cidr::parse("192.0.2.7"));
  s.add(*Cidr::parse("172.16.5.9/12"));  // host bits cleared
  EXPECT_TRUE(s.contains("10.255.1.2"));
  EXPECT_TRUE(s.contains("192.0.2.7"));
  EXPECT_FALSE(s.contains("192.0.2.8"));
  EXPECT_TRUE(s.contains("172.31.0.1"));
  EXPECT_FALSE(s.contains("172.32.0.1"));
  EXPECT_TRUE(s.contains("::ffff:10.1.1.1"));  // v4-mapped from a dual-stack socket
  EXPECT_FALSE(s.contains("not-an-ip"));
}

TEST(Cidr, Ipv6AndBoundaries) {
  CidrSet s;
  s.add(*Cidr::parse("2001:db8::/33"));
  EXPECT_TRUE(s.contains("2001:db8:7fff::1"));
  EXPECT_FALSE(s.contains("2001:db8:8000::1"));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0").has_value());
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33").has_value());
  EXPECT_FALSE(Cidr::parse("::/129").has_value());
  EXPECT_FALSE(Cidr::parse("10.0.0.0/").has_value());
  EXPECT_FALSE(Cidr::parse("10.0.0/8").has_value());
  CidrSet all;
  all.add(*Cidr::parse("0.0.0.0/0"));
  EXPECT_TRUE(all.contains("8.8.8.8"));
  EXPECT_FALSE(all.contains("2001:db8::1"));
}

}  // namespace
}  // namespace mx::server
