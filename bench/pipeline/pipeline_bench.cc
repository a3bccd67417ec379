// bench/pipeline/pipeline_bench.cc — how fast the spool consumer drains a backlog: fills a
// spool with N messages (a small multipart message padded to --size bytes, one attachment),
// closes it, then times one consumer draining it end to end: read record -> MIME parse ->
// raw .eml + parsed .json + attachment into the local store (batch durability as
// store.sync) -> one CloudEvents line per message into a JSON-lines file (one fdatasync per
// batch) -> checkpoint. Prints msgs/s and MB/s of raw bytes per run and the median.
//
// Usage: pipeline_bench [--dir DIR] [--messages N] [--size BYTES] [--batch N] [--runs N]
//                       [--sync filesystem|file] [--no-parse]
// DIR must be on the disk under test (default: $TMPDIR or /tmp). Figures depend on the
// machine and its load: quote the median of several runs with the conditions.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/message_id.h"
#include "events/file/file_event_sink.h"
#include "events/outbox/outbox.h"
#include "pipeline/message_handler.h"
#include "pipeline/mime_processor.h"
#include "pipeline/quarantine.h"
#include "pipeline/spool_consumer.h"
#include "spool/spool.h"
#include "store/local/local_blob_store.h"

using namespace mx;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string dir;
  size_t messages = 20000;
  size_t size = 1024;
  size_t batch = 256;
  int runs = 3;
  bool parse = true;
  store::SyncMethod sync = store::SyncMethod::kFilesystem;
};

std::string makeMessage(size_t n, size_t size) {
  std::string m =
      "From: Sender <sender@origin.test>\r\n"
      "To: Support <support@example.test>\r\n"
      "Subject: =?utf-8?q?Rechnung_M=C3=A4rz?= " + std::to_string(n) + "\r\n"
      "Message-ID: <bench-" + std::to_string(n) + "@origin.test>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
      "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  std::string tail =
      "\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
      "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n--b1--\r\n";
  while (m.size() + tail.size() < size) m += "Lorem ipsum dolor sit amet, consectetur adipiscing.\r\n";
  return m + tail;
}

Envelope makeEnvelope(const MessageId& id) {
  Envelope e;
  e.id = id;
  e.received_at = std::chrono::system_clock::now();
  e.tenant = "bench";
  e.listener = "smtp";
  e.mail_from = "sender@origin.test";
  e.rcpt_to = {"support@example.test"};
  e.helo = "client.origin.test";
  e.client_ip = "192.0.2.1";
  e.esmtp = true;
  return e;
}

// Commits `n` messages with up to 256 in flight (group commit keeps the fill quick).
bool fill(const std::string& spool_dir, const Args& a) {
  spool::SpoolOptions so;
  so.dir = spool_dir;
  so.lanes = 2;
  auto sp = spool::Spool::open(so);
  if (!sp.ok()) {
    std::fprintf(stderr, "spool: %s\n", sp.error().message().c_str());
    return false;
  }
  MessageIdGenerator gen(42);
  std::mutex mu;
  std::condition_variable cv;
  size_t inflight = 0, failed = 0;
  for (size_t i = 0; i < a.messages; ++i) {
    {
      std::unique_lock l(mu);
      cv.wait(l, [&] { return inflight < 256; });
      ++inflight;
    }
    auto& lane = (*sp)->lane(i % 2);
    auto w = lane.begin();
    (void)w->append(makeMessage(i, a.size));
    lane.commit(std::move(w), makeEnvelope(gen.next(std::chrono::system_clock::now())), [&](Status s) {
      std::lock_guard l(mu);
      if (!s.ok()) ++failed;
      --inflight;
      cv.notify_all();
    });
  }
  std::unique_lock l(mu);
  cv.wait(l, [&] { return inflight == 0; });
  return failed == 0;
}

struct RunResult {
  double seconds = 0;
  uint64_t processed = 0;
};

// The part that depends on the pipeline's API: drain the spool at `dir` once.
bool drain(const std::string& dir, const Args& a, RunResult* out) {
  spool::SpoolOptions so;
  so.dir = dir + "/spool";
  so.lanes = 2;
  auto sp = spool::Spool::open(so);
  store::LocalBlobStoreOptions lso;
  lso.root = dir + "/store";
  lso.sync_method = a.sync;
  auto blobs = store::LocalBlobStore::open(lso);
  auto sink = events::FileEventSink::open({dir + "/events.jsonl", true});
  auto quarantine = pipeline::Quarantine::open({dir + "/spool/quarantine", true, true});
  if (!sp.ok() || !blobs.ok() || !sink.ok() || !quarantine.ok()) return false;
  events::OutboxOptions oo;
  oo.dir = dir + "/outbox";
  auto outbox = events::Outbox::open(oo, {{"file", sink->get(), nullptr, {}}});
  if (!outbox.ok()) return false;
  pipeline::MimeProcessor proc(pipeline::MimeProcessorOptions{});
  pipeline::PipelineMetrics metrics;
  events::StopWaiter stop;
  auto t0 = SteadyClock::now();
  pipeline::MessageHandler handler(**blobs, a.parse ? &proc : nullptr, {"bench", "", {}}, metrics);
  pipeline::SpoolConsumerOptions po;
  po.batch_max = a.batch;
  po.stop_waiter = &stop;
  pipeline::SpoolConsumer consumer((*sp)->reader(), handler, **outbox, **quarantine, po, metrics);
  (*outbox)->start();  // the events file is written by the outbox's dispatcher, as in mxgate
  Status s = consumer.runUntilIdle();
  while ((*outbox)->status(0).depth > 0 && s.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  (*outbox)->stop();
  out->seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  out->processed = metrics.records_processed.load();
  if (!s.ok()) std::fprintf(stderr, "drain: %s\n", s.error().message().c_str());
  return s.ok();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  const char* tmp = std::getenv("TMPDIR");
  a.dir = std::string(tmp ? tmp : "/tmp") + "/mxgate-pipeline-bench";
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--dir") a.dir = val();
    else if (k == "--messages") a.messages = std::stoul(val());
    else if (k == "--size") a.size = std::stoul(val());
    else if (k == "--batch") a.batch = std::stoul(val());
    else if (k == "--runs") a.runs = std::stoi(val());
    else if (k == "--no-parse") a.parse = false;
    else if (k == "--sync") a.sync = val() == "file" ? store::SyncMethod::kPerFile : store::SyncMethod::kFilesystem;
    else {
      std::fprintf(stderr, "usage: %s [--dir DIR] [--messages N] [--size BYTES] [--batch N] [--runs N] "
                           "[--sync filesystem|file] [--no-parse]\n", argv[0]);
      return 2;
    }
  }
  std::printf("pipeline drain: %zu messages of %zu bytes, batch %zu, parse %s, store.sync %s\n", a.messages,
              a.size, a.batch, a.parse ? "on" : "off", a.sync == store::SyncMethod::kPerFile ? "file" : "filesystem");
  std::vector<double> rates;
  for (int r = 0; r < a.runs; ++r) {
    std::filesystem::remove_all(a.dir);
    std::filesystem::create_directories(a.dir);
    if (!fill(a.dir + "/spool", a)) return 1;
    RunResult rr;
    if (!drain(a.dir, a, &rr) || rr.processed != a.messages) {
      std::fprintf(stderr, "run %d: processed %llu of %zu\n", r, static_cast<unsigned long long>(rr.processed),
                   a.messages);
      return 1;
    }
    double rate = static_cast<double>(rr.processed) / rr.seconds;
    rates.push_back(rate);
    std::printf("run %d: %.0f msgs/s, %.1f MB/s raw (%.2f s)\n", r + 1, rate,
                rate * static_cast<double>(a.size) / 1e6, rr.seconds);
  }
  std::filesystem::remove_all(a.dir);
  std::sort(rates.begin(), rates.end());
  std::printf("median: %.0f msgs/s\n", rates[rates.size() / 2]);
  return 0;
}
