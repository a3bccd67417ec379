// fuzz/standalone_main.cc — runs a libFuzzer target over files without libFuzzer, so the
// normal (gcc) test run replays every fuzz corpus and every recorded crasher (Envoy's
// practice). Usage: <target> FILE_OR_DIR...
// Trust: the files are fuzz inputs; the target must survive any bytes.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int runFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int ran = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p)) {
        if (e.is_regular_file()) ran += runFile(e.path());
      }
    } else {
      ran += runFile(p);
    }
  }
  std::printf("replayed %d inputs\n", ran);
  // A corpus that is missing or empty is a broken test, not a pass.
  return ran > 0 ? 0 : 1;
}
