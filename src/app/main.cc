// app/main.cc — the `mxgate` binary: subcommands serve, check-config, config-reference,
// version, parse, bench, bridge, quarantine and outbox. Concrete backends are named only in app/backends.cc
// (by their config names); app/wiring.cc wires the modules together (DESIGN.md "Modules").
//
// Signals (serve): SIGTERM/SIGINT drain gracefully (stop accepting, let sessions finish up
// to server.drain_timeout, then 421), after which the pipeline finishes every durable
// record and the process exits 0. With server.shutdown_delay, /readyz answers 503 for that
// long before the drain begins. Under systemd (Type=notify) READY=1, STOPPING=1 and the
// watchdog go to $NOTIFY_SOCKET (service_notify.h). SIGHUP reloads tenants, users and the TLS certificate
// without dropping sessions.
// Trust: command-line arguments and config come from the operator.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "app/backends.h"
#include "app/config.h"
#include "app/events_wiring.h"
#include "app/loadgen.h"
#include "app/service_notify.h"
#include "app/wiring.h"
#include "bridge/bridge.h"
#include "mime/cli.h"
#include "pipeline/quarantine_cli.h"

#ifndef MXGATE_VERSION
#define MXGATE_VERSION "0.0.0"
#endif

namespace {

using namespace mx;

int checkConfig(const std::string& path, bool quiet) {
  std::vector<app::ConfigError> errors;
  app::Config c = app::loadConfig(path, app::processEnvironment(), &errors);
  if (errors.empty()) app::validateConfig(c, &errors);
  if (errors.empty()) app::validateBackends(c, &errors);
  for (const auto& e : errors) std::fprintf(stderr, "mxgate: config: %s\n", e.format(c.source).c_str());
  if (!errors.empty()) return 2;
  if (!quiet) std::printf("%s: ok (%zu listeners, %zu tenants, %zu users)\n", c.source.c_str(),
                          c.listeners.size(), c.tenants.size(), c.users.size());
  return 0;
}

std::string defaultConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("MXGATE_CONFIG")) return env;
  return "";  // embedded defaults
}

int run(int argc, char** argv) {
  CLI::App cli{"mxgate — inbound mail gateway: SMTP in, durable spool, JSON and events out"};
  cli.require_subcommand(1);
  std::string config_path;

  auto* serve = cli.add_subcommand("serve", "run the gateway");
  serve->add_option("-c,--config", config_path, "TOML config file (default: $MXGATE_CONFIG, else embedded defaults)");

  auto* check = cli.add_subcommand("check-config", "validate the configuration and exit");
  check->add_option("-c,--config", config_path, "TOML config file");

  cli.add_subcommand("version", "print the version");
  cli.add_subcommand("config-reference",
                     "print the configuration reference (docs/config.md) generated from the modules' field tables");

  // Everything after "parse" goes to the parser's own command line (mime/cli.h).
  auto* parse = cli.add_subcommand("parse", "parse messages (FILE... or - for stdin) to JSON, one document per line; "
                                             "--pretty, --summary, --trust=ID, --offsets, --max-*=N");
  parse->prefix_command();
  parse->set_help_flag();

  auto* quarantine = cli.add_subcommand("quarantine", "list the records the pipeline could not process, or send them back "
                                                      "to it (works while serve runs)");
  quarantine->add_option("-c,--config", config_path, "TOML config file (its spool.dir holds the quarantine)");
  quarantine->require_subcommand(1);
  bool quarantine_json = false, quarantine_all = false;
  std::vector<std::string> quarantine_ids;
  auto* qlist = quarantine->add_subcommand("list", "one line per entry: id, tenant, received_at, attempts, reason");
  qlist->add_flag("--json", quarantine_json, "a JSON array of the entries, with the full envelope and failure history");
  auto* qretry = quarantine->add_subcommand("retry", "move entries to the retry inbox: the pipeline processes them again");
  qretry->add_option("ids", quarantine_ids, "message ids (from quarantine list)");
  qretry->add_flag("--all", quarantine_all, "every entry");

  auto* outbox = cli.add_subcommand("outbox",
                                    "the event sinks' outboxes: status (depth, oldest event, dead letters) "
                                    "or replay a sink's dead letters (works while serve runs)");
  outbox->add_option("-c,--config", config_path, "TOML config file (events.outbox_dir and the sinks)");
  outbox->require_subcommand(1);
  std::string outbox_sink, outbox_since;
  auto* ostatus = outbox->add_subcommand("status", "per sink: depth, oldest undelivered event, dead letters");
  ostatus->add_option("-c,--config", config_path, "TOML config file");
  auto* oreplay = outbox->add_subcommand("replay", "put a sink's dead letters back into its outbox");
  oreplay->add_option("-c,--config", config_path, "TOML config file");
  oreplay->add_option("--sink", outbox_sink, "the sink's name")->required();
  oreplay->add_option("--since", outbox_since, "only letters dead-lettered at or after this (RFC 3339 or Unix ms)");

  app::LoadOptions load;
  std::string server_addr = "127.0.0.1:2525";
  bool quiet = false;
  auto* bench = cli.add_subcommand("bench", "SMTP load generator: sessions, messages, size, rate");
  bench->add_option("-s,--server", server_addr, "host:port to send to")->capture_default_str();
  bench->add_option("--sessions", load.sessions, "concurrent sessions")->capture_default_str();
  bench->add_option("-m,--messages", load.messages, "messages in total")->capture_default_str();
  bench->add_option("--per-session", load.messages_per_session, "messages per session (0: until the total)")->capture_default_str();
  bench->add_option("--size", load.size, "message size in bytes")->capture_default_str();
  bench->add_option("--rate", load.rate, "messages/s in total (0: unlimited)")->capture_default_str();
  bench->add_option("--threads", load.threads, "client threads")->capture_default_str();
  bench->add_option("--from", load.mail_from, "MAIL FROM address")->capture_default_str();
  bench->add_option("--to", load.rcpt_to, "RCPT TO address")->capture_default_str();
  bench->add_option("--recipients", load.recipients, "recipients per message")->capture_default_str();
  bench->add_option("--idle", load.idle, "idle mode: hold this many idle connections, then probe EHLO latency");
  bench->add_option("--idle-probes", load.idle_probes, "idle mode: number of EHLO probes")->capture_default_str();
  bench->add_flag("-q,--quiet", quiet, "no progress line");

  bridge::BridgeOptions bridge_options;
  uint64_t bridge_window = bridge_options.window;
  auto* bridge_cmd = cli.add_subcommand("bridge",
                                        "tunnel local SMTP connections over WebSocket (ws/wss) to the edge "
                                        "or to an mxgate websocket listener (docs/edge.md)");
  bridge_cmd->add_option("--listen", bridge_options.listen, "local host:port to accept SMTP on")->capture_default_str();
  bridge_cmd->add_option("--url", bridge_options.url, "ws://… or wss://… (e.g. wss://edge.example/v1/smtp)")
      ->required();
  bridge_cmd->add_option("--token", bridge_options.token, "Bearer token for the edge (default: $MXGATE_BRIDGE_TOKEN)");
  bridge_cmd->add_option("--ca-file", bridge_options.ca_file,
                         "extra trusted CA certificates (PEM), beside the system store");
  bridge_cmd->add_option("--window", bridge_window, "bytes in flight per direction and connection")
      ->capture_default_str();
  bridge_cmd->add_option("--attempts", bridge_options.connect_attempts, "connection attempts per client connection")
      ->capture_default_str();

  CLI11_PARSE(cli, argc, argv);

  if (cli.got_subcommand("bridge")) {
    if (bridge_options.token.empty()) {
      if (const char* env = std::getenv("MXGATE_BRIDGE_TOKEN")) bridge_options.token = env;
    }
    bridge_options.window = static_cast<size_t>(bridge_window);
    return bridge::runBridgeCommand(bridge_options);
  }

  if (cli.got_subcommand("version")) {
    std::printf("mxgate %s\n", MXGATE_VERSION);
    // Build options an operator (or a packaging test) may need to know about.
    std::printf("systemd notify: %s\n", app::ServiceNotifier::available() ? "yes" : "no");
    return 0;
  }
  if (cli.got_subcommand("config-reference")) {
    std::fputs(app::configReference().c_str(), stdout);
    return 0;
  }
  if (cli.got_subcommand("check-config")) return checkConfig(defaultConfigPath(config_path), false);
  if (cli.got_subcommand("parse")) {
    std::vector<std::string> args = parse->remaining();
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
      std::fputs(mime::parseCommandUsage(), stdout);
      return args.empty() ? 2 : 0;
    }
    return app::runParse(args);
  }
  if (cli.got_subcommand("quarantine")) {
    std::vector<app::ConfigError> errors;
    app::Config c = app::loadConfig(defaultConfigPath(config_path), app::processEnvironment(), &errors);
    for (const auto& e : errors) std::fprintf(stderr, "mxgate: config: %s\n", e.format(c.source).c_str());
    if (!errors.empty()) return 2;
    if (qlist->parsed()) return pipeline::runQuarantineList(app::quarantineDir(c), quarantine_json, std::cout, std::cerr);
    if (quarantine_ids.empty() && !quarantine_all) {
      std::fprintf(stderr, "mxgate quarantine retry: give message ids or --all\n");
      return 2;
    }
    return pipeline::runQuarantineRetry(app::quarantineDir(c), quarantine_ids, quarantine_all, std::cout, std::cerr);
  }
  if (cli.got_subcommand("outbox")) {
    std::vector<app::ConfigError> errors;
    app::Config c = app::loadConfig(defaultConfigPath(config_path), app::processEnvironment(), &errors);
    if (errors.empty()) app::validateConfig(c, &errors);
    for (const auto& e : errors) std::fprintf(stderr, "mxgate: config: %s\n", e.format(c.source).c_str());
    if (!errors.empty()) return 2;
    std::vector<std::string> args;
    if (oreplay->parsed()) {
      args = {"replay", "--sink", outbox_sink};
      if (!outbox_since.empty()) {
        args.push_back("--since");
        args.push_back(outbox_since);
      }
    } else {
      args = {"status"};
    }
    return app::runOutboxCommand(c, args);
  }
  if (cli.got_subcommand("bench")) {
    std::string host;
    if (!server::splitHostPort(server_addr, &host, &load.port)) {
      std::fprintf(stderr, "mxgate bench: --server must be host:port\n");
      return 2;
    }
    load.host = host;
    load.progress = !quiet;
    return app::runLoad(load);
  }
  // serve
  std::string path = defaultConfigPath(config_path);
  std::vector<app::ConfigError> errors;
  app::Config c = app::loadConfig(path, app::processEnvironment(), &errors);
  if (errors.empty()) app::validateConfig(c, &errors);
  if (errors.empty()) app::validateBackends(c, &errors);
  for (const auto& e : errors) std::fprintf(stderr, "mxgate: config: %s\n", e.format(c.source).c_str());
  if (!errors.empty()) return 2;
  return app::runServe(c);
}

}  // namespace

// Anything uncaught (a startup exception that escaped its handler, out of memory) ends the
// process with its message and exit status 1 instead of std::terminate's abort.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mxgate: %s\n", e.what());
    return 1;
  }
}
