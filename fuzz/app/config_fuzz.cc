// fuzz/app/config_fuzz.cc — the config loader (TOML through toml++, then the modules'
// field tables, then the environment, then validation) on arbitrary input must never
// crash, hang or leak, and must answer every bad value with an error that names a key.
// Input: TOML text, then optionally a NUL byte and environment lines (NAME=VALUE, one per
// line), so both ways in are explored.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "app/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::string toml = in, env_text;
  if (size_t nul = in.find('\0'); nul != std::string::npos) {
    toml = in.substr(0, nul);
    env_text = in.substr(nul + 1);
  }
  std::vector<std::string> env;
  size_t start = 0;
  while (start < env_text.size()) {
    size_t nl = env_text.find('\n', start);
    std::string line = env_text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    // Only MXGATE_ variables are config; the rest is ignored anyway. A `_FILE` secret would
    // read a file: keep the fuzzer away from the filesystem by dropping those.
    if (!line.empty() && line.find("_FILE=") == std::string::npos) env.push_back("MXGATE_" + line);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  std::vector<mx::app::ConfigError> errors;
  mx::app::Config c = mx::app::loadConfigText(toml, "fuzz.toml", env, &errors);
  if (errors.empty()) mx::app::validateConfig(c, &errors);
  for (const auto& e : errors) {
    if (e.key.empty() || e.message.empty()) std::abort();  // every error names a key and says why
  }
  if (errors.empty()) (void)mx::app::listenerOptions(c);
  return 0;
}
