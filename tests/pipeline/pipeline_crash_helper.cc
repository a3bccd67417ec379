// tests/pipeline/pipeline_crash_helper.cc — the process the pipeline crash test kills.
// Mode "run": opens the spool, local blob store (behind a decorator that refuses, for good,
// the raw objects of ids crashRefuses() names), JSONL event file behind the outbox, and the
// quarantine, starts the outbox's dispatcher and the consumer, and from two lanes commits records forever, printing
// "ACK <id>" (flushed) for each acknowledged commit. Mode "drain": runs the consumer until the spool is empty, then the
// dispatcher until the outbox is, and exits.
// Usage: pipeline_crash_helper run|drain DIR SEED
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "../spool/crash_common.h"
#include "events/file/file_event_sink.h"
#include "events/outbox/outbox.h"
#include "pipeline_test_util.h"
#include "store/local/local_blob_store.h"

using namespace mx;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s run|drain DIR SEED\n", argv[0]);
    return 2;
  }
  std::string mode = argv[1];
  std::string dir = argv[2];
  uint64_t seed = std::strtoull(argv[3], nullptr, 10);
  std::mutex out_mu;
  auto logLine = [&out_mu](std::string_view line) {
    std::lock_guard g(out_mu);
    std::printf("LOG %.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stdout);
  };
  spool::SpoolOptions so;
  so.log = logLine;
  so.dir = dir + "/spool";
  so.lanes = 2;
  so.inline_max = 64 << 10;
  so.segment_bytes = 512 << 10;
  auto sp = spool::Spool::open(so);
  if (!sp.ok()) {
    std::fprintf(stderr, "spool: %s\n", sp.error().message().c_str());
    return 1;
  }
  auto blobs = store::LocalBlobStore::open({dir + "/store", true});
  auto sink = events::FileEventSink::open({dir + "/var/events.jsonl", true});
  if (!blobs.ok() || !sink.ok()) {
    std::fprintf(stderr, "store/sink open failed\n");
    return 1;
  }
  pipeline::testing::RefusingStore refusing(**blobs);
  refusing.setRefuse([](std::string_view key) {
    if (key.size() < 4 || key.substr(key.size() - 4) != ".eml") return false;
    return pipeline::testing::crashRefuses(key.substr(0, key.size() - 4));
  });
  auto quarantine = pipeline::Quarantine::open({dir + "/spool/quarantine", true, true});
  events::OutboxOptions oo;
  oo.dir = dir + "/var/outbox";
  oo.log = logLine;
  events::DispatchOptions fast;
  fast.retry = {Millis(5), Millis(50)};
  auto outbox = events::Outbox::open(oo, {{"file", sink->get(), nullptr, fast}});
  if (!quarantine.ok() || !outbox.ok()) {
    std::fprintf(stderr, "quarantine/outbox open failed\n");
    return 1;
  }
  pipeline::PipelineMetrics metrics;
  pipeline::MessageHandler handler(refusing, nullptr, {"crashtest", "", logLine}, metrics);
  events::StopWaiter stop;
  pipeline::SpoolConsumerOptions po;
  po.batch_max = 16;
  po.idle_wait = Millis(20);
  po.log = logLine;
  po.stop_waiter = &stop;
  pipeline::SpoolConsumer p((*sp)->reader(), handler, **outbox, **quarantine, po, metrics);
  if (mode == "drain") {
    auto s = p.runUntilIdle();
    if (!s.ok()) {
      std::fprintf(stderr, "drain: %s\n", s.error().message().c_str());
      return 1;
    }
    (*outbox)->dispatcher(0).runUntilIdle(Millis(30'000));
    if ((*outbox)->status(0).depth != 0) {
      std::fprintf(stderr, "drain: %llu events left in the outbox\n",
                   static_cast<unsigned long long>((*outbox)->status(0).depth));
      return 1;
    }
    std::printf("DRAINED %llu\n", static_cast<unsigned long long>(metrics.records_processed.load()));
    return 0;
  }
  (*outbox)->start();
  p.start();
  std::vector<std::thread> threads;
  for (size_t l = 0; l < so.lanes; ++l) {
    threads.emplace_back([&, l] {
      MessageIdGenerator gen(seed * 100 + l);
      std::mutex mu;
      std::condition_variable cv;
      int inflight = 0;
      for (;;) {
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return inflight < 4; });
          ++inflight;
        }
        MessageId id = gen.next(std::chrono::system_clock::now());
        std::string text = id.toString();
        std::string body = spool::testing::crashBody(text);
        auto w = (*sp)->lane(l).begin();
        (void)w->append(body);
        (*sp)->lane(l).commit(std::move(w), spool::testing::crashEnvelope(id), [&, text](Status s) {
          if (s.ok()) {
            std::lock_guard g(out_mu);
            std::printf("ACK %s\n", text.c_str());
            std::fflush(stdout);
          }
          std::lock_guard lk(mu);
          --inflight;
          cv.notify_all();
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  return 0;
}
