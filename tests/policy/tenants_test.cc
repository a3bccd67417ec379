// Tests for policy/tenants: routing, relay protection, postmaster, credentials.
#include "policy/tenants.h"

#include <gtest/gtest.h>

namespace mx::policy {
namespace {

// `openssl passwd -6 -salt testsalt secret`
constexpr const char* kSecretHash =
    "$6$testsalt$51yaaBMXXXt5vK522YOlIMZ267vqHtMIzc2klcsu3EEv/bkRDU9g3UmkypXf.NvlpPpIPK1nX5zdbCeJBiQbB/";

DirectoryPtr makeDirectory() {
  std::string err;
  auto d = Directory::build({{"acme", {"acme.test", "Mail.Acme.Test."}}, {"beta", {"beta.test"}}},
                            {{"alice", kSecretHash, "beta"}}, &err);
  EXPECT_TRUE(d) << err;
  return d;
}

TEST(Directory, RoutesConfiguredDomainsCaseInsensitively) {
  auto d = makeDirectory();
  auto r = d->routeRecipient("Bob@MAIL.acme.test", "");
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.tenant, "acme");
  EXPECT_EQ(d->routeRecipient("x@beta.test.", "").tenant, "beta");
  EXPECT_EQ(d->routeRecipient("\"odd@local\"@beta.test", "").tenant, "beta");
}

TEST(Directory, DeniesRelayUnlessAuthenticated) {
  auto d = makeDirectory();
  auto r = d->routeRecipient("x@elsewhere.example", "");
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.refusal, smtp::ReplyId::kRelayDenied);
  auto a = d->routeRecipient("x@elsewhere.example", "alice");
  EXPECT_TRUE(a.accepted);
  EXPECT_EQ(a.tenant, "beta");
}

TEST(Directory, AcceptsBarePostmaster) {
  auto d = makeDirectory();
  EXPECT_TRUE(d->routeRecipient("PostMaster", "").accepted);
  EXPECT_FALSE(d->routeRecipient("someone", "").accepted);
}

TEST(Directory, Authenticates) {
  auto d = makeDirectory();
  EXPECT_EQ(d->authenticate("alice", "secret"), std::optional<std::string>("beta"));
  EXPECT_FALSE(d->authenticate("alice", "Secret").has_value());
  EXPECT_FALSE(d->authenticate("mallory", "secret").has_value());
  EXPECT_FALSE(d->authenticate("alice", "").has_value());
}

TEST(Directory, WildcardsMatchSubdomainsMostSpecificFirst) {
  std::string err;
  auto d = Directory::build({{"wide", {"*.example.test"}},
                             {"narrow", {"*.eu.example.test"}},
                             {"exact", {"shop.eu.example.test", "example.test."}}},
                            {}, &err);
  ASSERT_TRUE(d) << err;
  EXPECT_EQ(d->routeRecipient("a@x.example.test", "").tenant, "wide");
  EXPECT_EQ(d->routeRecipient("a@y.x.example.test", "").tenant, "wide");       // any depth
  EXPECT_EQ(d->routeRecipient("a@eu.example.test", "").tenant, "wide");        // the apex of *.eu…
  EXPECT_EQ(d->routeRecipient("a@A.EU.Example.Test", "").tenant, "narrow");    // longest suffix wins
  EXPECT_EQ(d->routeRecipient("a@shop.eu.example.test", "").tenant, "exact");  // exact beats wildcard
  EXPECT_EQ(d->routeRecipient("a@example.test", "").tenant, "exact");          // apex only when listed
  EXPECT_FALSE(d->routeRecipient("a@xexample.test", "").accepted);             // not a label boundary
  EXPECT_FALSE(d->routeRecipient("a@test", "").accepted);
}

TEST(Directory, ChecksDomainSyntax) {
  EXPECT_EQ(checkDomain("example.test"), "");
  EXPECT_EQ(checkDomain("*.example.test"), "");
  EXPECT_NE(checkDomain("*"), "");
  EXPECT_NE(checkDomain("*example.test"), "");
  EXPECT_NE(checkDomain("a.*.example.test"), "");
  EXPECT_NE(checkDomain("*.*.example.test"), "");
  EXPECT_NE(checkDomain("a..test"), "");
  EXPECT_NE(checkDomain("a b.test"), "");
  EXPECT_NE(checkDomain("user@test"), "");
  std::string err;
  EXPECT_FALSE(Directory::build({{"a", {"a.*.test"}}}, {}, &err));
  EXPECT_NE(err.find("tenant 'a': domains: 'a.*.test'"), std::string::npos) << err;
  EXPECT_FALSE(Directory::build({{"a", {"*.x.test"}}, {"b", {"*.X.test"}}}, {}, &err));
  EXPECT_NE(err.find("*.x.test"), std::string::npos) << err;
}

TEST(Directory, LargestMessageSizeIsZeroWhenAnyTenantHasNoLimit) {
  std::string err;
  TenantConfig a{"a", {"a.test"}}, b{"b", {"b.test"}};
  a.max_message_size = 100;
  b.max_message_size = 300;
  auto d = Directory::build({a, b}, {}, &err);
  ASSERT_TRUE(d) << err;
  EXPECT_EQ(d->largestMessageSize(), 300u);
  EXPECT_EQ(d->tenant("a")->max_message_size, 100u);
  EXPECT_EQ(d->tenant("nobody"), nullptr);
  b.max_message_size = 0;
  d = Directory::build({a, b}, {}, &err);
  EXPECT_EQ(d->largestMessageSize(), 0u);
}

TenantPolicy listTenant(bool plus = true) {
  TenantConfig t{"acme", {"acme.test", "*.acme.test"}};
  t.recipients.rule = "list";
  t.recipients.addresses = {"Bob", "sales@Acme.Test", "\"q+x\""};
  t.recipients.patterns = {"ticket-????", "team-*", "*@sub.acme.test"};
  t.recipients.plus_addressing = plus;
  std::string err;
  auto d = Directory::build({t}, {}, &err);
  EXPECT_TRUE(d) << err;
  return *d->tenant("acme");
}

TEST(Directory, RecipientListAddressesAndPatterns) {
  const TenantPolicy t = listTenant();
  auto known = [&t](std::string_view a) { return Directory::checkRecipient(t, a) == RecipientCheck::kKnown; };
  EXPECT_TRUE(known("bob@acme.test"));
  EXPECT_TRUE(known("BOB@x.ACME.test"));  // a local part: every domain of the tenant
  EXPECT_FALSE(known("alice@acme.test"));
  EXPECT_TRUE(known("SALES@acme.test."));  // a full address: that domain only
  EXPECT_FALSE(known("sales@x.acme.test"));
  EXPECT_TRUE(known("ticket-0042@acme.test"));
  EXPECT_FALSE(known("ticket-42@acme.test"));  // ? is exactly one character
  EXPECT_TRUE(known("Team-@acme.test"));       // * may be empty
  EXPECT_TRUE(known("anyone@sub.acme.test"));  // a pattern with @: the whole address
  EXPECT_FALSE(known("anyone@x.sub.acme.test"));
  EXPECT_TRUE(known("PostMaster@x.acme.test"));  // RFC 5321 4.5.1, whatever the list
  EXPECT_TRUE(known("postmaster"));
}

TEST(Directory, PlusAddressingFallsBackToTheMailbox) {
  const TenantPolicy t = listTenant();
  auto known = [&t](std::string_view a) { return Directory::checkRecipient(t, a) == RecipientCheck::kKnown; };
  EXPECT_TRUE(known("bob+news@acme.test"));
  EXPECT_TRUE(known("bob+@acme.test"));
  EXPECT_TRUE(known("sales+x+y@acme.test"));
  EXPECT_TRUE(known("ticket-0001+z@acme.test"));
  EXPECT_FALSE(known("alice+bob@acme.test"));
  EXPECT_FALSE(known("+bob@acme.test"));       // no mailbox before the +
  EXPECT_TRUE(known("\"q+x\"@acme.test"));     // listed as such
  EXPECT_FALSE(known("\"bob+x\"@acme.test"));  // a quoted local part is taken whole
  const TenantPolicy strict = listTenant(/*plus=*/false);
  EXPECT_FALSE(Directory::checkRecipient(strict, "bob+news@acme.test") == RecipientCheck::kKnown);
  EXPECT_TRUE(Directory::checkRecipient(strict, "bob@acme.test") == RecipientCheck::kKnown);
}

TEST(Directory, CatchAllKnowsEveryone) {
  std::string err;
  auto d = Directory::build({{"acme", {"acme.test"}}}, {}, &err);
  ASSERT_TRUE(d) << err;
  EXPECT_EQ(Directory::checkRecipient(*d->tenant("acme"), "whoever+x@acme.test"), RecipientCheck::kKnown);
}

TEST(Directory, RejectsBadConfig) {
  std::string err;
  EXPECT_FALSE(Directory::build({{"a", {"x.test"}}, {"b", {"X.test"}}}, {}, &err));
  EXPECT_NE(err.find("x.test"), std::string::npos);
  EXPECT_FALSE(Directory::build({{"a", {"x.test"}}}, {{"u", "plaintext", ""}}, &err));
  EXPECT_NE(err.find("password_hash"), std::string::npos);
}

}  // namespace
}  // namespace mx::policy
