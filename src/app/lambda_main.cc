// app/lambda_main.cc — `mxgate-lambda`, the `bootstrap` of the Lambda function for the
// `provided.al2023` runtime (docs/lambda.md, deploy/lambda/build.sh): loads the same
// configuration as the server (MXGATE_* environment variables, or the file MXGATE_CONFIG
// names), builds the store, the MIME processor and the event sinks by name from the backend
// registry (backends.h: the only place naming backends), and reads S3 objects through the S3
// backend; then runs the Runtime API loop: next invocation → lambda::Handler → response or
// error. Connections to S3 and the sinks stay open across invocations (the sandbox is frozen,
// not restarted, between them).
//
// Init errors (bad configuration, no S3 in this build) are reported on /runtime/init/error
// and end the process, as the Runtime API asks; a Runtime API that cannot be reached ends it
// too (Lambda starts a fresh sandbox).
// Trust: the environment is the operator's; invocations are untrusted (lambda/handler.h).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "app/backends.h"
#include "app/config.h"
#include "app/events_wiring.h"
#include "core/json_writer.h"
#include "http/beast_client.h"
#include "lambda/handler.h"
#include "lambda/runtime_api.h"
#include "pipeline/message_handler.h"
#include "pipeline/mime_processor.h"
#include "store/s3/s3_blob_store.h"
#include "store/store_config.h"

namespace mx::app {
namespace {

using SteadyClock = std::chrono::steady_clock;

void logLine(std::string_view level, std::string_view msg, std::string_view detail_key = {},
             std::string_view detail = {}) {
  std::string out;
  JsonWriter w(out);
  w.beginObject();
  w.field("level", level);
  w.field("msg", msg);
  if (!detail_key.empty()) w.field(detail_key, detail);
  w.endObject();
  std::fprintf(stdout, "%s\n", out.c_str());
  std::fflush(stdout);
}

// Reads the objects events name, through the S3 backend: one S3BlobStore per bucket (its own
// keep-alive connections), with [store.s3]'s region, endpoint, addressing and credentials.
class S3ObjectReader final : public lambda::ObjectReader {
 public:
  explicit S3ObjectReader(store::S3Settings settings) : settings_(std::move(settings)) {}

  Result<Object> read(const lambda::RawMessageRef& ref) override {
    auto it = buckets_.find(ref.bucket);
    if (it == buckets_.end()) {
      store::S3Settings s = settings_;
      s.bucket = ref.bucket;
      s.prefix.clear();
      auto made = store::makeS3BlobStore(s, [](std::string_view l) { logLine("warn", l); });
      if (!made.ok()) return Error(ErrorClass::kPermanentBackend, "s3 reader: " + made.error().message());
      it = buckets_.emplace(ref.bucket, std::move(*made)).first;
    }
    auto o = it->second->getObject(ref.key, ref.version_id);
    if (!o.ok()) return o.error();
    Object out;
    out.bytes = std::move(o->body);
    out.info.last_modified = o->last_modified;
    out.info.etag = std::move(o->etag);
    out.info.version_id = std::move(o->version_id);
    return out;
  }

 private:
  store::S3Settings settings_;
  std::map<std::string, std::unique_ptr<store::S3BlobStore>> buckets_;
};

std::string envOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

int runLambda() {
  const auto start = SteadyClock::now();
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (api == nullptr || *api == '\0') {
    std::fprintf(stderr, "mxgate-lambda: AWS_LAMBDA_RUNTIME_API is not set (run by the Lambda runtime)\n");
    return 2;
  }
  http::ClientOptions ro;
  ro.max_in_flight = 2;
  ro.max_idle_per_endpoint = 2;
  ro.idle_timeout = Millis(std::chrono::hours(24 * 365));  // the one connection to the sandbox's API
  ro.max_response_bytes = 7ull << 20;                      // a 6 MB payload and its headers
  ro.user_agent = "mxgate-lambda";
  ro.tls = false;  // the Runtime API is plain http on the sandbox's loopback
  auto runtime_http = http::BeastClient::create(ro);
  if (!runtime_http.ok()) {
    std::fprintf(stderr, "mxgate-lambda: %s\n", runtime_http.error().message().c_str());
    return 1;
  }
  lambda::RuntimeApi runtime(**runtime_http, api);
  auto initFail = [&runtime](const std::string& type, const std::string& message) {
    logLine("error", "init failed", "reason", message);
    if (Status s = runtime.initError(type, message); !s.ok())
      logLine("error", "init error not reported", "reason", s.error().message());
    return 1;
  };

  // The configuration, exactly as `mxgate serve` reads it.
  std::vector<ConfigError> errors;
  const char* path = std::getenv("MXGATE_CONFIG");
  Config c = loadConfig(path != nullptr ? path : "", processEnvironment(), &errors);
  if (errors.empty()) validateConfig(c, &errors);
  if (errors.empty()) validateBackends(c, &errors);
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e.format(c.source);
    return initFail("Runtime.ConfigError", all);
  }
  std::string error;
  auto directory = policy::Directory::build(c.tenants, c.users, &error);
  if (!directory) return initFail("Runtime.ConfigError", error);

  auto st = makeStore(c);
  if (!st.ok()) return initFail("Runtime.ConfigError", "store: " + st.error().message());
  store::BlobStorePtr blob_store = std::move(*st);
  std::unique_ptr<pipeline::MimeProcessor> processor;
  if (c.pipeline.parse) processor = std::make_unique<pipeline::MimeProcessor>(pipeline::MimeProcessorOptions{});
  pipeline::PipelineMetrics metrics;
  pipeline::MessageHandlerOptions ho;
  ho.hostname = envOr("AWS_LAMBDA_FUNCTION_NAME", "lambda");
  ho.key_prefix = storeKeyPrefix(c);
  ho.log = [](std::string_view l) { logLine("warn", l); };
  pipeline::MessageHandler messages(*blob_store, processor.get(), ho, metrics);

  const std::vector<events::SinkSettings> sinks = effectiveSinks(c);
  std::unique_ptr<SinkContext> sink_context = makeSinkContext(c);
  std::vector<events::EventSinkPtr> backends;
  for (const auto& s : sinks) {
    auto b = makeSink(c, s, *sink_context);
    if (!b.ok()) return initFail("Runtime.ConfigError", "sink " + s.name + ": " + b.error().message());
    backends.push_back(std::move(*b));
  }
  std::vector<lambda::SinkTarget> targets;
  for (size_t i = 0; i < sinks.size(); ++i) {
    lambda::SinkTarget t{sinks[i].name, backends[i].get(), nullptr};
    for (size_t j = 0; j < sinks.size(); ++j) {
      if (!sinks[i].dead_letter_sink.empty() && sinks[j].name == sinks[i].dead_letter_sink)
        t.dead_letter = backends[j].get();
    }
    targets.push_back(t);
  }

  S3ObjectReader reader(c.store.s3);
  lambda::HandlerOptions options;
  options.event = lambda::LambdaEventOptions{c.lambda.ses_bucket, c.lambda.ses_prefix};
  options.source.store_bucket = c.store.backend == "s3" ? c.store.s3.bucket : "";
  options.source.tenants = directory.get();
  options.max_message_size =
      c.lambda.max_message_size != 0 ? c.lambda.max_message_size : c.server.session.max_message_size;
  options.deadline_margin = c.lambda.deadline_margin;
  options.route = tenantSinkRoute(c, sinks);
  options.function_name = ho.hostname;
  RealClock clock;
  lambda::Handler handler(reader, messages, std::move(targets), std::move(options), clock);

  const double init_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  logLine("info", "init done", "init_ms", std::to_string(init_ms));

  for (uint32_t unreachable = 0;;) {
    auto inv = runtime.next();
    if (!inv.ok()) {
      logLine("error", "runtime api next failed", "reason", inv.error().message());
      // A refused invocation (no request id) cannot be answered: start afresh. An API that
      // does not answer is retried briefly, then the process ends (Lambda replaces it).
      if (inv.error().errorClass() == ErrorClass::kProtocol || ++unreachable > 5) return 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * unreachable));
      continue;
    }
    unreachable = 0;
    // The Runtime API asks custom runtimes to export the invocation's trace header.
    if (!inv->trace_id.empty()) ::setenv("_X_AMZN_TRACE_ID", inv->trace_id.c_str(), 1);
    lambda::InvocationOutcome outcome = handler.handle(*inv);
    Status reported =
        outcome.failure
            ? runtime.fail(inv->request_id, "Mxgate." + std::string(errorClassName(outcome.failure->errorClass())),
                           outcome.failure->message())
            : runtime.respond(inv->request_id, std::move(outcome.response));
    if (!reported.ok()) logLine("error", "runtime api answer failed", "reason", reported.error().message());
  }
}

}  // namespace
}  // namespace mx::app

int main() { return mx::app::runLambda(); }
