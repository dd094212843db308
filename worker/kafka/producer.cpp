#include "worker/kafka/producer.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "worker/kafka/access.h"
#include "worker/kafka/callback_invoker.h"

namespace auditor::kafka {
namespace {

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

}  // namespace

Producer::Producer(const KafkaSettings& settings, const Properties& extra) {
  Properties props = {{"acks", "all"},
                      {"enable.idempotence", "true"},
                      {"compression.type", "lz4"},
                      {"linger.ms", "5"},
                      {"batch.size", "1000000"},
                      // Bounded: a delivery that cannot finish fails and the commit rolls
                      // back instead of waiting forever.
                      {"message.timeout.ms", "60000"}};
  props.insert(props.end(), extra.begin(), extra.end());
  ConfPtr conf = make_conf(settings, props);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::on_delivery);
  rd_kafka_conf_set_opaque(conf.get(), this);
  handle_ = make_client(RD_KAFKA_PRODUCER, std::move(conf));
}

void Producer::on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque) {
  invoke_callback("delivery report", [&] {
    auto* self = static_cast<Producer*>(opaque);
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (!self->tracked_topic_.empty() &&
          self->tracked_topic_ == rd_kafka_topic_name(message->rkt)) {
        auto& last = self->tracked_offsets_[message->partition];
        last = std::max(last, message->offset);
      }
      return;
    }
    if (is_authorization_error(message->err)) {
      const std::lock_guard lock(self->denied_mutex_);
      if (!self->denied_) {
        self->denied_ = missing_acl("write", "Topic", rd_kafka_topic_name(message->rkt), "WRITE",
                                    principal_of(rk));
      }
    }
    if (self->failed_since_flush_++ == 0) {
      self->first_error_ =
          std::string(rd_kafka_topic_name(message->rkt)) + ": " + rd_kafka_err2str(message->err);
    }
  });
}

void Producer::register_topics(const std::vector<std::string>& topics) {
  for (const std::string& name : topics) {
    TopicPtr topic(rd_kafka_topic_new(handle_.get(), name.c_str(), nullptr));
    if (!topic) {
      throw std::runtime_error("cannot create a handle for topic " + name + ": " +
                               rd_kafka_err2str(rd_kafka_last_error()));
    }
    topics_.emplace_back(name, std::move(topic));
  }
}

rd_kafka_resp_err_t Producer::produce(const OutgoingRecord& record,
                                      std::chrono::milliseconds max_block) {
  rd_kafka_topic_t* topic = nullptr;
  for (const auto& [name, handle] : topics_) {
    if (name == record.topic) topic = handle.get();
  }
  TopicPtr unregistered;  // a reference to librdkafka's handle for the topic, for this call
  if (topic == nullptr) {
    unregistered.reset(
        rd_kafka_topic_new(handle_.get(), std::string(record.topic).c_str(), nullptr));
    if (!unregistered) return rd_kafka_last_error();
    topic = unregistered.get();
  }
  // Only a full queue needs the clock.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  for (;;) {
    HeadersPtr headers;
    if (!record.headers.empty()) {
      headers.reset(rd_kafka_headers_new(record.headers.size()));
      for (const auto& h : record.headers) {
        rd_kafka_header_add(headers.get(), h.name.data(), static_cast<ssize_t>(h.name.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
    }
    const auto err = rd_kafka_producev(
        handle_.get(), RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(record.partition),
        RD_KAFKA_V_KEY(record.key.data(), record.key.size()),
        RD_KAFKA_V_VALUE(const_cast<void*>(record.value), record.value_size),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers.get()),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      // rd_kafka_producev owns the headers once the record is enqueued.
      (void)headers.release();
      return err;
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return err;
    if (!deadline) deadline = std::chrono::steady_clock::now() + max_block;
    if (remaining_ms(*deadline) == 0) return err;
    rd_kafka_poll(handle_.get(), std::min(100, remaining_ms(*deadline)));
  }
}

std::optional<std::string> Producer::denied() const {
  const std::lock_guard lock(denied_mutex_);
  return denied_;
}

std::optional<std::int64_t> Producer::last_offset(std::int32_t partition) const {
  const auto it = tracked_offsets_.find(partition);
  if (it == tracked_offsets_.end()) return std::nullopt;
  return it->second;
}

FlushResult Producer::flush(std::chrono::steady_clock::time_point deadline) {
  const auto err = rd_kafka_flush(handle_.get(), remaining_ms(deadline));
  FlushResult result;
  result.failed = failed_since_flush_;
  result.first_error = first_error_;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result.ok = false;
    if (result.first_error.empty()) {
      result.first_error = "flush did not finish in time: " + error_text(err);
    }
  }
  if (result.failed > 0) result.ok = false;
  failed_since_flush_ = 0;
  first_error_.clear();
  return result;
}

}  // namespace auditor::kafka
