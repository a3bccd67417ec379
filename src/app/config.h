// app/config.h — mxgate's configuration: one TOML file (mxgate.toml), every key
// overridable from the environment, validated at start with errors that name the key and
// the line (DESIGN.md "Configuration"). Each section belongs to its module, which declares
// it as a field table (core/config_table.h) over its own options struct — the struct's
// default values are the defaults, in one place. This file only assembles the sections
// and loads them; docs/config.md is generated from the same tables (configReference()).
//
// Keys are `section.key` (server.hostname), nested sections `section.sub.key`
// ([store.s3] bucket); arrays of tables ([[listener]], [[tenant]], [[user]], [[rate_limit]]) are entries
// addressed by `name`. The environment form is MXGATE_SECTION_KEY (MXGATE_SERVER_HOSTNAME),
// MXGATE_SECTION_SUB_KEY, and MXGATE_<ARRAY>_<NAME>_<KEY> (MXGATE_LISTENER_SMTP_LISTEN); a
// name not in the file creates a new entry. A secret key also takes `<key>_file` (a path
// whose content is the value) in the file and MXGATE_..._<KEY>_FILE in the environment;
// secrets are never printed. Unknown keys and unknown MXGATE_* variables are errors (a
// typo must not silently fall back to a default); the tools' own variables are exempt:
// MXGATE_CONFIG, MXGATE_SOURCE_DIR, MXGATE_CORPUS_DIR, MXGATE_SHARED_DIR and the prefixes
// MXGATE_TEST_, MXGATE_BENCH_, MXGATE_FUZZ_, MXGATE_BUILD_.
//
// With no file, the embedded defaults describe a laptop setup: listeners on 127.0.0.1
// (SMTP 2525, submission 2587, smtps 2465), HTTP 8025, everything under ./var.
//
// Trust: the file and the environment are the operator's; still, every value is checked
// for type and range, and errors are values (ConfigErrors), not crashes. Loading is
// startup-only: exceptions from the TOML library are caught here.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "events/events_config.h"
#include "events/sink_config.h"
#include "lambda/lambda_config.h"
#include "pipeline/pipeline_config.h"
#include "policy/auth_limits/auth_limit_config.h"
#include "policy/policy_config.h"
#include "policy/rate_limits/rate_limit_config.h"
#include "server/server_config.h"
#include "spool/spool_config.h"
#include "store/store_config.h"

namespace mx::app {

struct Config {
  server::ServerOptions server;                     // [server] [limits] [timeouts]
  std::vector<server::ListenerSettings> listeners;  // [[listener]]
  server::TlsSettings tls;                          // [tls]
  spool::SpoolOptions spool;                        // [spool]
  store::StoreSettings store;                       // [store]
  events::EventsSettings events;                    // [events]
  std::vector<events::SinkSettings> sinks;          // [[sink]] (empty: the one sink of [events])
  pipeline::PipelineSettings pipeline;              // [pipeline]
  server::HttpSettings http;                        // [http]
  server::LogSettings log;                          // [log]
  std::vector<policy::TenantConfig> tenants;        // [[tenant]]
  std::vector<policy::UserConfig> users;            // [[user]]
  policy::RateLimitsSettings rate_limits;           // [rate_limits]
  policy::AuthLimitsSettings auth_limits;           // [auth_limits]
  std::vector<policy::RateLimitConfig> rate_limit;  // [[rate_limit]]
  lambda::LambdaSettings lambda;                    // [lambda] (mxgate-lambda only)

  std::string source = "embedded defaults";  // the file loaded, for messages
  std::map<std::string, int> key_lines;       // "section.key" / "listener.NAME.key" -> line

  // The line where `key` was set in the file, 0 if not from the file.
  int lineOf(const std::string& key) const;
};

// The embedded defaults (no file, no environment).
Config defaultConfig();

struct ConfigError {
  std::string key;       // e.g. "server.threads" or "MXGATE_SERVER_THREADS"
  int line = 0;          // 0 when not from the file
  std::string message;
  std::string format(const std::string& source) const;
};

// Loads defaults, then `path` (if non-empty), then the environment (`env` as NAME=VALUE
// strings, normally from environ). Appends every problem found to *errors; the returned
// config is only meaningful when *errors is empty.
Config loadConfig(const std::string& path, const std::vector<std::string>& env,
                  std::vector<ConfigError>* errors);

// As loadConfig(), with the file's text given (`source` names it in messages). For tests
// and the config fuzz target; loadConfig() reads the file and calls this.
Config loadConfigText(const std::string& text, const std::string& source, const std::vector<std::string>& env,
                      std::vector<ConfigError>* errors);

// Checks cross-field rules (listener names unique, addresses parse, at least one
// listener, tenants and users consistent, …). Appends to *errors.
void validateConfig(const Config& c, std::vector<ConfigError>* errors);

// The sinks in use: the [[sink]] entries, or without any, the one sink [events] describes
// (named after its kind, e.g. "file").
std::vector<events::SinkSettings> effectiveSinks(const Config& c);

// The indexes into `sinks` (effectiveSinks(config)) of the sinks a tenant's events go to:
// its `sinks` list, or every sink. The Outbox's route, and the Lambda handler's.
std::function<std::vector<size_t>(std::string_view)> tenantSinkRoute(const Config& config,
                                                                     const std::vector<events::SinkSettings>& sinks);

// The listeners as the server takes them (validateConfig() passed).
std::vector<server::ListenerOptions> listenerOptions(const Config& c);

// docs/config.md: every section's keys, defaults and help, from the field tables.
std::string configReference();

// The process environment as NAME=VALUE strings.
std::vector<std::string> processEnvironment();

}  // namespace mx::app
