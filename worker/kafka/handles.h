// RAII owners for librdkafka C handles: one std::unique_ptr alias per handle type with a
// small deleter. Where librdkafka takes ownership (rd_kafka_new takes the conf on success,
// rd_kafka_producev takes the headers), the code hands it over with `.release()` and says
// so in a comment at the call site.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>

namespace auditor::kafka {

template <typename T, void (*Destroy)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept {
    if (p != nullptr) Destroy(p);
  }
};

template <typename T, void (*Destroy)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Destroy>>;

using ConfPtr = Owned<rd_kafka_conf_t, rd_kafka_conf_destroy>;
using HandlePtr = Owned<rd_kafka_t, rd_kafka_destroy>;
using TopicPartitionListPtr =
    Owned<rd_kafka_topic_partition_list_t, rd_kafka_topic_partition_list_destroy>;
using MessagePtr = Owned<rd_kafka_message_t, rd_kafka_message_destroy>;
using HeadersPtr = Owned<rd_kafka_headers_t, rd_kafka_headers_destroy>;
using TopicPtr = Owned<rd_kafka_topic_t, rd_kafka_topic_destroy>;
using QueuePtr = Owned<rd_kafka_queue_t, rd_kafka_queue_destroy>;
using EventPtr = Owned<rd_kafka_event_t, rd_kafka_event_destroy>;
using ErrorPtr = Owned<rd_kafka_error_t, rd_kafka_error_destroy>;
using AdminOptionsPtr = Owned<rd_kafka_AdminOptions_t, rd_kafka_AdminOptions_destroy>;
using NewTopicPtr = Owned<rd_kafka_NewTopic_t, rd_kafka_NewTopic_destroy>;
using GroupMetadataPtr =
    Owned<rd_kafka_consumer_group_metadata_t, rd_kafka_consumer_group_metadata_destroy>;

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* p) const noexcept {
    if (p != nullptr) rd_kafka_metadata_destroy(p);
  }
};
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

}  // namespace auditor::kafka
