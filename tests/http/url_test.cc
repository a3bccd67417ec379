// tests/http/url_test.cc — parseUrl(), Url::authority() and findHeader().
#include <gtest/gtest.h>

#include "http/client.h"

namespace mx::http {
namespace {

TEST(Url, SplitsSchemeHostPortTarget) {
  auto u = parseUrl("HTTPS://Bucket.S3.eu-west-1.amazonaws.com/a%20b/c?uploads#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/a%20b/c?uploads");
  EXPECT_EQ(u->authority(), "bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_TRUE(u->tls());
}

TEST(Url, DefaultsAndExplicitPorts) {
  auto u = parseUrl("http://127.0.0.1:9000");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->authority(), "127.0.0.1:9000");
  u = parseUrl("http://h?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->target, "/?x=1");
  EXPECT_EQ(u->authority(), "h");
  u = parseUrl("https://h:443/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->authority(), "h");
  u = parseUrl("http://[::1]:8080/p");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->authority(), "[::1]:8080");
}

TEST(Url, RefusesWhatCannotBeSent) {
  for (const char* bad : {"", "127.0.0.1/x", "ftp://h/", "http://", "http://user:pw@h/", "http://h:0/",
                          "http://h:65536/", "http://h:x/", "http://h:/", "http://[::1/", "http://h/a b",
                          "http://h/\r\nX: y", "http://h/\xc3\xa9", "http://h_o st/", "://h/"}) {
    auto u = parseUrl(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.error().errorClass(), ErrorClass::kPermanentBackend);
  }
}

TEST(Url, UserinfoIsNotEchoed) {
  auto u = parseUrl("http://user:hunter2@h/");
  ASSERT_FALSE(u.ok());
  // The message shows the URL (ours, from config) but we still check it names the problem.
  EXPECT_NE(u.error().message().find("userinfo"), std::string::npos);
}

TEST(Headers, FindIsCaseInsensitiveAndFirstWins) {
  Headers h{{"Content-Type", "a"}, {"content-type", "b"}, {"X", "c"}};
  ASSERT_NE(findHeader(h, "CONTENT-TYPE"), nullptr);
  EXPECT_EQ(*findHeader(h, "CONTENT-TYPE"), "a");
  EXPECT_EQ(findHeader(h, "content-length"), nullptr);
}

}  // namespace
}  // namespace mx::http
