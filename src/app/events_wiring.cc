// app/events_wiring.cc — see events_wiring.h.
#include "app/events_wiring.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

#include "aws/credentials.h"
#include "core/prometheus.h"
#include "core/time_format.h"
#include "http/beast_client.h"

namespace mx::app {
namespace {

// A sink that refuses everything: stands in for the backends in the CLI, which only reads
// and rewrites the outboxes and never delivers.
class NoBackend final : public events::EventSink {
 public:
  Status publish(std::span<const events::Event>) override {
    return Error(ErrorClass::kTransientBackend, "no backend in this process");
  }
};

// The figure `name`{sink="<sink>"} from a Prometheus text, or -1.
double metric(const std::string& text, const std::string& name, const std::string& sink) {
  const std::string needle = name + "{sink=\"" + prometheus::escapeLabel(sink) + "\"} ";
  size_t at = text.find(needle);
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + needle.size(), nullptr);
}

// `mxgate outbox status` while mxgate runs: the figures from its /metrics.
int printRunningStatus(const Config& c, const std::vector<events::SinkSettings>& sinks) {
  if (!c.http.enabled) {
    std::cerr << "mxgate outbox status: mxgate is running (it holds the outboxes) and http.enabled is false: "
                 "no figures to read\n";
    return 1;
  }
  auto client = http::BeastClient::create({});
  if (!client.ok()) return 1;
  http::Request req;
  req.url = "http://" + c.http.listen + "/metrics";
  req.timeout = Millis(5000);
  auto r = http::sendAndWait(**client, req);
  if (!r.ok() || r->status != 200) {
    std::cerr << "mxgate outbox status: mxgate is running, but " << req.url
              << " did not answer: " << (r.ok() ? "HTTP " + std::to_string(r->status) : r.error().message()) << "\n";
    return 1;
  }
  const int64_t now = unixMillis(RealClock().wall());
  std::cout << "sink\tkind\tdepth\toldest_age_s\tdead_letters\tdelivered\tretried\tdead_lettered\n";
  for (const auto& s : sinks) {
    double oldest = metric(r->body, "mxgate_outbox_oldest_event_unix_ms", s.name);
    char age[32] = "-";
    if (oldest > 0) std::snprintf(age, sizeof age, "%.1f", (static_cast<double>(now) - oldest) / 1000.0);
    std::cout << s.name << "\t" << s.kind << "\t" << metric(r->body, "mxgate_outbox_depth", s.name) << "\t" << age
              << "\t" << metric(r->body, "mxgate_outbox_dead_letters", s.name) << "\t"
              << metric(r->body, "mxgate_outbox_delivered_total", s.name) << "\t"
              << metric(r->body, "mxgate_outbox_retried_total", s.name) << "\t"
              << metric(r->body, "mxgate_outbox_dead_lettered_total", s.name) << "\n";
  }
  return 0;
}

}  // namespace

Result<std::unique_ptr<EventsRuntime>> makeEventsRuntime(const Config& c, bool with_backends,
                                                         std::function<void(std::string_view)> log) {
  auto rt = std::make_unique<EventsRuntime>();
  rt->sinks = effectiveSinks(c);
  rt->context = makeSinkContext(c);
  static NoBackend no_backend;
  for (const auto& s : rt->sinks) {
    if (!with_backends) {
      rt->backends.push_back(nullptr);
      continue;
    }
    auto b = makeSink(c, s, *rt->context);
    if (!b.ok()) return b.error();
    rt->backends.push_back(std::move(*b));
  }
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < rt->sinks.size(); ++i) index[rt->sinks[i].name] = i;

  std::vector<events::OutboxSink> outbox_sinks;
  for (size_t i = 0; i < rt->sinks.size(); ++i) {
    const auto& s = rt->sinks[i];
    events::OutboxSink o;
    o.name = s.name;
    o.sink = rt->backends[i] ? rt->backends[i].get() : &no_backend;
    if (!s.dead_letter_sink.empty() && rt->backends[index.at(s.dead_letter_sink)]) {
      o.dead_letter_sink = rt->backends[index.at(s.dead_letter_sink)].get();
    }
    o.dispatch.retry = events::BackoffOptions{s.retry_initial, s.retry_max};
    o.dispatch.max_age = s.max_age;
    o.dispatch.max_attempts = s.max_attempts;
    o.max_bytes = s.outbox_max_bytes;
    if (c.sinks.empty()) o.dead_letter_file = c.events.dead_letter_file;  // the one sink of [events]
    outbox_sinks.push_back(std::move(o));
  }

  events::OutboxOptions oo;
  oo.dir = c.events.outbox_dir;
  oo.fsync = c.spool.fsync;
  oo.log = std::move(log);
  oo.route = tenantSinkRoute(c, rt->sinks);
  auto ob = events::Outbox::open(std::move(oo), std::move(outbox_sinks));
  if (!ob.ok()) return ob.error();
  rt->outbox = std::move(*ob);
  return rt;
}

int runOutboxCommand(const Config& c, const std::vector<std::string>& args) {
  const std::string usage =
      "usage: mxgate outbox status\n"
      "       mxgate outbox replay --sink NAME [--since RFC3339|UNIX_MS]\n";
  if (args.empty() || (args[0] != "status" && args[0] != "replay")) {
    std::cerr << usage;
    return 2;
  }
  std::string sink_name;
  int64_t since_ms = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--sink" && i + 1 < args.size()) {
      sink_name = args[++i];
    } else if (args[i] == "--since" && i + 1 < args.size()) {
      const std::string& t = args[++i];
      if (auto w = aws::parseIso8601(t)) {
        since_ms = unixMillis(*w);
      } else if (!t.empty() && t.find_first_not_of("0123456789") == std::string::npos) {
        since_ms = std::stoll(t);
      } else {
        std::cerr << "mxgate outbox: --since must be an RFC 3339 time or Unix milliseconds: " << t << "\n";
        return 2;
      }
    } else {
      std::cerr << usage;
      return 2;
    }
  }
  const auto sinks = effectiveSinks(c);
  if (args[0] == "replay") {
    bool known = false;
    for (const auto& s : sinks) known = known || s.name == sink_name;
    if (!known) {
      std::cerr << "mxgate outbox replay: --sink must name a configured sink"
                << (sink_name.empty() ? "" : ", not " + sink_name) << "\n";
      return 2;
    }
  }
  auto rt = makeEventsRuntime(c, /*with_backends=*/false, [](std::string_view l) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(l.size()), l.data());
  });
  const bool running = !rt.ok() && rt.error().errorClass() == ErrorClass::kConfig &&
                       rt.error().message().find("in use by another process") != std::string::npos;
  if (!rt.ok() && !running) {
    std::cerr << "mxgate outbox: " << rt.error().message() << "\n";
    return 1;
  }
  if (args[0] == "replay") {
    if (running) {
      // The running mxgate owns the outbox: leave it a request; its dispatcher takes it within a second.
      const std::string dir = c.events.outbox_dir + "/" + sink_name + "/replay";
      if (Status s = events::requestReplay(dir, since_ms); !s.ok()) {
        std::cerr << "mxgate outbox replay: " << s.error().message() << "\n";
        return 1;
      }
      std::cout << "replay of sink " << sink_name << " requested from the running mxgate (" << dir << ")\n";
      return 0;
    }
    for (size_t i = 0; i < (*rt)->outbox->sinkCount(); ++i) {
      if ((*rt)->sinks[i].name != sink_name) continue;
      auto moved = events::replayDeadLetters((*rt)->outbox->files(i), since_ms);
      if (!moved.ok()) {
        std::cerr << "mxgate outbox replay: " << moved.error().message() << "\n";
        return 1;
      }
      std::cout << *moved << " dead letters of sink " << sink_name << " are back in its outbox\n";
    }
    return 0;
  }
  // status
  if (running) return printRunningStatus(c, sinks);
  std::cout << "sink\tkind\tdepth\toldest\tdead_letters\tdisk_bytes\n";
  for (size_t i = 0; i < (*rt)->outbox->sinkCount(); ++i) {
    auto st = (*rt)->outbox->status(i);
    std::string oldest = "-";
    if (st.depth > 0) {
      // The oldest undelivered event is the first record of the outbox: read it.
      auto r = (*rt)->outbox->files(i).queue->reader().next(Millis(0));
      if (r.ok() && *r) oldest = formatRfc3339((**r).envelope.received_at);
    }
    std::cout << st.name << "\t" << (*rt)->sinks[i].kind << "\t" << st.depth << "\t" << oldest << "\t"
              << st.dead_letters << "\t" << st.disk_bytes << "\n";
  }
  return 0;
}

}  // namespace mx::app
