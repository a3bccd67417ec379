// kafka_peer: the Kafka benchmark's peer — librdkafka's own producer, with the settings the
// mxgate Kafka sink uses (idempotence, acks=all), producing N keyed records of a given size
// to a topic and waiting for every delivery report. Its records/s against the same mock
// cluster in the same run is the ceiling the sink's drain rate is compared with
// (bench/events/run.sh): what librdkafka and the cluster allow on this machine, without
// mxgate's outbox, dispatcher or CloudEvents encoding.
//
// Usage: kafka_peer BOOTSTRAP TOPIC COUNT SIZE [name=value ...]   (extra librdkafka properties)
// Prints one line: "records=N seconds=S records_per_s=R failed=F".
// Benchmark tool: trusts its arguments.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::atomic<long> g_delivered{0};
std::atomic<long> g_failed{0};

void onDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) g_failed.fetch_add(1);
  g_delivered.fetch_add(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP TOPIC COUNT SIZE [name=value ...]\n", argv[0]);
    return 2;
  }
  const std::string bootstrap = argv[1];
  const std::string topic = argv[2];
  const long count = std::atol(argv[3]);
  const size_t size = static_cast<size_t>(std::atol(argv[4]));
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", bootstrap}, {"enable.idempotence", "true"}, {"acks", "all"}};
  for (int i = 5; i < argc; ++i) {
    std::string kv = argv[i];
    auto eq = kv.find('=');
    if (eq == std::string::npos) return 2;
    props.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s: %s\n", k.c_str(), err);
      return 2;
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &onDelivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "rd_kafka_new: %s\n", err);
    return 1;
  }
  // Metadata first, so that the timing starts with a connected producer (as the sink's does).
  const struct rd_kafka_metadata* md = nullptr;
  rd_kafka_metadata(rk, 1, nullptr, &md, 10000);
  if (md != nullptr) rd_kafka_metadata_destroy(md);

  std::string value(size, 'x');
  char key[32];
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    std::snprintf(key, sizeof key, "01JPEER%019ld", i * 7919 % 1000003);
    for (;;) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key, std::strlen(key)),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
        return 1;
      }
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  while (g_delivered.load() < count) rd_kafka_poll(rk, 5);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("records=%ld seconds=%.3f records_per_s=%.0f failed=%ld\n", count, seconds, count / seconds,
              g_failed.load());
  rd_kafka_destroy(rk);
  return g_failed.load() == 0 ? 0 : 1;
}
