// tests/events/kafka_mock_cluster.cc — a Kafka cluster for integration tests: librdkafka's
// mock cluster (rdkafka_mock.h; no broker package exists, PLATFORM.md) with 3 brokers on
// 127.0.0.1 and random ports, driven over stdin so that a test script can inject faults.
//
//   kafka_mock_cluster [--brokers N]
//   stdout, first line: the bootstrap string ("127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3");
//   stdin, one command a line, each answered by one stdout line "ok" or "error: <why>":
//     down        every broker down (connections closed, new ones refused)
//     up          every broker up again
//     errors N    the next N Produce requests fail with NOT_ENOUGH_REPLICAS (retriable)
//     topic NAME P  create topic NAME with P partitions (otherwise auto-created, 4 partitions)
//     consume NAME  reads topic NAME from the beginning of every partition to its end and
//                 prints one line per record, "record <partition> <offset> <key> <ce_id> <ts>"
//                 (<ts>: the record's timestamp, Unix ms: the producer's create time)
//                 ("-" for a missing key or header), before the closing "ok <count>"
//   EOF on stdin: the cluster is destroyed and the process exits 0.
// Threads: the mock cluster runs on librdkafka's threads; main only reads stdin.
// Trust: commands come from the test harness; a malformed one gets "error: ..." and is ignored.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int16_t kProduceApiKey = 0;  // Kafka protocol ApiKey of Produce

void quietLog(const rd_kafka_t* /*rk*/, int /*level*/, const char* /*fac*/, const char* /*buf*/) {}

// Reads every record of `topic` (assign(), not a group join: that costs seconds); prints
// the record lines and returns the closing answer.
std::string consume(const std::string& bootstrap, const std::string& topic) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, quietLog);
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "group.id", "kafka-mock-cluster-reader", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return std::string("error: ") + errstr;
  }
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (c == nullptr) return std::string("error: ") + errstr;
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* t = rd_kafka_topic_new(c, topic.c_str(), nullptr);
  rd_kafka_resp_err_t err = rd_kafka_metadata(c, 0, t, &md, 5000);
  rd_kafka_topic_destroy(t);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(c);
    return "error: no such topic " + topic;
  }
  const int partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(c, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  int at_end = 0, count = 0, idle = 0;
  while (at_end < partitions && idle < 100) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
    if (m == nullptr) {
      ++idle;
      continue;
    }
    idle = 0;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ++at_end;
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string key = m->key ? std::string(static_cast<const char*>(m->key), m->key_len) : "-";
      std::string ce_id = "-";
      rd_kafka_headers_t* h = nullptr;
      const void* v = nullptr;
      size_t n = 0;
      if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          rd_kafka_header_get_last(h, "ce_id", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ce_id.assign(static_cast<const char*>(v), n);
      }
      std::cout << "record " << m->partition << " " << m->offset << " " << key << " " << ce_id << " "
                << rd_kafka_message_timestamp(m, nullptr) << "\n";
      ++count;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  if (at_end < partitions) return "error: timed out before the end of every partition";
  return "ok " + std::to_string(count);
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  if (argc == 3 && std::string(argv[1]) == "--brokers") brokers = std::atoi(argv[2]);
  if (brokers < 1 || brokers > 16) {
    std::fprintf(stderr, "usage: kafka_mock_cluster [--brokers 1..16]\n");
    return 2;
  }
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, quietLog);
  // The handle only hosts the mock cluster (its threads and logs); it produces nothing.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::fprintf(stderr, "kafka_mock_cluster: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    std::fprintf(stderr, "kafka_mock_cluster: cannot create the mock cluster\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  std::cout << rd_kafka_mock_cluster_bootstraps(mc) << std::endl;

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    std::string answer = "ok";
    if (cmd == "down" || cmd == "up") {
      for (int32_t id = 1; id <= brokers; ++id) {
        rd_kafka_resp_err_t err =
            cmd == "down" ? rd_kafka_mock_broker_set_down(mc, id) : rd_kafka_mock_broker_set_up(mc, id);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) answer = std::string("error: ") + rd_kafka_err2str(err);
      }
    } else if (cmd == "errors") {
      long n = -1;
      in >> n;
      if (!in || n < 0 || n > 100000) {
        answer = "error: errors N (0..100000)";
      } else {
        std::vector<rd_kafka_resp_err_t> errs(static_cast<size_t>(n), RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
        rd_kafka_mock_push_request_errors_array(mc, kProduceApiKey, errs.size(), errs.data());
      }
    } else if (cmd == "topic") {
      std::string name;
      int partitions = 0;
      in >> name >> partitions;
      if (!in || name.empty() || partitions < 1) {
        answer = "error: topic NAME PARTITIONS";
      } else if (rd_kafka_resp_err_t err =
                     rd_kafka_mock_topic_create(mc, name.c_str(), partitions, brokers < 3 ? brokers : 3);
                 err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        answer = std::string("error: ") + rd_kafka_err2str(err);
      }
    } else if (cmd == "consume") {
      std::string name;
      in >> name;
      answer = name.empty() ? "error: consume NAME" : consume(rd_kafka_mock_cluster_bootstraps(mc), name);
    } else if (cmd.empty()) {
      continue;
    } else {
      answer = "error: unknown command \"" + cmd + "\"";
    }
    std::cout << answer << std::endl;
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
