// Tests for the backend registry: the names this build has, an unknown name reported as a
// config error naming the key, its line and the known names (from the file and from the
// environment), the rate limiters by name, and the factories building working backends from
// the config.
#include "app/backends.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace mx::app {
namespace {

namespace fs = std::filesystem;

std::string tempDir() {
  std::string t = (fs::temp_directory_path() / "mxbackends-XXXXXX").string();
  return ::mkdtemp(t.data());
}

// The sink kinds this build has, in the registry's order.
std::vector<std::string> builtSinks() {
  std::vector<std::string> v{"file"};
#ifdef MXGATE_TEST_WITH_EVENTS_WEBHOOK
  v.emplace_back("webhook");
#endif
#ifdef MXGATE_TEST_WITH_EVENTS_KAFKA
  v.emplace_back("kafka");
#endif
#ifdef MXGATE_TEST_WITH_EVENTS_SQS
  v.emplace_back("sqs");
#endif
  return v;
}

TEST(Backends, ThisBuildHasTheEmbeddedDefaults) {
  std::vector<std::string> stores, sinks;
  for (const auto& b : storeBackends()) stores.emplace_back(b.name);
  for (const auto& b : sinkBackends()) sinks.emplace_back(b.name);
#ifdef MXGATE_TEST_WITH_STORE_S3
  EXPECT_EQ(stores, (std::vector<std::string>{"local", "s3"}));
#else
  EXPECT_EQ(stores, std::vector<std::string>{"local"});
#endif
  EXPECT_EQ(sinks, builtSinks());
  std::vector<ConfigError> errors;
  Config c = loadConfig("", {}, &errors);
  validateBackends(c, &errors);
  EXPECT_TRUE(errors.empty());
}

TEST(Backends, UnknownNamesAreConfigErrorsListingTheKnownOnes) {
  std::string dir = tempDir();
  std::string path = dir + "/mxgate.toml";
  std::ofstream(path) << "[store]\nbackend = \"gcs\"\n\n[events]\nsink = \"nats\"\n";
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {}, &errors);
  ASSERT_TRUE(errors.empty());
  validateConfig(c, &errors);
  ASSERT_TRUE(errors.empty());  // the names are the registry's business, not the loader's
  validateBackends(c, &errors);
  ASSERT_EQ(errors.size(), 2u);
#ifdef MXGATE_TEST_WITH_STORE_S3
  EXPECT_EQ(errors[0].format(c.source),
            path + ":2: store.backend: unknown backend \"gcs\"; this build has \"local\", \"s3\"");
#else
  EXPECT_EQ(errors[0].format(c.source), path + ":2: store.backend: unknown backend \"gcs\"; this build has \"local\"");
#endif
  std::string known;
  for (const auto& k : builtSinks()) known += (known.empty() ? "\"" : ", \"") + k + "\"";
  EXPECT_EQ(errors[1].format(c.source), path + ":5: events.sink: unknown sink \"nats\"; this build has " + known);
  errors.clear();
  Config e = loadConfig("", {"MXGATE_STORE_BACKEND=memory"}, &errors);
  validateBackends(e, &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "store.backend");
  EXPECT_NE(errors[0].message.find("\"local\""), std::string::npos);
  EXPECT_FALSE(makeStore(e).ok());
  fs::remove_all(dir);
}

TEST(Backends, RateLimiterByName) {
  std::vector<std::string> names;
  for (const auto& b : rateLimiterBackends()) names.emplace_back(b.name);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names[0], "local");  // always built (also the fail_open fallback)
  std::vector<ConfigError> errors;
  Config c = loadConfigText("[rate_limits]\nbackend = \"redis\"\n", "rl.toml", {}, &errors);
  ASSERT_TRUE(errors.empty());
  validateBackends(c, &errors);
  const bool has_redis = std::find(names.begin(), names.end(), "redis") != names.end();
  EXPECT_EQ(errors.empty(), has_redis);
  Config local = loadConfig("", {}, &errors);
  auto rl = makeRateLimiter(local, {});
  ASSERT_TRUE(rl.ok());
  bool allowed = false;
  (*rl)->decide({policy::RateCheck{"l", "k", 1, std::chrono::seconds(1), 1}}, MonoTime{},
                [&allowed](policy::RateDecision d) { allowed = d.allowed(); });
  EXPECT_TRUE(allowed);  // the local limiter answers at once
}

TEST(Backends, FactoriesBuildWorkingBackendsFromTheConfig) {
  std::string dir = tempDir();
  std::vector<ConfigError> errors;
  Config c = loadConfig("", {"MXGATE_STORE_DIR=" + dir + "/store", "MXGATE_EVENTS_FILE=" + dir + "/ev.jsonl"}, &errors);
  ASSERT_TRUE(errors.empty());
  auto store = makeStore(c);
  ASSERT_TRUE(store.ok()) << store.error().message();
  ASSERT_TRUE((*store)->put("t/raw/x.eml", "bytes").ok());
  EXPECT_EQ(*(*store)->get("t/raw/x.eml"), "bytes");
  EXPECT_TRUE(fs::exists(dir + "/store/t/raw/x.eml"));
  auto ctx = makeSinkContext(c);
  auto sinks = effectiveSinks(c);  // no [[sink]]: the one sink of [events]
  ASSERT_EQ(sinks.size(), 1u);
  EXPECT_EQ(sinks[0].name, "file");
  EXPECT_EQ(sinks[0].path, dir + "/ev.jsonl");
  auto sink = makeSink(c, sinks[0], *ctx);
  ASSERT_TRUE(sink.ok());
  events::Event ev{"id1", "t", "acme", "{\"id\":\"id1\"}"};
  ASSERT_TRUE((*sink)->publish(std::span<const events::Event>(&ev, 1)).ok());
  std::ifstream in(dir + "/ev.jsonl");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "{\"id\":\"id1\"}");
  // A runtime failure names the key whose value is at fault.
  std::ofstream(dir + "/file") << "x";
  Config bad = loadConfig("", {"MXGATE_STORE_DIR=" + dir + "/file/store"}, &errors);
  auto s2 = makeStore(bad);
  ASSERT_FALSE(s2.ok());
  EXPECT_EQ(s2.error().message().rfind("store.dir " + dir + "/file/store: ", 0), 0u) << s2.error().message();
  fs::remove_all(dir);
}

TEST(Backends, SinkEntriesAreCheckedPerKindWithKeyAndLine) {
  std::string dir = tempDir();
  std::string path = dir + "/mxgate.toml";
  std::ofstream(path) << "[[sink]]\nname = \"bus\"\nkind = \"kafka\"\nbrokers = \"127.0.0.1:9\"\n"
                         "url = \"https://x.example/\"\n[sink.properties]\n\"linger.ms\" = 5\n\n"
                         "[[sink]]\nname = \"hook\"\nkind = \"webhook\"\ndead_letter_sink = \"nowhere\"\n\n"
                         "[[tenant]]\nname = \"acme\"\ndomains = [\"acme.test\"]\nsinks = [\"bus\", \"nope\"]\n";
  std::vector<ConfigError> errors;
  Config c = loadConfig(path, {}, &errors);
  ASSERT_TRUE(errors.empty()) << errors[0].format(c.source);
  ASSERT_EQ(c.sinks.size(), 2u);
  EXPECT_EQ(c.sinks[0].properties.at("linger.ms"), "5");  // a TOML integer, passed on as text
  validateConfig(c, &errors);
  std::vector<std::string> text;
  for (const auto& e : errors) text.push_back(e.format(c.source));
  EXPECT_EQ(text, (std::vector<std::string>{
                      path + ":5: sink.bus.url: is not a key of a kafka sink",
                      path + ":9: sink.hook.url: is required for a webhook sink",  // the entry's line
                      path + ":12: sink.hook.dead_letter_sink: names no [[sink]]: \"nowhere\"",
                      path + ":17: tenant.acme.sinks: names no sink: \"nope\"",
                  }));
  fs::remove_all(dir);
}

#ifdef MXGATE_TEST_WITH_STORE_S3
TEST(Backends, S3FromTheConfigWithItsMetricsAndKeyPrefix) {
  // Built from [store.s3] without touching the network (static keys: the chain's first step).
  std::vector<ConfigError> errors;
  Config c = loadConfig("",
                        {"MXGATE_STORE_BACKEND=s3", "MXGATE_STORE_S3_BUCKET=acme-mail",
                         "MXGATE_STORE_S3_REGION=eu-west-1", "MXGATE_STORE_S3_ENDPOINT=http://127.0.0.1:9",
                         "MXGATE_STORE_S3_ADDRESSING=path", "MXGATE_STORE_S3_PREFIX=inbound",
                         "MXGATE_STORE_S3_ACCESS_KEY_ID=AKIDEXAMPLE", "MXGATE_STORE_S3_SECRET_ACCESS_KEY=x"},
                        &errors);
  validateConfig(c, &errors);
  validateBackends(c, &errors);
  ASSERT_TRUE(errors.empty()) << errors[0].format(c.source);
  auto store = makeStore(c);
  ASSERT_TRUE(store.ok()) << store.error().message();
  EXPECT_EQ(storeKeyPrefix(c), "inbound");
  std::string m = renderStoreMetrics(c, **store);
  EXPECT_NE(m.find("# TYPE mxgate_store_s3_uploads_total counter\nmxgate_store_s3_uploads_total 0\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("mxgate_store_s3_uploads_in_flight 0\n"), std::string::npos);
  EXPECT_NE(m.find("mxgate_store_s3_upload_seconds_bucket{le=\"+Inf\"} 0\n"), std::string::npos);
  // Nothing listens on port 9: a transient error that names the request, after the retries.
  Config quick = c;
  quick.store.s3.max_retries = 0;
  auto q = makeStore(quick);
  ASSERT_TRUE(q.ok());
  Status s = (*q)->put("inbound/t/raw/x.eml", "bytes");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errorClass(), ErrorClass::kTransientBackend);
  EXPECT_EQ(s.error().message().rfind("s3 PUT inbound/t/raw/x.eml: ", 0), 0u) << s.error().message();
  // The local store has neither.
  Config local = loadConfig("", {}, &errors);
  EXPECT_EQ(storeKeyPrefix(local), "");
}
#endif

}  // namespace
}  // namespace mx::app
