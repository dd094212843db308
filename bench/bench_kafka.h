// Small librdkafka helpers shared by the benchmark tools (bench_tool, raw_consumer). The
// benchmark deliberately does not reuse worker/'s Kafka layer: the tools measure and check
// the worker, so they should not share its code paths beyond the tick parser.
#pragma once

#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_args.h"

namespace bench {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using ListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;

using Properties = std::vector<std::pair<std::string, std::string>>;

// `customize` may register callbacks on the configuration before the client exists.
inline HandlePtr make_handle(rd_kafka_type_t type, const std::string& bootstrap,
                             const Properties& props,
                             void (*customize)(rd_kafka_conf_t*) = nullptr) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      fail("config " + k + "=" + v + ": " + err);
    }
  };
  set("bootstrap.servers", bootstrap);
  for (const auto& [k, v] : props) set(k, v);
  if (customize != nullptr) customize(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) fail(std::string("cannot create a Kafka client: ") + err);
  return HandlePtr(rk);
}

inline ListPtr new_list(int size = 0) {
  return ListPtr(rd_kafka_topic_partition_list_new(size));
}

// Partition count of every existing topic.
inline std::map<std::string, int> topic_partitions(rd_kafka_t* rk) {
  const rd_kafka_metadata_t* md = nullptr;
  const auto err = rd_kafka_metadata(rk, 1, nullptr, &md, 10'000);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) fail(std::string("metadata: ") + rd_kafka_err2str(err));
  std::map<std::string, int> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      out[md->topics[i].topic] = md->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

// User + system CPU seconds and peak RSS (KiB) of this process.
inline std::pair<double, long> self_usage() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return {cpu, ru.ru_maxrss};
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace bench
