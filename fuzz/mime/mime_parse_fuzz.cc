// fuzz/mime/mime_parse_fuzz.cc — libFuzzer target over mx::mime::parse (and decodeBody of
// every part). Beyond "no crash, no sanitizer report", it checks the parser's promises: the
// root entity exists as part "1", part ids and parent links are consistent, every decoded
// string is valid UTF-8, and kept attachment bytes equal a fresh decodeBody().
// Trust: the input is arbitrary bytes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/mime/fuzz_options.h"
#include "mime/charset.h"
#include "mime/parser.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void checkAddresses(const std::vector<mx::mime::Address>& list) {
  for (const auto& a : list) {
    if (a.name) check(mx::mime::isValidUtf8(*a.name));
    if (a.address) check(mx::mime::isValidUtf8(*a.address));
    if (a.group) check(mx::mime::isValidUtf8(*a.group));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mx::mime::ParseOptions opt;
  const std::string_view raw = mx::fuzz::splitOptions(data, size, &opt);
  const mx::mime::ParsedMessage m = mx::mime::parse(raw, opt);
  check(!m.parts.empty() && m.parts[0].part_id == "1" && m.parts[0].parent == -1);
  check(m.parts.size() <= opt.max_parts);
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const auto& p = m.parts[i];
    if (i > 0) {
      check(p.parent >= 0 && static_cast<size_t>(p.parent) < i);
      const auto& parent = m.parts[static_cast<size_t>(p.parent)];
      check(p.part_id.compare(0, parent.part_id.size() + 1, parent.part_id + ".") == 0);
      check(p.depth == parent.depth + 1);
    }
    check(mx::mime::isValidUtf8(p.text));
    check(mx::mime::isValidUtf8(p.content_type) && mx::mime::isValidUtf8(p.charset) &&
          mx::mime::isValidUtf8(p.transfer_encoding));
    if (p.filename) check(mx::mime::isValidUtf8(*p.filename));
    if (p.disposition) check(mx::mime::isValidUtf8(*p.disposition));
    if (p.content_id) check(mx::mime::isValidUtf8(*p.content_id));
    for (const auto& prm : p.params) {
      check(mx::mime::isValidUtf8(prm.name) && mx::mime::isValidUtf8(prm.value));
    }
    std::string bytes;
    mx::mime::decodeBody(m, i, bytes);
    if (p.data_kept) check(bytes == p.data);
    if (p.size && p.role != mx::mime::PartRole::kBodyText &&
        p.role != mx::mime::PartRole::kBodyHtml) {
      check(bytes.size() == *p.size);
    }
  }
  for (uint32_t a : m.attachments) check(a < m.parts.size() && m.parts[a].attachment >= 0);
  if (m.subject) check(mx::mime::isValidUtf8(*m.subject));
  checkAddresses(m.from);
  checkAddresses(m.to);
  checkAddresses(m.cc);
  for (const auto& r : m.auth_results) {
    check(mx::mime::isValidUtf8(r.authserv_id) && mx::mime::isValidUtf8(r.method) &&
          mx::mime::isValidUtf8(r.result));
    if (r.comment) check(mx::mime::isValidUtf8(*r.comment));
    if (r.reason) check(mx::mime::isValidUtf8(*r.reason));
    for (const auto& [k, v] : r.properties) {
      check(mx::mime::isValidUtf8(k) && mx::mime::isValidUtf8(v));
    }
  }
  if (m.message_id) check(mx::mime::isValidUtf8(*m.message_id));
  if (m.date_raw) check(mx::mime::isValidUtf8(*m.date_raw));
  for (const auto& r : m.references) check(mx::mime::isValidUtf8(r));
  for (const auto& e : m.errors) check(e.part < static_cast<int32_t>(m.parts.size()));
  return 0;
}
