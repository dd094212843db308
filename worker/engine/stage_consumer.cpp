#include "worker/engine/stage_consumer.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "worker/common/log.h"
#include "worker/kafka/callback_invoker.h"
#include "worker/kafka/partition_list.h"

namespace auditor {

LoopWakeup::LoopWakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

LoopWakeup::~LoopWakeup() {
  ::close(fd_);
}

void LoopWakeup::wait(std::chrono::milliseconds timeout) const {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) > 0) {
    std::uint64_t signals = 0;
    // Non-blocking; nothing to do when another read got there first.
    (void)!::read(fd_, &signals, sizeof signals);
  }
}

StageConsumer::StageConsumer(WorkerStage stage, const KafkaSettings& settings,
                             const kafka::Properties& properties, Listener& listener,
                             const LoopWakeup& wakeup)
    : stage_(stage), listener_(listener) {
  kafka::ConfPtr conf = kafka::make_conf(settings, properties);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &StageConsumer::on_rebalance);
  rd_kafka_conf_set_stats_cb(conf.get(), &StageConsumer::on_statistics);
  rd_kafka_conf_set_opaque(conf.get(), this);
  handle_ = kafka::make_client(RD_KAFKA_CONSUMER, std::move(conf));
  if (const auto err = rd_kafka_poll_set_consumer(handle_.get())) {
    throw std::runtime_error(std::string(name()) +
                             " consumer: cannot route its events: " + kafka::error_text(err));
  }
  // librdkafka writes this when the queue goes from empty to not empty (once per period
  // between polls), so a loop that polled it empty and then waits misses nothing.
  static constexpr std::uint64_t kOne = 1;
  queue_.reset(rd_kafka_queue_get_consumer(handle_.get()));
  rd_kafka_queue_io_event_enable(queue_.get(), wakeup.fd(), &kOne, sizeof kOne);
}

void StageConsumer::subscribe(const std::string& topic) {
  kafka::TopicPartitionListPtr topics = kafka::new_partition_list(1);
  kafka::add_partition(*topics, topic, PartitionId{RD_KAFKA_PARTITION_UA});
  if (const auto err = rd_kafka_subscribe(handle_.get(), topics.get())) {
    throw std::runtime_error(std::string(name()) + " consumer: cannot subscribe to " + topic +
                             ": " + kafka::error_text(err));
  }
  subscribed_ = true;
}

StageConsumer::~StageConsumer() {
  // The eventfd may be closed before librdkafka's threads are gone.
  if (queue_) rd_kafka_queue_io_event_enable(queue_.get(), -1, nullptr, 0);
  queue_.reset();
  if (!ever_assigned_) {
    // librdkafka 2.0.2 asserts when a cooperative-sticky consumer that never received an
    // assignment is destroyed (its assignor state is still null; librdkafka #4312, fixed
    // in 2.3.0). It left its group in close() and the process is about to exit: let the
    // OS reclaim the handle instead of aborting a clean stop.
    (void)handle_.release();
  } else if (!rd_kafka_consumer_closed(handle_.get())) {
    // close() ran out of time (the coordinator unreachable): rd_kafka_destroy would close
    // it again and wait for the group without a deadline.
    rd_kafka_destroy_flags(handle_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }
}

void StageConsumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  kafka::invoke_callback("rebalance", [&] {
    auto* self = static_cast<StageConsumer*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self->joined_ = true;
      self->ever_assigned_ = true;
      self->listener_.assigned(*self, *partitions);
    } else {
      const bool lost = rd_kafka_assignment_lost(rk) != 0;
      if (lost) self->joined_ = false;
      self->listener_.revoked(*self, *partitions, lost);
    }
  });
}

int StageConsumer::on_statistics(rd_kafka_t* /*rk*/, char* json, std::size_t json_len,
                                 void* opaque) {
  kafka::invoke_callback("statistics", [&] {
    auto* self = static_cast<StageConsumer*>(opaque);
    // The group's state: "up" once the coordinator is known and connected; "query-coord",
    // "wait-coord", "wait-broker-transport"... while it is not (librdkafka's
    // STATISTICS.md, cgrp.state).
    const auto stats = nlohmann::json::parse(json, json + json_len, nullptr, false);
    if (stats.is_discarded()) return;
    const auto cgrp = stats.find("cgrp");
    if (cgrp == stats.end() || !cgrp->is_object()) return;
    const bool up = cgrp->value("state", "") == "up";
    if (up) {
      self->coordinator_lost_at_.reset();
    } else if (!self->coordinator_lost_at_) {
      self->coordinator_lost_at_ = std::chrono::steady_clock::now();
    }
  });
  return 0;  // librdkafka frees `json`
}

std::chrono::milliseconds StageConsumer::coordinator_unreachable_for(
    std::chrono::steady_clock::time_point now) const {
  if (!subscribed_ || !coordinator_lost_at_) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - *coordinator_lost_at_);
}

std::size_t StageConsumer::poll_batch(std::span<kafka::MessagePtr> out) {
  // Raw pointers for librdkafka, owned right after; the scratch array is reused.
  scratch_.resize(out.size());
  const ssize_t got =
      rd_kafka_consume_batch_queue(queue_.get(), 0, scratch_.data(), scratch_.size());
  // -1 only for a queue that is not a consumer queue: a programming error, not data.
  if (got <= 0) return 0;
  const auto count = static_cast<std::size_t>(got);
  for (std::size_t i = 0; i < count; ++i) out[i].reset(scratch_[i]);
  return count;
}

std::string StageConsumer::incremental_assign(const rd_kafka_topic_partition_list_t& partitions) {
  kafka::ErrorPtr error(rd_kafka_incremental_assign(handle_.get(), &partitions));
  return error ? std::string(name()) +
                     " consumer: incremental assign failed: " + rd_kafka_error_string(error.get())
               : std::string();
}

std::string StageConsumer::incremental_unassign(const rd_kafka_topic_partition_list_t& partitions) {
  kafka::ErrorPtr error(rd_kafka_incremental_unassign(handle_.get(), &partitions));
  return error ? std::string(name()) +
                     " consumer: incremental unassign failed: " + rd_kafka_error_string(error.get())
               : std::string();
}

void StageConsumer::close(std::chrono::milliseconds timeout) {
  // Leaving the group revokes everything through the rebalance callback. The close is
  // served on a queue of its own so that it has a deadline.
  auto logger = log::get("worker");
  kafka::QueuePtr queue(rd_kafka_queue_new(handle_.get()));
  kafka::ErrorPtr error(rd_kafka_consumer_close_queue(handle_.get(), queue.get()));
  if (error) {
    logger->error("closing the {} consumer: {}", name(), rd_kafka_error_string(error.get()));
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!rd_kafka_consumer_closed(handle_.get()) && std::chrono::steady_clock::now() < deadline) {
    kafka::EventPtr event(rd_kafka_queue_poll(queue.get(), 100));
    if (event && rd_kafka_event_type(event.get()) == RD_KAFKA_EVENT_REBALANCE) {
      on_rebalance(handle_.get(), rd_kafka_event_error(event.get()),
                   rd_kafka_event_topic_partition_list(event.get()), this);
    }
  }
  if (!rd_kafka_consumer_closed(handle_.get())) {
    logger->error("the {} consumer did not close within {} ms", name(), timeout.count());
  }
}

}  // namespace auditor
