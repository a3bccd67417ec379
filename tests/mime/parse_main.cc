// tests/mime/parse_main.cc — a test-only `mxgate parse` (the real one lives in src/app):
// mime_parse [options] FILE... | -   (see mime/cli.h for the options).
// Trust: files are untrusted messages.
#include <iostream>
#include <string>
#include <vector>

#include "mime/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return mx::mime::runParseCommand(args, std::cout, std::cerr);
}
