// app/wiring.cc — see wiring.h.
#include "app/wiring.h"

#include <pthread.h>
#include <sys/resource.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <filesystem>
#include <thread>

#include "app/backends.h"
#include "app/events_wiring.h"
#include "app/readiness.h"
#include "app/service_notify.h"
#include "app/store_ack_gate.h"
#include "core/clock.h"
#include "http/beast_client.h"
#include "mime/cli.h"
#include "pipeline/message_handler.h"
#include "pipeline/metrics.h"
#include "pipeline/mime_processor.h"
#include "pipeline/quarantine.h"
#include "pipeline/spool_consumer.h"
#include "policy/auth_limits/auth_limit_policy.h"
#include "policy/local_policy.h"
#include "policy/lookup/http_recipient_lookup.h"
#include "policy/rate_limits/rate_limit_policy.h"
#include "server/http_status.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/tls.h"
#include "spool/spool.h"

namespace mx::app {
namespace {

// Raises the soft open-file limit to the hard one: each connection is a descriptor, and
// server.max_connections is meant to be reachable. Returns the limit now in force.
uint64_t raiseFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

int fail(server::Logger& log, const std::string& what) {
  log.info("fatal", what, std::chrono::system_clock::now());
  std::fprintf(stderr, "mxgate: %s\n", what.c_str());
  return 1;
}

}  // namespace

int runServe(const Config& c) {
  // Signals are taken synchronously by this thread (sigwait); block them before any other
  // thread starts so that none of those receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  uint64_t file_limit = raiseFileLimit();
  server::Logger logger;
  RealClock clock;
  server::Metrics metrics;
  std::string error;
  if (!c.log.file.empty() && !logger.open(c.log.file, &error)) return fail(logger, "log.file: " + error);

  std::unique_ptr<server::TlsContextHolder> tls;
  const std::string& hostname = c.server.session.hostname;
  if (c.tls.enabled) {
    if (c.tls.self_signed &&
        !server::ensureSelfSignedCertificate(c.tls.cert_file, c.tls.key_file, hostname, &error))
      return fail(logger, "tls: " + error);
    tls = std::make_unique<server::TlsContextHolder>(c.tls.cert_file, c.tls.key_file);
    if (!tls->reload(&error)) return fail(logger, error);
  }

  uint32_t threads = c.server.threads ? c.server.threads : std::max(1u, std::thread::hardware_concurrency());
  spool::SpoolOptions so = c.spool;
  so.lanes = threads;
  auto spool = spool::Spool::open(so);
  if (!spool.ok()) return fail(logger, "spool.dir " + c.spool.dir + ": " + spool.error().message());

  auto directory = policy::Directory::build(c.tenants, c.users, &error);
  if (!directory) return fail(logger, error);

  // The embedded pipeline: spool -> MessageHandler (MIME, store) -> Outbox (one durable
  // queue per sink, one dispatcher each: retries, dead letters) -> checkpoint; permanent
  // failures to <spool.dir>/quarantine.
  pipeline::PipelineMetrics pipeline_metrics;
  events::StopWaiter pipeline_stop;
  store::BlobStorePtr blob_store;
  std::unique_ptr<EventsRuntime> events_runtime;
  std::unique_ptr<pipeline::Quarantine> quarantine;
  std::unique_ptr<pipeline::MimeProcessor> processor;
  std::unique_ptr<pipeline::MessageHandler> handler;
  std::unique_ptr<pipeline::SpoolConsumer> consumer;
  std::unique_ptr<StoreAckGate> ack_gate;  // store.s3.ack_after = "store"
  if (c.pipeline.enabled) {
    auto pipeline_log = [&logger](std::string_view line) {
      logger.event("pipeline", std::chrono::system_clock::now(), [&](JsonWriter& w) { w.field("message", line); });
    };
    // Backends by name (backends.h): store.backend and events.sink.
    auto st = makeStore(c);
    if (!st.ok()) return fail(logger, st.error().message());
    blob_store = std::move(st.value());
    if (c.store.backend == "s3" && c.store.s3.ack_after == "store") {
      ack_gate = std::make_unique<StoreAckGate>(*blob_store, storeKeyPrefix(c), c.server.store_ack_timeout);
    }
    auto ev = makeEventsRuntime(c, /*with_backends=*/true, [&logger](std::string_view line) {
      logger.event("events", std::chrono::system_clock::now(), [&](JsonWriter& w) { w.field("message", line); });
    });
    if (!ev.ok()) return fail(logger, "events: " + ev.error().message());
    events_runtime = std::move(ev.value());
    events_runtime->outbox->start();
    auto q = pipeline::Quarantine::open({quarantineDir(c), c.spool.fsync, /*owner=*/true});
    if (!q.ok()) return fail(logger, "quarantine: " + q.error().message());
    quarantine = std::move(q.value());
    if (c.pipeline.parse) processor = std::make_unique<pipeline::MimeProcessor>(pipeline::MimeProcessorOptions{});
    pipeline::MessageHandlerOptions ho;
    ho.hostname = hostname;
    ho.key_prefix = storeKeyPrefix(c);  // store.s3.prefix: the same keys under the bucket's prefix
    ho.log = pipeline_log;
    handler = std::make_unique<pipeline::MessageHandler>(*blob_store, processor.get(), std::move(ho), pipeline_metrics);
    pipeline::SpoolConsumerOptions po;
    po.batch_max = c.pipeline.batch;
    po.sched_idle = c.pipeline.sched_idle;
    po.nice = static_cast<int>(c.pipeline.nice);
    po.retry.give_up_after = c.pipeline.give_up_after;
    po.stop_waiter = &pipeline_stop;
    po.log = pipeline_log;
    consumer = std::make_unique<pipeline::SpoolConsumer>(spool.value()->reader(), *handler, *events_runtime->outbox,
                                                         *quarantine, std::move(po), pipeline_metrics);
    consumer->start();
  }

  policy::StorageGuard storage_guard(c.spool.dir, c.spool.min_free);
  // [tenant.recipients] rule = "lookup": the customer's application over HTTP(S), through an
  // HTTP client of its own (its own io_context thread: a lookup never waits on a server loop)
  // and the answer cache. Made even when no tenant uses it yet, so that a reload can add one.
  auto lookup_client = http::makeHttpClient(http::ClientOptions{});
  policy::HttpRecipientLookup http_lookup(*lookup_client);
  policy::CachingRecipientLookup recipient_lookup(http_lookup, clock);
  policy::LocalPolicy local_policy(directory, &storage_guard, &recipient_lookup);
  // [[rate_limit]]: the limiter (rate_limits.backend, by name) in front of the local policy.
  std::unique_ptr<policy::RateLimitPolicy> rate_limit_policy;
  if (!c.rate_limit.empty()) {
    auto limiter = makeRateLimiter(c, [&logger](std::string_view line) {
      logger.event("rate_limits", std::chrono::system_clock::now(), [&](JsonWriter& w) { w.field("message", line); });
    });
    if (!limiter.ok()) return fail(logger, limiter.error().message());
    std::vector<policy::RateLimit> limits;
    for (const auto& l : c.rate_limit) limits.push_back(policy::toRateLimit(l));
    rate_limit_policy =
        std::make_unique<policy::RateLimitPolicy>(local_policy, std::move(limiter.value()), std::move(limits));
  }
  // [auth_limits]: failed AUTH slowed, then locked out; outermost (it only looks at AUTH).
  policy::Policy* inner_policy =
      rate_limit_policy ? static_cast<policy::Policy*>(rate_limit_policy.get()) : &local_policy;
  policy::AuthLimitPolicy auth_limit_policy(*inner_policy, c.auth_limits, [&logger](std::string_view line) {
    logger.event("auth_limits", std::chrono::system_clock::now(), [&](JsonWriter& w) { w.field("message", line); });
  });
  server::ServerDeps deps;
  deps.spool = spool->get();
  deps.clock = &clock;
  deps.logger = &logger;
  deps.metrics = &metrics;
  deps.tls = tls.get();
  deps.policy = &auth_limit_policy;
  deps.ack_gate = ack_gate.get();
  server::ServerOptions server_options = c.server;
  server_options.threads = threads;
  server_options.listeners = listenerOptions(c);
  server_options.session.auth_available = !directory->defaultTenant().empty();
  // HTTP ingest idempotency keys live beside the spool (server/idempotency.h).
  server_options.ingest_ids_file = c.spool.dir + "/http-ingest-ids";
  server::Server server(std::move(server_options), deps);
  if (Status st = server.start(); !st.ok()) return fail(logger, st.error().message());
  // /readyz: 503 from SIGTERM on, and while the spool's disk or commits are unhealthy.
  Readiness readiness(storage_guard, [&metrics] {
    return CommitOutcomes{metrics.messages_accepted.load(), metrics.messages_temp_failed.load()};
  });

  std::unique_ptr<server::HttpStatusServer> http;
  if (c.http.enabled) {
    std::string host;
    uint16_t port = 0;
    server::splitHostPort(c.http.listen, &host, &port);
    server::HttpStatusHandlers h;
    h.not_ready = [&readiness, &server, &clock] {
      std::string reason = readiness.check(clock.monotonic());
      if (reason.empty() && server.draining()) reason = "stopping: draining sessions";
      return reason;
    };
    h.metrics = [&metrics, &pipeline_metrics, &spool, &clock, &blob_store, &events_runtime, &c, &rate_limit_policy,
                 &auth_limit_policy, &recipient_lookup] {
      std::string extra = pipeline::renderPipelineMetrics(pipeline_metrics, spool.value()->stats(), clock.wall());
      if (rate_limit_policy) extra += rate_limit_policy->renderMetrics();
      extra += auth_limit_policy.renderMetrics();
      extra += recipient_lookup.renderMetrics();
      if (blob_store) extra += renderStoreMetrics(c, *blob_store);  // the backend's own table
      if (events_runtime) extra += events_runtime->outbox->renderMetrics();
      return metrics.renderPrometheus(extra);
    };
    http = std::make_unique<server::HttpStatusServer>(host, port, std::move(h));
    if (Status st = http->start(); !st.ok()) return fail(logger, st.error().message());
  }

  logger.event("started", clock.wall(), [&](JsonWriter& w) {
    w.field("hostname", hostname).field("config", c.source);
    w.field("threads", static_cast<uint64_t>(threads));
    w.field("open_file_limit", file_limit);
    if (file_limit < c.server.max_connections + 64) {
      w.field("warning", "the open-file limit is below server.max_connections: accepts will fail before the limit");
    }
    w.key("listeners").beginObject();
    for (const auto& l : c.listeners) w.field(l.name, static_cast<uint64_t>(server.boundPort(l.name)));
    w.endObject();
    if (http) w.field("http_port", static_cast<uint64_t>(http->port()));
  });
  // Type=notify: every socket is bound. The watchdog pings while the event loops come round.
  ServiceNotifier notifier;
  notifier.ready("accepting mail");
  notifier.startWatchdog(
      [&server] { return server.loopsResponsive(); },
      [&logger](std::string_view why) { logger.info("watchdog", std::string(why), std::chrono::system_clock::now()); });

  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // Reload what can change without dropping sessions: tenants, users, TLS certificate.
      std::vector<ConfigError> errors;
      Config next = loadConfig(c.source == "embedded defaults" ? "" : c.source, processEnvironment(), &errors);
      if (errors.empty()) validateConfig(next, &errors);
      std::string reload_error;
      policy::DirectoryPtr d;
      if (errors.empty()) d = policy::Directory::build(next.tenants, next.users, &reload_error);
      if (d) local_policy.setDirectory(d);
      if (tls && !tls->reload(&reload_error)) {}
      logger.event("reload", clock.wall(), [&](JsonWriter& w) {
        w.field("ok", errors.empty() && reload_error.empty());
        if (!errors.empty()) w.field("error", errors.front().format(next.source));
        else if (!reload_error.empty()) w.field("error", reload_error);
      });
      continue;
    }
    break;  // SIGTERM / SIGINT
  }

  // Unready first, listeners still open: the load balancer's health checks take the node
  // out during server.shutdown_delay (a second SIGTERM/SIGINT cuts it short), then the drain.
  readiness.stopping();
  notifier.stopping("draining");
  if (c.server.shutdown_delay.count() > 0) {
    logger.info("stopping", "/readyz answers 503; listeners close after server.shutdown_delay", clock.wall());
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    auto until = std::chrono::steady_clock::now() + c.server.shutdown_delay;
    for (auto left = c.server.shutdown_delay; left.count() > 0;
         left = std::chrono::duration_cast<Millis>(until - std::chrono::steady_clock::now())) {
      timespec ts{static_cast<time_t>(left.count() / 1000), static_cast<long>(left.count() % 1000) * 1'000'000};
      int sig = sigtimedwait(&stop_signals, nullptr, &ts);
      if (sig == SIGTERM || sig == SIGINT) break;
    }
  }
  logger.info("draining", "stopping listeners; sessions get until server.drain_timeout", clock.wall());
  server.drain();
  // Lookups still on their way are answered (as failures) while the server and the cache
  // they report to are still there.
  lookup_client.reset();
  if (http) http->stop();
  // Every acknowledged message is durable in the spool; the pipeline finishes what is there
  // (a node's spool is drained before exit, DESIGN.md "Scaling out").
  if (consumer) consumer->stop();
  // Events not yet delivered stay in the outboxes for the next start.
  if (events_runtime) events_runtime->outbox->stop();
  spool.value()->close();
  logger.info("stopped", "all sessions closed, pipeline drained, spool closed", clock.wall());
  return 0;
}

std::string quarantineDir(const Config& c) { return c.spool.dir + "/quarantine"; }

int runParse(const std::vector<std::string>& args) {
  return mime::runParseCommand(args, std::cout, std::cerr);
}

}  // namespace mx::app
