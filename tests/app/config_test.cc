// Tests for app/config: defaults, file values, environment overrides, and errors that name
// the key and the line.
#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace mx::app {
namespace {

std::string writeTemp(const std::string& text) {
  char path[] = "/tmp/mxgate_config_test_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << text;
  return path;
}

std::string joined(const std::vector<ConfigError>& errors, const std::string& source) {
  std::string s;
  for (const auto& e : errors) s += e.format(source) + "\n";
  return s;
}

TEST(Config, EmbeddedDefaultsAreValid) {
  std::vector<ConfigError> errors;
  Config c = loadConfig("", {}, &errors);
  validateConfig(c, &errors);
  EXPECT_TRUE(errors.empty()) << joined(errors, c.source);
  ASSERT_EQ(c.listeners.size(), 3u);
  EXPECT_EQ(c.listeners[0].listen, "127.0.0.1:2525");
  EXPECT_EQ(c.listeners[1].kind, "submission");
  EXPECT_TRUE(c.listeners[1].auth_required);
  EXPECT_TRUE(c.listeners[1].require_tls);
  EXPECT_EQ(c.http.listen, "127.0.0.1:8025");
  EXPECT_EQ(c.events.file, "var/events.jsonl");
}

TEST(Config, FileValuesAndUnits) {
  std::string path = writeTemp(R"(
[server]
hostname = "mx.example.com"
threads = 3
drain_timeout = "45s"

[limits]
max_message_size = "25MiB"

[timeouts]
command = "2m"
data = "500ms"

[[listener]]
name = "mx"
kind = "smtp"
listen = "0.0.0.0:25"
proxy_protocol = true
trusted_proxies = ["10.0.0.0/8"]

[[tenant]]
name = "acme"
domains = ["acme.test"]
)");
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {}, &errors);
  validateConfig(c, &errors);
  EXPECT_TRUE(errors.empty()) << joined(errors, c.source);
  EXPECT_EQ(c.server.session.hostname, "mx.example.com");
  EXPECT_EQ(c.server.threads, 3u);
  EXPECT_EQ(c.server.drain_timeout, Millis(45'000));
  EXPECT_EQ(c.server.session.max_message_size, 25ull << 20);
  EXPECT_EQ(c.server.session.command_timeout, Millis(120'000));
  EXPECT_EQ(c.server.session.data_timeout, Millis(500));
  ASSERT_EQ(c.listeners.size(), 1u);  // the file's listeners replace the defaults
  EXPECT_TRUE(c.listeners[0].proxy_protocol);
  ASSERT_EQ(c.tenants.size(), 1u);
  EXPECT_EQ(c.tenants[0].domains[0], "acme.test");
  unlink(path.c_str());
}

TEST(Config, ErrorsNameKeyAndLine) {
  std::string path = writeTemp(
      "[server]\n"
      "hostname = \"x\"\n"
      "threads = \"four\"\n"          // line 3: wrong type
      "hostnme = \"typo\"\n"          // line 4: unknown key
      "[limits]\n"
      "max_message_size = \"10 parsecs\"\n"  // line 6
      "[[listener]]\n"
      "name = \"a\"\n"
      "kind = \"smtpx\"\n"
      "listen = \"nowhere\"\n");
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {}, &errors);
  validateConfig(c, &errors);
  std::string all = joined(errors, c.source);
  EXPECT_NE(all.find(path + ":3: server.threads: must be a non-negative integer"), std::string::npos) << all;
  EXPECT_NE(all.find(path + ":4: server.hostnme: unknown key"), std::string::npos) << all;
  EXPECT_NE(all.find(path + ":6: limits.max_message_size: must be a size"), std::string::npos) << all;
  EXPECT_NE(all.find(":9: listener.a.kind: must be one of \"smtp\", \"submission\", \"smtps\""), std::string::npos) << all;
  EXPECT_NE(all.find(":10: listener.a.listen: must be \"host:port\""), std::string::npos) << all;
  unlink(path.c_str());
}

TEST(Config, StoreSyncAndPipelineBatchAreChecked) {
  std::string path = writeTemp(
      "[store]\n"
      "sync = \"sometimes\"\n"  // line 2
      "[pipeline]\n"
      "batch = 0\n");         // line 4
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {}, &errors);
  validateConfig(c, &errors);
  std::string all = joined(errors, c.source);
  EXPECT_NE(all.find(path + ":2: store.sync: must be one of \"filesystem\", \"file\""), std::string::npos) << all;
  EXPECT_NE(all.find(path + ":4: pipeline.batch: must be between 1 and 100000"), std::string::npos) << all;
  unlink(path.c_str());

  errors.clear();
  c = loadConfig("", {"MXGATE_STORE_SYNC=file", "MXGATE_PIPELINE_BATCH=32"}, &errors);
  validateConfig(c, &errors);
  EXPECT_TRUE(errors.empty()) << joined(errors, c.source);
  EXPECT_EQ(c.store.sync, "file");
  EXPECT_EQ(c.pipeline.batch, 32u);
}

TEST(Config, GiveUpAfterAndDeadLetterFile) {
  std::vector<ConfigError> errors;
  Config d = loadConfig("", {}, &errors);
  EXPECT_EQ(d.pipeline.give_up_after, Millis(3'600'000));
  EXPECT_EQ(d.events.dead_letter_file, "var/events.dead-letter.jsonl");
  std::string path = writeTemp(
      "[pipeline]\n"
      "give_up_after = \"90s\"\n"
      "[events]\n"
      "dead_letter_file = \"\"\n");  // line 4
  Config c = loadConfig(path, {}, &errors);
  EXPECT_EQ(c.pipeline.give_up_after, Millis(90'000));
  EXPECT_EQ(joined(errors, c.source), path + ":4: events.dead_letter_file: must not be empty\n");
  unlink(path.c_str());
  errors.clear();
  c = loadConfig("", {"MXGATE_PIPELINE_GIVE_UP_AFTER=0s", "MXGATE_EVENTS_DEAD_LETTER_FILE=/tmp/dl.jsonl"}, &errors);
  EXPECT_TRUE(errors.empty()) << joined(errors, c.source);
  EXPECT_EQ(c.pipeline.give_up_after, Millis(0));
  EXPECT_EQ(c.events.dead_letter_file, "/tmp/dl.jsonl");
  c = loadConfig("", {"MXGATE_PIPELINE_GIVE_UP_AFTER=soon"}, &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "MXGATE_PIPELINE_GIVE_UP_AFTER");
}

TEST(Config, SyntaxErrorHasLine) {
  std::string path = writeTemp("[server]\nhostname = \"unterminated\n");
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {}, &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 2);
  unlink(path.c_str());
}

TEST(Config, EnvironmentOverridesEveryKind) {
  std::vector<ConfigError> errors;
  Config c = loadConfig("", {"MXGATE_SERVER_HOSTNAME=env.example", "MXGATE_SPOOL_FSYNC=false",
                             "MXGATE_LIMITS_MAX_MESSAGE_SIZE=1MiB", "MXGATE_TIMEOUTS_DATA=30s",
                             "MXGATE_LISTENER_SMTP_LISTEN=0.0.0.0:25",
                             "MXGATE_LISTENER_EDGE_LISTEN=127.0.0.1:2526",
                             "MXGATE_LISTENER_EDGE_TRUSTED_PROXIES=10.0.0.0/8, 192.168.0.0/16",
                             "MXGATE_LISTENER_EDGE_PROXY_PROTOCOL=true",
                             "MXGATE_TENANT_ACME_DOMAINS=acme.test,acme.example",
                             "MXGATE_USER_BOB_PASSWORD_HASH=$6$salt$hash", "PATH=/bin"},
                        &errors);
  validateConfig(c, &errors);
  EXPECT_TRUE(errors.empty()) << joined(errors, c.source);
  EXPECT_EQ(c.server.session.hostname, "env.example");
  EXPECT_FALSE(c.spool.fsync);
  EXPECT_EQ(c.server.session.max_message_size, 1ull << 20);
  EXPECT_EQ(c.server.session.data_timeout, Millis(30'000));
  EXPECT_EQ(c.listeners[0].listen, "0.0.0.0:25");
  ASSERT_EQ(c.listeners.size(), 4u);
  EXPECT_EQ(c.listeners[3].name, "edge");
  EXPECT_EQ(c.listeners[3].trusted_proxies.size(), 2u);
  EXPECT_TRUE(c.listeners[3].proxy_protocol);
  ASSERT_EQ(c.tenants.size(), 2u);
  EXPECT_EQ(c.tenants[1].domains.size(), 2u);
  ASSERT_EQ(c.users.size(), 1u);
  EXPECT_EQ(c.users[0].name, "bob");
}

// A key that ends with another key (queue_url, url): the environment names the longer one.
// Before, MXGATE_SINK_SQS_QUEUE_URL made a file sink "sqs_queue" with a url.
TEST(Config, EnvironmentPrefersTheLongestKey) {
  std::vector<ConfigError> errors;
  Config c = loadConfig(
      "",
      {"MXGATE_SINK_SQS_KIND=sqs", "MXGATE_SINK_SQS_QUEUE_URL=https://sqs.eu-west-1.amazonaws.com/123456789012/events",
       "MXGATE_SINK_SQS_REGION=eu-west-1"},
      &errors);
  validateConfig(c, &errors);
  EXPECT_TRUE(errors.empty()) << joined(errors, c.source);
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_EQ(c.sinks[0].name, "sqs");
  EXPECT_EQ(c.sinks[0].queue_url, "https://sqs.eu-west-1.amazonaws.com/123456789012/events");
}

TEST(Config, ToolVariablesAreNotConfig) {
  std::vector<ConfigError> errors;
  loadConfig("", {"MXGATE_FUZZ_SECONDS=5", "MXGATE_TEST_BIN=/x", "MXGATE_BUILD_DIR=b",
                  "MXGATE_BENCH_RUNS=3", "MXGATE_CONFIG=/etc/mxgate.toml"},
             &errors);
  EXPECT_TRUE(errors.empty());
}

TEST(Config, UnknownOrBadEnvironmentIsAnError) {
  std::vector<ConfigError> errors;
  loadConfig("", {"MXGATE_SERVER_HOSTNAM=x", "MXGATE_SERVER_THREADS=many"}, &errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "MXGATE_SERVER_HOSTNAM");
  EXPECT_EQ(errors[1].key, "MXGATE_SERVER_THREADS");
}

TEST(Config, SplitHostPort) {
  std::string h;
  uint16_t p;
  EXPECT_TRUE(server::splitHostPort("127.0.0.1:25", &h, &p));
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_EQ(p, 25);
  EXPECT_TRUE(server::splitHostPort("[::1]:587", &h, &p));
  EXPECT_EQ(h, "::1");
  EXPECT_FALSE(server::splitHostPort("::1:587", &h, &p));
  EXPECT_FALSE(server::splitHostPort("host:65536", &h, &p));
  EXPECT_FALSE(server::splitHostPort("host", &h, &p));
}

TEST(Config, DefaultsAreTheModulesOwn) {
  // One default per setting: the config's defaults are the module structs' defaults.
  Config c = defaultConfig();
  EXPECT_EQ(c.server.session.hostname, smtp::SessionOptions{}.hostname);
  EXPECT_EQ(c.server.session.greeting_timeout, smtp::SessionOptions{}.greeting_timeout);
  EXPECT_EQ(c.server.session.idle_timeout, Millis(300'000));
  EXPECT_EQ(c.server.drain_timeout, server::ServerOptions{}.drain_timeout);
  EXPECT_EQ(c.spool.segment_bytes, spool::SpoolOptions{}.segment_bytes);
  EXPECT_EQ(c.spool.dir, "var/spool");
}

TEST(Config, UnknownListenerKindIsAnErrorNotSmtp) {
  std::vector<ConfigError> errors;
  Config c = loadConfig("", {"MXGATE_LISTENER_EDGE_LISTEN=127.0.0.1:1", "MXGATE_LISTENER_EDGE_KIND=lmtp"}, &errors);
  ASSERT_EQ(errors.size(), 1u) << joined(errors, c.source);
  EXPECT_EQ(errors[0].key, "MXGATE_LISTENER_EDGE_KIND");
  EXPECT_EQ(errors[0].message, "must be one of \"smtp\", \"submission\", \"smtps\", \"http_ingest\", \"websocket\"");
}

TEST(Config, ListenersAreParsedOnce) {
  std::vector<ConfigError> errors;
  Config c = loadConfig("", {}, &errors);
  auto ls = listenerOptions(c);
  ASSERT_EQ(ls.size(), 3u);
  EXPECT_EQ(ls[1].kind, server::ListenerKind::kSubmission);
  EXPECT_EQ(ls[1].port, 2587);
  EXPECT_TRUE(ls[1].auth_required);
  EXPECT_EQ(ls[2].kind, server::ListenerKind::kSmtps);
}

TEST(Config, TwoListenersOnOnePortAreAnError) {
  // SO_REUSEPORT would let both bind and share the connections between their rules.
  std::string path = writeTemp(
      "[[listener]]\n"
      "name = \"mx\"\n"
      "listen = \"127.0.0.1:10025\"\n"
      "[[listener]]\n"
      "name = \"sub\"\n"
      "kind = \"submission\"\n"
      "listen = \"127.0.0.1:10025\"\n"  // line 7
      "[[listener]]\n"
      "name = \"any\"\n"
      "listen = \"0.0.0.0:10025\"\n"  // line 10: the wildcard covers 127.0.0.1
      "[[listener]]\n"
      "name = \"other\"\n"
      "listen = \"127.0.0.1:10026\"\n");
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {}, &errors);
  validateConfig(c, &errors);
  unlink(path.c_str());
  std::string all = joined(errors, c.source);
  ASSERT_EQ(errors.size(), 2u) << all;
  EXPECT_NE(all.find(":7: listener.sub.listen: port 10025 is already listener.mx's (line 1)"), std::string::npos)
      << all;
  EXPECT_NE(all.find(":10: listener.any.listen: port 10025 is already listener.mx's (line 1)"), std::string::npos)
      << all;
}

TEST(Config, TlsAtProxyNeedsATrustedProxyAndIsNotForSmtps) {
  std::string path = writeTemp(
      "[[listener]]\n"
      "name = \"nlb465\"\n"
      "kind = \"submission\"\n"
      "listen = \"0.0.0.0:10465\"\n"
      "tls_at_proxy = true\n"  // line 5: without proxy_protocol
      "[[listener]]\n"
      "name = \"bad\"\n"
      "kind = \"smtps\"\n"
      "listen = \"0.0.0.0:10466\"\n"
      "proxy_protocol = true\n"
      "trusted_proxies = [\"10.0.0.0/8\"]\n"
      "tls_at_proxy = true\n");  // line 12: smtps does its own TLS
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {}, &errors);
  validateConfig(c, &errors);
  std::string all = joined(errors, c.source);
  EXPECT_NE(all.find(":5: listener.nlb465.tls_at_proxy: needs proxy_protocol = true"), std::string::npos) << all;
  EXPECT_NE(all.find(":12: listener.bad.tls_at_proxy: an smtps listener does its own TLS"), std::string::npos) << all;
  unlink(path.c_str());

  // The working form; require_tls holds even without a certificate of our own.
  errors.clear();
  c = loadConfig("",
                 {"MXGATE_TLS_ENABLED=false", "MXGATE_LISTENER_SMTPS_KIND=submission",
                  "MXGATE_LISTENER_SMTPS_PROXY_PROTOCOL=true", "MXGATE_LISTENER_SMTPS_TRUSTED_PROXIES=10.0.0.0/16",
                  "MXGATE_LISTENER_SMTPS_TLS_AT_PROXY=true", "MXGATE_LISTENER_SMTPS_REQUIRE_TLS=true"},
                 &errors);
  validateConfig(c, &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors, c.source);
  auto ls = listenerOptions(c);
  EXPECT_TRUE(ls[2].tls_at_proxy);
  EXPECT_TRUE(ls[2].require_tls);
  EXPECT_FALSE(ls[1].require_tls);  // plain submission without a certificate cannot require TLS
}

TEST(Config, SecretsFromFilesAndEnvironment) {
  std::string secret = writeTemp("$6$fromfile$hash\n");
  std::string path = writeTemp("[[user]]\nname = \"alice\"\npassword_hash_file = \"" + secret + "\"\n");
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {"MXGATE_USER_BOB_PASSWORD_HASH_FILE=" + secret}, &errors);
  validateConfig(c, &errors);
  EXPECT_TRUE(errors.empty()) << joined(errors, c.source);
  ASSERT_EQ(c.users.size(), 2u);
  EXPECT_EQ(c.users[0].password_hash, "$6$fromfile$hash");  // the final line end is not part of it
  EXPECT_EQ(c.users[1].name, "bob");
  EXPECT_EQ(c.users[1].password_hash, "$6$fromfile$hash");

  errors.clear();
  std::string bad = writeTemp("[[user]]\nname = \"alice\"\npassword_hash_file = \"/nonexistent/x\"\n");
  c = loadConfig(bad, {}, &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "user.alice.password_hash_file");
  EXPECT_EQ(errors[0].line, 3);
  EXPECT_NE(errors[0].message.find("cannot read '/nonexistent/x'"), std::string::npos);
  // A non-secret key has no _file form.
  errors.clear();
  loadConfig("", {"MXGATE_SERVER_HOSTNAME_FILE=" + secret}, &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "unknown configuration variable");
  unlink(secret.c_str());
  unlink(path.c_str());
  unlink(bad.c_str());
}

TEST(Config, StoreS3FileAndEnvironment) {
  std::string secret = writeTemp("wJalrXUtnFEMI/K7MDENG\n");
  std::string path = writeTemp(
      "[store]\n"
      "backend = \"s3\"\n"
      "[store.s3]\n"
      "bucket = \"acme-mail\"\n"
      "region = \"eu-west-1\"\n"
      "endpoint = \"http://127.0.0.1:9000\"\n"
      "addressing = \"path\"\n"
      "prefix = \"inbound\"\n"
      "sse = \"aws:kms\"\n"
      "kms_key_id = \"alias/mail\"\n"
      "multipart_threshold = \"32MiB\"\n"
      "part_size = \"16MiB\"\n"
      "ack_after = \"store\"\n"
      "access_key_id = \"AKIDEXAMPLE\"\n"
      "secret_access_key_file = \"" +
      secret + "\"\n");
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {"MXGATE_STORE_S3_MAX_IN_FLIGHT=16", "MXGATE_STORE_S3_REQUEST_TIMEOUT=10s"}, &errors);
  validateConfig(c, &errors);
  EXPECT_TRUE(errors.empty()) << joined(errors, c.source);
  EXPECT_EQ(c.store.backend, "s3");
  EXPECT_EQ(c.store.s3.bucket, "acme-mail");
  EXPECT_EQ(c.store.s3.addressing, "path");
  EXPECT_EQ(c.store.s3.multipart_threshold, 32ull << 20);
  EXPECT_EQ(c.store.s3.part_size, 16ull << 20);
  EXPECT_EQ(c.store.s3.max_in_flight, 16u);
  EXPECT_EQ(c.store.s3.request_timeout, Millis(10'000));
  EXPECT_EQ(c.store.s3.secret_access_key, "wJalrXUtnFEMI/K7MDENG");
  EXPECT_EQ(c.store.s3.ack_after, "store");
  unlink(path.c_str());
  unlink(secret.c_str());
}

TEST(Config, StoreS3ChecksNameKeyAndLine) {
  std::string path = writeTemp(
      "[store]\n"
      "backend = \"s3\"\n"
      "[store.s3]\n"
      "bucket = \"Acme_Mail\"\n"  // line 4
      "region = \"EU West\"\n"    // line 5
      "endpoint = \"ftp://x\"\n"  // line 6
      "sse = \"AES256\"\n"
      "kms_key_id = \"alias/mail\"\n"     // line 8: only with aws:kms
      "part_size = \"4MiB\"\n"            // line 9: below 5MiB
      "multipart_threshold = \"1MiB\"\n"  // line 10: below part_size
      "addressing = \"dns\"\n"            // line 11: a per-key choice
      "ack_after = \"never\"\n");         // line 12
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {}, &errors);
  validateConfig(c, &errors);
  std::string all = joined(errors, c.source);
  EXPECT_NE(all.find(path + ":4: store.s3.bucket: may hold only lower-case letters"), std::string::npos) << all;
  EXPECT_NE(all.find(path + ":5: store.s3.region: must be lower-case letters and digits"), std::string::npos) << all;
  EXPECT_NE(all.find(path + ":6: store.s3.endpoint: must be an http:// or https:// URL"), std::string::npos) << all;
  EXPECT_NE(all.find(path + ":8: store.s3.kms_key_id: is only used with sse = \"aws:kms\""), std::string::npos) << all;
  EXPECT_NE(all.find(path + ":9: store.s3.part_size: must be between 5MiB and 5GiB"), std::string::npos) << all;
  EXPECT_NE(all.find(path + ":10: store.s3.multipart_threshold: must be at least part_size (4MiB)"), std::string::npos)
      << all;
  EXPECT_NE(all.find(path + ":11: store.s3.addressing: must be one of \"virtual\", \"path\""), std::string::npos)
      << all;
  EXPECT_NE(all.find(path + ":12: store.s3.ack_after: must be one of \"spool\", \"store\""), std::string::npos) << all;
  unlink(path.c_str());
}

TEST(Config, StoreS3BucketRegionAndEndpointForms) {
  auto problems = [](const std::string& key, const std::string& value) {
    store::S3Settings s;
    s.bucket = "acme-mail";
    s.region = "eu-west-1";
    if (key == "bucket") s.bucket = value;
    if (key == "region") s.region = value;
    if (key == "endpoint") s.endpoint = value;
    std::string out;
    for (const auto& e : store::checkS3Settings(s)) out += e.key + ": " + e.message + "\n";
    return out;
  };
  for (const char* good : {"abc", "acme-mail", "a.b-c.d", "123bucket", "my.bucket.1",
                           "a23456789012345678901234567890123456789012345678901234567890123"}) {
    EXPECT_EQ(problems("bucket", good), "") << good;
  }
  for (const char* bad : {"", "ab", "-abc", "abc-", ".abc", "abc.", "a..b", "ABC", "a_b", "192.168.1.1",
                          "a234567890123456789012345678901234567890123456789012345678901234"}) {
    EXPECT_NE(problems("bucket", bad).find("bucket: "), std::string::npos) << bad;
  }
  for (const char* good : {"eu-west-1", "us-gov-west-1", "auto", "us-east-1"}) EXPECT_EQ(problems("region", good), "");
  for (const char* bad : {"", "eu_west_1", "-eu", "eu-", "eu--west", "EU-WEST-1"}) {
    EXPECT_NE(problems("region", bad).find("region: "), std::string::npos) << bad;
  }
  for (const char* good :
       {"http://127.0.0.1:9000", "https://s3.example.com", "https://minio:9000/", "http://[::1]:9000"}) {
    EXPECT_EQ(problems("endpoint", good), "") << good;
  }
  for (const char* bad : {"127.0.0.1:9000", "ftp://x", "http://", "http://h:", "http://h:99999", "http://h/path",
                          "http://u@h", "http://h:9x"}) {
    EXPECT_NE(problems("endpoint", bad).find("endpoint: "), std::string::npos) << bad;
  }
  // The checks apply only to the s3 backend: the embedded defaults (local) pass without a bucket.
  std::vector<ConfigError> errors;
  Config c = loadConfig("", {}, &errors);
  validateConfig(c, &errors);
  EXPECT_TRUE(errors.empty());
  c = loadConfig("", {"MXGATE_STORE_BACKEND=s3"}, &errors);
  validateConfig(c, &errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "store.s3.bucket");
  EXPECT_EQ(errors[1].key, "store.s3.region");
}

TEST(Config, StoreS3SecretsAreNeverInTheReference) {
  std::string ref = configReference();
  EXPECT_NE(ref.find("| `store.s3.secret_access_key` | `(secret)` |"), std::string::npos);
  EXPECT_NE(ref.find("| `store.s3.session_token` | `(secret)` |"), std::string::npos);
  EXPECT_NE(ref.find("## [store.s3]"), std::string::npos);
}

TEST(Config, SecretsAreNeverInTheReference) {
  std::string ref = configReference();
  EXPECT_NE(ref.find("| `[[user]] password_hash` | `(secret)` |"), std::string::npos);
}

TEST(Config, ReferenceInDocsIsCurrent) {
  // docs/config.md is generated: `mxgate config-reference > docs/config.md`.
  const char* src = std::getenv("MXGATE_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  std::ifstream in(std::string(src) + "/docs/config.md");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_TRUE(ss.str() == configReference())
      << "docs/config.md is stale: regenerate it with `build/src/app/mxgate config-reference > docs/config.md`";
}

TEST(Config, RateLimitsAreLoadedAndCheckedWithKeyAndLine) {
  std::vector<ConfigError> errors;
  Config c = loadConfigText(
      "[rate_limits]\n"
      "backend = \"redis\"\n"
      "redis_url = \"redis://10.0.0.5:6380/2\"\n"
      "on_backend_error = \"fail_closed\"\n"
      "[[rate_limit]]\n"
      "name = \"ip-messages\"\n"
      "key = \"client_ip\"\n"
      "messages = 100\n"
      "per = \"1m\"\n"
      "[[rate_limit]]\n"
      "name = \"tenant-bytes\"\n"
      "key = \"tenant\"\n"
      "bytes = \"50MiB\"\n"
      "per = \"1h\"\n",
      "t.toml", {"MXGATE_RATE_LIMIT_IP_MESSAGES_MESSAGES=5"}, &errors);
  validateConfig(c, &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors, c.source);
  EXPECT_EQ(c.rate_limits.backend, "redis");
  EXPECT_EQ(c.rate_limits.on_backend_error, "fail_closed");
  ASSERT_EQ(c.rate_limit.size(), 2u);
  EXPECT_EQ(c.rate_limit[0].messages, 5u);  // the environment wins
  EXPECT_EQ(c.rate_limit[0].per, std::chrono::minutes(1));
  EXPECT_EQ(c.rate_limit[1].bytes, 50u << 20);
  policy::RateLimit l = policy::toRateLimit(c.rate_limit[1]);
  EXPECT_EQ(l.quantity, policy::RateQuantity::kBytes);
  EXPECT_EQ(l.per, std::chrono::hours(1));
}

TEST(Config, BadRateLimitsNameTheKeyAndLine) {
  std::vector<ConfigError> errors;
  Config c = loadConfigText(
      "[rate_limits]\n"
      "backend = \"memcached\"\n"       // line 2
      "on_backend_error = \"shrug\"\n"  // line 3
      "redis_url = \"http://x\"\n"      // line 4
      "[[rate_limit]]\n"
      "name = \"a\"\n"
      "key = \"client_address\"\n"  // line 7: bad key name
      "messages = 10\n"
      "[[rate_limit]]\n"
      "name = \"b\"\n"  // the entry (line 9): neither quantity
      "per = \"1m\"\n"
      "[[rate_limit]]\n"
      "name = \"c\"\n"
      "messages = 10\n"
      "connections = 5\n"
      "per = \"0s\"\n"  // line 16: per must be > 0
      "[[rate_limit]]\n"
      "name = \"d\"\n"
      "key = \"sender_domain\"\n"  // line 19: connections need client_ip/client_net
      "connections = 5\n"
      "[[rate_limit]]\n"
      "name = \"e\"\n"
      "message = 5\n",  // line 23: unknown key
      "t.toml", {}, &errors);
  validateConfig(c, &errors);
  std::string all = joined(errors, c.source);
  EXPECT_NE(all.find("t.toml:2: rate_limits.backend: must be one of"), std::string::npos) << all;
  EXPECT_NE(all.find("t.toml:3: rate_limits.on_backend_error: must be one of"), std::string::npos) << all;
  EXPECT_NE(all.find("t.toml:7: rate_limit.a.key: must be one of"), std::string::npos) << all;
  EXPECT_NE(all.find("t.toml:9: rate_limit.b.messages: one of connections, messages, recipients or bytes"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("rate_limit.c.connections: set exactly one of"), std::string::npos) << all;
  EXPECT_NE(all.find("t.toml:16: rate_limit.c.per: must be at least"), std::string::npos) << all;
  EXPECT_NE(all.find("t.toml:19: rate_limit.d.key: connections are counted at connect"), std::string::npos) << all;
  EXPECT_NE(all.find("t.toml:23: rate_limit.e.message: unknown key"), std::string::npos) << all;

  errors.clear();
  c = loadConfigText("[rate_limits]\nbackend = \"redis\"\nredis_url = \"http://x\"\n", "u.toml", {}, &errors);
  validateConfig(c, &errors);
  all = joined(errors, c.source);
  EXPECT_NE(all.find("u.toml:3: rate_limits.redis_url: must be redis://host[:port][/db]"), std::string::npos) << all;
}

TEST(Config, TenantRecipientsSubTableFileAndEnvironment) {
  std::vector<ConfigError> errors;
  Config c = loadConfigText(
      "[[tenant]]\n"
      "name = \"acme\"\n"
      "domains = [\"acme.test\", \"*.acme.test\"]\n"
      "max_message_size = \"10MiB\"\n"
      "[tenant.recipients]\n"
      "rule = \"list\"\n"
      "addresses = [\"sales\", \"bob@acme.test\"]\n"
      "patterns = [\"ticket-*\"]\n"
      "[[tenant]]\n"
      "name = \"beta\"\n"
      "domains = [\"beta.test\"]\n"
      "recipients = { rule = \"list\", addresses = [\"x\"], plus_addressing = false }\n",
      "t.toml", {"MXGATE_TENANT_ACME_RECIPIENTS_PATTERNS=a-*,b-*"}, &errors);
  validateConfig(c, &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors, c.source);
  ASSERT_EQ(c.tenants.size(), 2u);
  EXPECT_EQ(c.tenants[0].max_message_size, 10ull << 20);
  EXPECT_EQ(c.tenants[0].recipients.rule, "list");
  EXPECT_EQ(c.tenants[0].recipients.addresses, (std::vector<std::string>{"sales", "bob@acme.test"}));
  EXPECT_EQ(c.tenants[0].recipients.patterns, (std::vector<std::string>{"a-*", "b-*"}));  // the environment wins
  EXPECT_TRUE(c.tenants[0].recipients.plus_addressing);
  EXPECT_EQ(c.tenants[1].recipients.addresses, (std::vector<std::string>{"x"}));
  EXPECT_FALSE(c.tenants[1].recipients.plus_addressing);
}

TEST(Config, BadTenantsNameTheKeyAndLine) {
  std::vector<ConfigError> errors;
  Config c = loadConfigText(
      "[[tenant]]\n"
      "name = \"acme\"\n"
      "domains = [\"a.*.test\"]\n"  // line 3
      "[tenant.recipients]\n"
      "rule = \"lisst\"\n"    // line 5
      "patterns = [\"\"]\n"   // line 6
      "adresses = [\"x\"]\n"  // line 7: unknown key
      "[[tenant]]\n"
      "name = \"beta\"\n"
      "domains = [\"beta.test\"]\n"
      "[tenant.recipients]\n"
      "rule = \"list\"\n",  // line 12: a list of nobody
      "t.toml", {}, &errors);
  validateConfig(c, &errors);
  std::string all = joined(errors, c.source);
  EXPECT_NE(all.find("t.toml:3: tenant.acme.domains: 'a.*.test' has a '*'"), std::string::npos) << all;
  EXPECT_NE(all.find("t.toml:5: tenant.acme.recipients.rule: must be one of"), std::string::npos) << all;
  EXPECT_NE(all.find("t.toml:6: tenant.acme.recipients.patterns: '' is empty"), std::string::npos) << all;
  EXPECT_NE(all.find("t.toml:7: tenant.acme.recipients.adresses: unknown key"), std::string::npos) << all;
  EXPECT_NE(all.find("t.toml:12: tenant.beta.recipients.rule: \"list\" needs"), std::string::npos) << all;

  errors.clear();
  c = loadConfigText(
      "[server]\n"
      "policy_timeout = \"5s\"\n"
      "[[tenant]]\n"
      "name = \"acme\"\n"
      "domains = [\"acme.test\"]\n"
      "[tenant.recipients]\n"
      "rule = \"lookup\"\n"        // line 7: no url
      "method = \"PUT\"\n"         // line 8
      "timeout = \"5s\"\n"         // line 9: not below policy_timeout
      "on_failure = \"shrug\"\n",  // line 10
      "u.toml", {}, &errors);
  validateConfig(c, &errors);
  all = joined(errors, c.source);
  EXPECT_NE(all.find("u.toml:8: tenant.acme.recipients.method: must be one of"), std::string::npos) << all;
  EXPECT_NE(all.find("u.toml:10: tenant.acme.recipients.on_failure: must be one of"), std::string::npos) << all;
  EXPECT_NE(all.find("tenant.acme.recipients.url: rule = \"lookup\" needs an http:// or https:// URL"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("u.toml:9: tenant.acme.recipients.timeout: must be below server.policy_timeout"),
            std::string::npos)
      << all;
}

TEST(Config, RedisUrls) {
  policy::RedisEndpoint e;
  EXPECT_EQ(policy::parseRedisUrl("redis://127.0.0.1:6379/0", &e), "");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 6379);
  EXPECT_EQ(policy::parseRedisUrl("redis://[::1]:7000/3", &e), "");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 7000);
  EXPECT_EQ(e.db, 3u);
  policy::RedisEndpoint d;
  EXPECT_EQ(policy::parseRedisUrl("redis://cache.internal", &d), "");
  EXPECT_EQ(d.port, 6379);
  EXPECT_NE(policy::parseRedisUrl("redis://:pw@host", &d), "");
  EXPECT_NE(policy::parseRedisUrl("redis://host:0", &d), "");
  EXPECT_NE(policy::parseRedisUrl("redis://host:99999", &d), "");
  EXPECT_NE(policy::parseRedisUrl("redis://host/x", &d), "");
}

}  // namespace
}  // namespace mx::app
