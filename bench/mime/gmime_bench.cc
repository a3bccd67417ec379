// bench/mime/gmime_bench.cc — the GMime 3 peer for mime_bench: the same corpus, loaded the
// same way, and the same work per message: parse, read the decoded subject, addresses, date
// and message-id, walk every part (into message/rfc822 too), decode every leaf body, convert
// every text part to UTF-8 (g_mime_text_part_get_text), and read every filename.
// --threads=N|all: the messages spread over N threads, one GMimeParser per message as in the
// single-threaded run (GMime is thread-safe after g_mime_init for separate objects).
// Usage: gmime_bench [--runs=N] [--threads=N|all] [--max-size=BYTES] DIR|FILE...
// Trust: corpus files are arbitrary bytes.
#include <gmime/gmime.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "bench/mime/corpus_loader.h"

namespace {

thread_local size_t g_sink = 0;  // per thread: summed after each pass

void readAddresses(InternetAddressList* list) {
  if (!list) return;
  const int n = internet_address_list_length(list);
  for (int i = 0; i < n; ++i) {
    InternetAddress* a = internet_address_list_get_address(list, i);
    const char* name = internet_address_get_name(a);
    if (name) g_sink += std::strlen(name);
    if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
      const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
      if (addr) g_sink += std::strlen(addr);
    } else if (INTERNET_ADDRESS_IS_GROUP(a)) {
      readAddresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)));
    }
  }
}

void readMessageFields(GMimeMessage* m) {
  const char* subject = g_mime_message_get_subject(m);
  if (subject) g_sink += std::strlen(subject);
  readAddresses(g_mime_message_get_from(m));
  readAddresses(g_mime_message_get_to(m));
  readAddresses(g_mime_message_get_cc(m));
  GDateTime* date = g_mime_message_get_date(m);
  if (date) g_sink += static_cast<size_t>(g_date_time_get_year(date));
  const char* mid = g_mime_message_get_message_id(m);
  if (mid) g_sink += std::strlen(mid);
}

void walk(GMimeObject* obj) {
  if (!obj) return;
  if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    if (inner) {
      readMessageFields(inner);
      walk(g_mime_message_get_mime_part(inner));
    }
    return;
  }
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    const int n = g_mime_multipart_get_count(mp);
    for (int i = 0; i < n; ++i) walk(g_mime_multipart_get_part(mp, i));
    return;
  }
  if (!GMIME_IS_PART(obj)) return;
  GMimePart* part = GMIME_PART(obj);
  const char* filename = g_mime_part_get_filename(part);
  if (filename) g_sink += std::strlen(filename);
  if (GMIME_IS_TEXT_PART(obj)) {
    char* text = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));  // decoded, UTF-8
    if (text) {
      g_sink += std::strlen(text);
      g_free(text);
    }
    return;
  }
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return;
  GMimeStream* out = g_mime_stream_mem_new();
  g_mime_data_wrapper_write_to_stream(content, out);  // transfer-decoded
  g_sink += static_cast<size_t>(g_mime_stream_length(out));
  g_object_unref(out);
}

}  // namespace

int main(int argc, char** argv) {
  mx::bench::Args args = mx::bench::parseArgs(argc, argv);
  if (args.paths.empty()) {
    std::fprintf(stderr, "usage: gmime_bench [--runs=N] [--threads=N|all] [--max-size=BYTES] DIR|FILE...\n");
    return 2;
  }
  g_mime_init();
  mx::bench::Corpus corpus = mx::bench::loadCorpus(args.paths, args.max_size);
  if (corpus.messages.empty()) {
    std::fprintf(stderr, "gmime_bench: no messages\n");
    return 1;
  }
  // Zero-copy for GMime too: each stream reads the loaded buffer in place.
  std::vector<GByteArray*> arrays;
  for (auto& m : corpus.messages) {
    GByteArray* a = g_byte_array_new_take(reinterpret_cast<guint8*>(m.data()), m.size());
    arrays.push_back(a);
  }
  std::atomic<size_t> total{0};
  auto t = mx::bench::timePasses(args.runs, [&] {
    mx::bench::forEachMessage(args.threads, arrays.size(), [&](unsigned, size_t k) {
      GByteArray* a = arrays[k];
      const size_t before = g_sink;
      GMimeStream* stream = g_mime_stream_mem_new_with_byte_array(a);
      g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
      GMimeParser* parser = g_mime_parser_new_with_stream(stream);
      GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
      if (msg) {
        readMessageFields(msg);
        walk(g_mime_message_get_mime_part(msg));
        g_object_unref(msg);
      }
      g_object_unref(parser);
      g_object_unref(stream);
      total.fetch_add(g_sink - before, std::memory_order_relaxed);
    });
  });
  mx::bench::printResult("gmime", "walk-decode-utf8", args.threads, corpus, t);
  if (total.load() == 0) std::printf("(no output)\n");
  // The buffers belong to corpus.messages: free only the GByteArray shells.
  for (GByteArray* a : arrays) g_byte_array_free(a, FALSE);
  g_mime_shutdown();
  return 0;
}
