// app/config.h — mxgate's configuration: one TOML file (mxgate.toml), every key
// overridable from the environment, validated at start with errors that name the key and
// the line (DESIGN.md "Configuration").
//
// Keys are `section.key` (e.g. server.hostname); the environment form is
// MXGATE_SECTION_KEY (MXGATE_SERVER_HOSTNAME). Arrays of tables are addressed by their
// name: MXGATE_LISTENER_<NAME>_<KEY>, MXGATE_TENANT_<NAME>_DOMAINS (comma-separated),
// MXGATE_USER_<NAME>_PASSWORD_HASH; a name not in the file creates a new entry. Unknown
// keys and unknown MXGATE_* variables are errors (a typo must not silently fall back to a
// default); the tools' own variables are exempt: MXGATE_CONFIG, MXGATE_SOURCE_DIR,
// MXGATE_CORPUS_DIR, MXGATE_SHARED_DIR and the prefixes MXGATE_TEST_, MXGATE_BENCH_,
// MXGATE_FUZZ_, MXGATE_BUILD_. Durations take a unit ("30s", "500ms", "5m", "1h"); sizes
// take bytes or a unit ("50MiB", "64KiB", "10MB").
//
// With no file, the embedded defaults describe a laptop setup: listeners on 127.0.0.1
// (SMTP 2525, submission 2587, smtps 2465), HTTP 8025, everything under ./var.
//
// Trust: the file and the environment are the operator's; still, every value is checked
// for type and range, and errors are values (ConfigErrors), not crashes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/clock.h"
#include "policy/tenants.h"

namespace mx::app {

struct ListenerConfig {
  std::string name;
  std::string kind = "smtp";            // smtp | submission | smtps
  std::string listen;                   // "host:port", "[v6]:port"
  bool proxy_protocol = false;
  std::vector<std::string> trusted_proxies;
  bool auth_plaintext = false;
  bool require_tls = false;
  bool auth_required = false;
  int line = 0;                         // where it was defined (0: defaults/env)
};

struct Config {
  // [server]
  std::string hostname = "mx.localhost";
  uint32_t threads = 0;
  uint32_t max_connections = 20000;
  uint32_t max_connections_per_ip = 100;
  Millis drain_timeout{30'000};
  // [limits]
  uint64_t max_message_size = 50ull << 20;
  uint32_t max_recipients = 100;
  uint32_t max_errors = 10;
  uint32_t max_messages_per_session = 0;
  // [timeouts]
  Millis proxy_header_timeout{10'000};
  Millis tls_handshake_timeout{30'000};
  Millis greeting_timeout{60'000};
  Millis idle_timeout{300'000};
  Millis command_timeout{300'000};
  Millis data_timeout{180'000};
  // [tls]
  std::string tls_cert_file = "var/tls/cert.pem";
  std::string tls_key_file = "var/tls/key.pem";
  bool tls_self_signed = true;          // generate the pair on first run if missing
  bool tls_enabled = true;
  // [spool]
  std::string spool_dir = "var/spool";
  uint64_t spool_segment_size = 64ull << 20;
  uint64_t spool_inline_max = 1ull << 20;
  bool spool_fsync = true;
  uint64_t spool_min_free = 512ull << 20;  // below this, RCPT gets 452 4.3.1; 0: no check
  // [store]
  std::string store_backend = "local";
  std::string store_dir = "var/store";
  std::string store_sync = "filesystem";  // how a pipeline batch is made durable: filesystem | file
  // [events]
  std::string events_sink = "file";
  std::string events_file = "var/events.jsonl";
  std::string events_dead_letter_file = "var/events.dead-letter.jsonl";  // events a sink refused for good
  // [pipeline]
  bool pipeline_enabled = true;
  bool pipeline_parse = true;
  uint32_t pipeline_nice = 10;          // the pipeline yields the CPU to reception
  bool pipeline_sched_idle = true;       // SCHED_IDLE: only CPU time reception leaves free
  uint32_t pipeline_batch = 256;        // records per store sync + event publish + checkpoint
  Millis pipeline_give_up_after{3'600'000};  // a message failing transiently this long is quarantined; 0: never
  // [http]
  bool http_enabled = true;
  std::string http_listen = "127.0.0.1:8025";
  // [log]
  std::string log_file;                 // empty: stderr
  // [[listener]], [[tenant]], [[user]]
  std::vector<ListenerConfig> listeners;
  std::vector<policy::TenantConfig> tenants;
  std::vector<policy::UserConfig> users;

  std::string source = "embedded defaults";  // the file loaded, for messages
  std::map<std::string, int> key_lines;       // "section.key" -> line in the file
};

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

// Checks cross-field rules (listener names unique, addresses parse, kinds known, at least
// one listener, ...). Appends to *errors.
void validateConfig(const Config& c, std::vector<ConfigError>* errors);

// Splits "host:port" / "[v6]:port". False on a malformed value.
bool splitHostPort(const std::string& s, std::string* host, uint16_t* port);

// The process environment as NAME=VALUE strings.
std::vector<std::string> processEnvironment();

}  // namespace mx::app
