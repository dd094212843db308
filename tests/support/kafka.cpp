#include "tests/support/kafka.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace auditor::test {
namespace {

using std::chrono::milliseconds;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what);
}

int remaining_ms(Deadline deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct TopicHandleDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
};
struct ConfigResourceDeleter {
  void operator()(rd_kafka_ConfigResource_t* r) const { rd_kafka_ConfigResource_destroy(r); }
};

void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    fail("config " + name + "=" + value + ": " + errstr);
  }
}

ConfPtr make_conf(const Config& config) {
  ConfPtr conf(rd_kafka_conf_new());
  set(conf.get(), "bootstrap.servers", bootstrap_servers());
  // Tests talk to a local broker; fail over fast rather than retrying for minutes.
  set(conf.get(), "socket.connection.setup.timeout.ms", "10000");
  for (const auto& [name, value] : config) set(conf.get(), name, value);
  return conf;
}

KafkaPtr make_client_from(rd_kafka_type_t type, ConfPtr conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (rk == nullptr) fail(std::string("rd_kafka_new: ") + errstr);
  (void)conf.release();  // owned by rk now
  return KafkaPtr(rk);
}

// Runs one admin request and returns its result event (or throws).
EventPtr await_admin(rd_kafka_queue_t* queue, rd_kafka_event_type_t type, int timeout_ms,
                     const char* what) {
  EventPtr event(rd_kafka_queue_poll(queue, timeout_ms + 5000));
  if (!event) fail(std::string(what) + ": no result within the timeout");
  if (rd_kafka_event_type(event.get()) != type) {
    fail(std::string(what) + ": unexpected event " + rd_kafka_event_name(event.get()));
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail(std::string(what) + ": " + rd_kafka_event_error_string(event.get()));
  }
  return event;
}

// Partition count when the topic exists and every partition has a leader; else 0.
int ready_partitions(rd_kafka_t* rk, const std::string& name) {
  std::unique_ptr<rd_kafka_topic_t, TopicHandleDeleter> topic(
      rd_kafka_topic_new(rk, name.c_str(), nullptr));
  const rd_kafka_metadata_t* raw = nullptr;
  if (rd_kafka_metadata(rk, 0, topic.get(), &raw, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
  std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> md(raw);
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (name != t.topic || t.err != RD_KAFKA_RESP_ERR_NO_ERROR || t.partition_cnt <= 0) continue;
    for (int p = 0; p < t.partition_cnt; ++p) {
      if (t.partitions[p].err != RD_KAFKA_RESP_ERR_NO_ERROR || t.partitions[p].leader < 0) {
        return 0;
      }
    }
    return t.partition_cnt;
  }
  return 0;
}

PartitionListPtr all_partitions(const std::string& topic, int partitions, std::int64_t offset) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = offset;
  }
  return list;
}

Record to_record(const rd_kafka_message_t& m) {
  Record r;
  r.topic = rd_kafka_topic_name(m.rkt);
  r.partition = m.partition;
  r.offset = m.offset;
  rd_kafka_timestamp_type_t tstype;
  r.timestamp_ms = rd_kafka_message_timestamp(&m, &tstype);
  if (m.key != nullptr) r.key.emplace(static_cast<const char*>(m.key), m.key_len);
  if (m.payload != nullptr) r.value.emplace(static_cast<const char*>(m.payload), m.len);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(&m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      Header h{name, std::nullopt};
      if (value != nullptr) h.value.emplace(static_cast<const char*>(value), size);
      r.headers.push_back(std::move(h));
    }
  }
  return r;
}

}  // namespace

void KafkaDeleter::operator()(rd_kafka_t* rk) const {
  if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER) rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

std::string bootstrap_servers() {
  const char* env = std::getenv("AUDITOR_IT_BOOTSTRAP_SERVERS");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:9092";
}

std::string unique_suffix() {
  static std::atomic<int> counter{0};
  auto ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return std::to_string(::getpid()) + "-" + std::to_string(ms) + "-" +
         std::to_string(counter.fetch_add(1));
}

KafkaPtr make_client(rd_kafka_type_t type, const Config& config) {
  return make_client_from(type, make_conf(config));
}

void create_topic(const std::string& name, int partitions, const Config& configs) {
  KafkaPtr rk = make_client(RD_KAFKA_PRODUCER);
  char errstr[512];
  std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter> topic(
      rd_kafka_NewTopic_new(name.c_str(), partitions, 1, errstr, sizeof errstr));
  if (!topic) fail("NewTopic " + name + ": " + errstr);
  for (const auto& [key, value] : configs) {
    if (rd_kafka_NewTopic_set_config(topic.get(), key.c_str(), value.c_str()) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail("NewTopic config " + key);
    }
  }
  constexpr int kTimeoutMs = 15000;
  std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), kTimeoutMs, errstr, sizeof errstr);
  QueuePtr queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_NewTopic_t* topics[] = {topic.get()};
  rd_kafka_CreateTopics(rk.get(), topics, 1, options.get(), queue.get());
  EventPtr event =
      await_admin(queue.get(), RD_KAFKA_EVENT_CREATETOPICS_RESULT, kTimeoutMs, "CreateTopics");
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      fail("CreateTopics " + name + ": " + (msg != nullptr ? msg : "error"));
    }
  }
  if (wait_for_topic(name, deadline_in(milliseconds(kTimeoutMs))) != partitions) {
    fail("CreateTopics " + name + ": wrong partition count in metadata");
  }
}

void delete_topics(const std::vector<std::string>& names) {
  KafkaPtr rk = make_client(RD_KAFKA_PRODUCER);
  std::vector<rd_kafka_DeleteTopic_t*> topics;
  for (const std::string& n : names) topics.push_back(rd_kafka_DeleteTopic_new(n.c_str()));
  constexpr int kTimeoutMs = 15000;
  std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_DELETETOPICS));
  char errstr[512];
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), kTimeoutMs, errstr, sizeof errstr);
  QueuePtr queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_DeleteTopics(rk.get(), topics.data(), topics.size(), options.get(), queue.get());
  rd_kafka_DeleteTopic_destroy_array(topics.data(), topics.size());
  // Only waits for the outcome; per-topic errors (e.g. never created) do not matter here.
  EventPtr result(rd_kafka_queue_poll(queue.get(), kTimeoutMs + 5000));
}

int wait_for_topic(const std::string& name, Deadline deadline) {
  KafkaPtr rk = make_client(RD_KAFKA_PRODUCER);
  for (;;) {
    if (int n = ready_partitions(rk.get(), name); n > 0) return n;
    if (Clock::now() >= deadline) fail("topic " + name + " did not appear in time");
    std::this_thread::sleep_for(milliseconds(200));
  }
}

std::vector<std::int64_t> end_offsets(const std::string& topic, int partitions) {
  KafkaPtr rk = make_client(RD_KAFKA_PRODUCER);
  std::vector<std::int64_t> ends;
  for (int p = 0; p < partitions; ++p) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (auto err = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high, 10000);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail("watermarks of " + topic + ": " + rd_kafka_err2str(err));
    }
    ends.push_back(high);
  }
  return ends;
}

std::vector<std::int64_t> committed_offsets(const std::string& group, const std::string& topic,
                                            int partitions) {
  // A consumer that never subscribes does not join the group: it only fetches offsets.
  KafkaPtr rk = make_client(RD_KAFKA_CONSUMER, {{"group.id", group},
                                                {"enable.auto.commit", "false"},
                                                {"isolation.level", "read_committed"}});
  PartitionListPtr list = all_partitions(topic, partitions, RD_KAFKA_OFFSET_INVALID);
  if (auto err = rd_kafka_committed(rk.get(), list.get(), 10000);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("committed offsets of " + group + ": " + rd_kafka_err2str(err));
  }
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(partitions), -1);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = list->elems[i];
    if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.offset >= 0) {
      offsets[static_cast<std::size_t>(tp.partition)] = tp.offset;
    }
  }
  return offsets;
}

std::optional<std::string> topic_config(const std::string& topic, const std::string& name) {
  KafkaPtr rk = make_client(RD_KAFKA_PRODUCER);
  std::unique_ptr<rd_kafka_ConfigResource_t, ConfigResourceDeleter> resource(
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS));
  char errstr[512];
  constexpr int kTimeoutMs = 10000;
  rd_kafka_AdminOptions_set_request_timeout(options.get(), kTimeoutMs, errstr, sizeof errstr);
  QueuePtr queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  rd_kafka_DescribeConfigs(rk.get(), resources, 1, options.get(), queue.get());
  EventPtr event = await_admin(queue.get(), RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, kTimeoutMs,
                               "DescribeConfigs");
  size_t count = 0;
  const rd_kafka_ConfigResource_t** results = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_ConfigResource_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail("DescribeConfigs " + topic + ": " +
           rd_kafka_err2str(rd_kafka_ConfigResource_error(results[i])));
    }
    size_t n = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(results[i], &n);
    for (size_t j = 0; j < n; ++j) {
      if (name == rd_kafka_ConfigEntry_name(entries[j])) {
        const char* value = rd_kafka_ConfigEntry_value(entries[j]);
        if (value == nullptr) return std::nullopt;
        return std::string(value);
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> Record::header(const std::string& name) const {
  for (const Header& h : headers) {
    if (h.name == name) return h.value;
  }
  return std::nullopt;
}

std::size_t Record::header_count(const std::string& name) const {
  std::size_t n = 0;
  for (const Header& h : headers) n += h.name == name ? 1 : 0;
  return n;
}

// Delivery reports arrive on the thread calling poll/flush (this one): no locking.
struct Producer::State {
  std::vector<Delivery> deliveries;
  std::vector<bool> done;
  std::size_t pending = 0;
  std::string first_error;
};

void Producer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* state = static_cast<State*>(opaque);
  auto seq = reinterpret_cast<std::uintptr_t>(m->_private);
  state->done[seq] = true;
  --state->pending;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (state->first_error.empty()) {
      state->first_error = "delivery of record " + std::to_string(seq) + " to " +
                           rd_kafka_topic_name(m->rkt) + ": " + rd_kafka_err2str(m->err);
    }
    return;
  }
  state->deliveries[seq] = Delivery{m->partition, m->offset};
}

Producer::Producer(const Config& config) : state_(std::make_unique<State>()) {
  Config merged{{"enable.idempotence", "true"}, {"linger.ms", "5"}};
  for (const auto& [k, v] : config) merged[k] = v;
  ConfPtr conf = make_conf(merged);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
  rd_kafka_conf_set_opaque(conf.get(), state_.get());
  rk_ = make_client_from(RD_KAFKA_PRODUCER, std::move(conf));
}

Producer::~Producer() {
  // Give queued records a chance; a test that wanted them acknowledged called flush().
  if (rk_) rd_kafka_flush(rk_.get(), 5000);
}

std::size_t Producer::send(const std::string& topic, const OutRecord& record) {
  const std::size_t seq = state_->deliveries.size();
  state_->deliveries.emplace_back();
  state_->done.push_back(false);
  const char* key = record.key ? record.key->data() : nullptr;
  const std::size_t key_len = record.key ? record.key->size() : 0;
  char* value = record.value ? const_cast<char*>(record.value->data()) : nullptr;
  const std::size_t value_len = record.value ? record.value->size() : 0;
  for (;;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(record.partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_TIMESTAMP(record.timestamp_ms),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(seq))),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      fail("produce to " + topic + ": " + rd_kafka_err2str(err));
    }
    rd_kafka_poll(rk_.get(), 100);
  }
  ++state_->pending;
  rd_kafka_poll(rk_.get(), 0);
  return seq;
}

void Producer::flush(Deadline deadline) {
  while (state_->pending > 0) {
    if (Clock::now() >= deadline) {
      fail("produce: " + std::to_string(state_->pending) + " records not acknowledged in time");
    }
    rd_kafka_flush(rk_.get(), std::min(remaining_ms(deadline), 500));
  }
  if (!state_->first_error.empty()) fail(state_->first_error);
}

const Delivery& Producer::delivery(std::size_t seq) const {
  if (seq >= state_->done.size() || !state_->done[seq]) {
    fail("delivery " + std::to_string(seq) + " not reported");
  }
  return state_->deliveries.at(seq);
}

std::size_t Producer::sent() const {
  return state_->deliveries.size();
}

Delivery produce(const std::string& topic, std::int32_t partition,
                 const std::optional<std::string>& key, const std::optional<std::string>& value,
                 std::int64_t timestamp_ms) {
  Producer producer;
  std::size_t seq = producer.send(topic, OutRecord{partition, key, value, timestamp_ms});
  producer.flush(deadline_in(std::chrono::seconds(30)));
  return producer.delivery(seq);
}

TopicReader::TopicReader(std::string topic, Deadline topic_deadline, bool read_committed)
    : topic_(std::move(topic)) {
  partitions_ = wait_for_topic(topic_, topic_deadline);
  // group.id is required by the consumer API but never joined: assign() only.
  rk_ = make_client(RD_KAFKA_CONSUMER,
                    {{"group.id", "it-reader-" + unique_suffix()},
                     {"enable.auto.commit", "false"},
                     {"enable.auto.offset.store", "false"},
                     {"isolation.level", read_committed ? "read_committed" : "read_uncommitted"}});
  PartitionListPtr list = all_partitions(topic_, partitions_, RD_KAFKA_OFFSET_BEGINNING);
  if (auto err = rd_kafka_assign(rk_.get(), list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("assign " + topic_ + ": " + rd_kafka_err2str(err));
  }
}

std::size_t TopicReader::poll(std::chrono::milliseconds wait) {
  const Deadline deadline = Clock::now() + wait;
  std::size_t got = 0;
  for (;;) {
    // Block for the first record only; then drain what is already queued.
    MessagePtr m(rd_kafka_consumer_poll(rk_.get(), got == 0 ? remaining_ms(deadline) : 0));
    if (!m) {
      if (got > 0 || Clock::now() >= deadline) return got;
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Transient (broker restart, leader change): librdkafka retries by itself.
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::cerr << "consume " << topic_ << ": " << rd_kafka_message_errstr(m.get()) << "\n";
      }
      continue;
    }
    records_.push_back(to_record(*m));
    ++got;
  }
}

std::vector<Record> consume_all(const std::string& topic, const ConsumeOptions& options) {
  TopicReader reader(topic, options.deadline, options.read_committed);
  Deadline last_seen = Clock::now();
  while (Clock::now() < options.deadline) {
    if (reader.poll(milliseconds(200)) > 0) last_seen = Clock::now();
    if (options.until) {
      if (options.until(reader.records())) break;
    } else if (Clock::now() - last_seen >= options.idle) {
      break;
    }
  }
  return reader.records();
}

}  // namespace auditor::test
