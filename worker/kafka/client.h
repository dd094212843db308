// Creating librdkafka clients: configuration with our logging, and the handle itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "worker/common/config.h"
#include "worker/kafka/handles.h"

namespace auditor::kafka {

using Properties = std::vector<std::pair<std::string, std::string>>;

// bootstrap.servers, then `defaults`, then the user's --kafka properties (which win), plus
// log and error callbacks routed to the "kafka" logger. Throws ConfigError naming the
// property librdkafka rejected.
[[nodiscard]] ConfPtr make_conf(const KafkaSettings& settings, const Properties& defaults);

// Prefetch settings for every consumer that reads a backlog (the worker's, the changelog
// restorer's). librdkafka 2.0 stops fetching a partition for a whole second once
// queued.min.messages (default 100,000) are queued for it, which is far less than a second
// of work: the byte limit bounds the prefetch instead, `kbytes` KiB of payload per consumer
// (its share of --memory, MemoryBudget::prefetch_kbytes_per_consumer; about three times
// that in memory for small records).
void add_prefetch_properties(Properties& properties, std::uint64_t kbytes);

// rd_kafka_new; takes ownership of `conf` (librdkafka keeps it on success, we destroy it on
// failure). Throws std::runtime_error with librdkafka's reason.
[[nodiscard]] HandlePtr make_client(rd_kafka_type_t type, ConfPtr conf);

// rd_kafka_err2str as std::string.
[[nodiscard]] std::string error_text(rd_kafka_resp_err_t err);

}  // namespace auditor::kafka
