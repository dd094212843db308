// The worker's commits: sealing what was processed into a transaction, finishing it on a
// background thread while the loop reads on, and making the stores follow once it is
// durable (or rewinding when it is not). What to do when is decided by the commit cycle
// (engine/commit_cycle.h); this file carries it out.
//
//   loop thread                                       commit thread
//   ───────────                                       ─────────────
//   seal: stage 2 build (rollups, changelog),
//     stage 1 pre-aggregates + watermarks; offsets ─► finish(offsets): flush + commit txn
//   process records (next commit's); dead letters
//     wait in deferred_ (the producer is busy)
//   complete: outcome ◄───────────────────────────────┘
//     ok:    stores apply their part, offsets (at-least-once), purge, deferred produced
//     else:  abort, rewind to the last durable commit (drops the in-flight's successors too)
//
// Only one commit is in flight; while it is, only the commit thread uses the producer.
#include <future>
#include <span>

#include "worker/common/log.h"
#include "worker/engine/worker.h"
#include "worker/kafka/client.h"
#include "worker/kafka/partition_list.h"

namespace auditor {
namespace {

CommitStatus status_of(const kafka::Error& error) {
  if (!error) return CommitStatus::kOk;
  return error.fatal() ? CommitStatus::kFatal : CommitStatus::kAborted;
}

}  // namespace

void Worker::produce(const kafka::OutgoingRecord& record) {
  switch (cycle_.route(record.key.size() + record.value_size + 64)) {
    case RecordRoute::kDrop:
      return;  // this commit is rewound anyway, or the worker is stopping
    case RecordRoute::kDefer: {
      DeferredRecord& deferred = deferred_.emplace_back();
      deferred.topic = record.topic;
      deferred.partition = record.partition;
      deferred.key = record.key;
      if (record.value != nullptr) {
        deferred.value.emplace(static_cast<const char*>(record.value), record.value_size);
      }
      for (const auto& h : record.headers) deferred.headers.emplace_back(h.name, h.value);
      return;
    }
    case RecordRoute::kBegin:
      if (const auto error = transaction_->begin()) {
        on_produce_error(error);
        return;
      }
      break;
    case RecordRoute::kProduce:
      break;
  }
  const auto err = producer_->produce(record, kBlockingTimeout);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    on_produce_error(kafka::Error::from(err, "cannot produce to " + std::string(record.topic)));
  }
}

void Worker::on_produce_error(const kafka::Error& error) {
  // The commit being built is lost; a fatal error stops everything (fail() logs it once).
  cycle_.build_failed(error.fatal());
  if (error.fatal()) {
    fail_client(error.message());
  } else {
    log::get("worker")->error("{}", error.message());
  }
}

void Worker::produce_deferred() {
  std::vector<DeferredRecord> deferred = std::move(deferred_);
  deferred_.clear();
  for (const DeferredRecord& d : deferred) {
    kafka::OutgoingRecord record;
    record.topic = d.topic;
    record.partition = d.partition;
    record.key = d.key;
    if (d.value) {
      record.value = d.value->data();
      record.value_size = d.value->size();
    }
    for (const auto& [name, value] : d.headers) record.headers.push_back({name, value});
    produce(record);
  }
}

bool Worker::commit_ready() const {
  return inflight_ &&
         inflight_->outcome.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

std::vector<GroupOffsets> Worker::offsets_to_commit() const {
  std::vector<GroupOffsets> offsets(2);
  offsets[0].consumer = ingest_consumer_->handle();
  offsets[0].offsets = kafka::new_partition_list(static_cast<int>(ingest_->partition_count()));
  ingest_->add_offsets(*offsets[0].offsets);
  offsets[1].consumer = aggregate_consumer_->handle();
  offsets[1].offsets = kafka::new_partition_list(static_cast<int>(aggregate_->task_count()));
  aggregate_->add_offsets(*offsets[1].offsets);
  return offsets;
}

void Worker::seal() {
  switch (cycle_.begin_seal(loop_now_)) {
    case SealOutcome::kBuild:
      break;
    case SealOutcome::kRewind:
      abort_and_rewind("a record of this commit could not be produced");
      return;
    default:  // kEmpty, or kStop: fail() said why
      return;
  }
  InflightCommit commit;
  commit.started = Clock::now();
  if (auto failure = aggregate_->build(commit.tasks)) {
    log::get("worker")->error("{}", *failure);
    cycle_.build_failed(false);
  } else {
    commit.pre_aggregates = ingest_->produce_commit(loop_now_);
  }
  switch (cycle_.end_seal()) {
    case SealOutcome::kStarted:
      break;
    case SealOutcome::kRewind:
      abort_and_rewind("building the commit failed");
      return;
    default:  // kStop: fail() said why
      return;
  }
  commit.offsets = offsets_to_commit();
  // The span stays valid when `commit` moves into inflight_: a moved vector keeps its
  // elements where they are.
  const std::span<const GroupOffsets> offsets(commit.offsets);
  commit.outcome = std::async(std::launch::async, [transaction = transaction_.get(), offsets] {
    return transaction->finish(offsets);
  });
  inflight_ = std::move(commit);
}

void Worker::complete() {
  auto logger = log::get("worker");
  InflightCommit commit = std::move(*inflight_);
  inflight_.reset();
  const kafka::Error error = commit.outcome.get();
  switch (cycle_.finished(status_of(error))) {
    case AfterCommit::kApplyStores:
      break;
    case AfterCommit::kRewind:
      abort_and_rewind(error.message());
      return;
    case AfterCommit::kStop:
      if (error) {
        WorkerMetrics::inc(metrics_.commit_failures);
        status_.commit_failed();
        // Missing rights need an operator; anything else, new clients (command.cpp).
        if (auto denied = access_denied(error)) {
          fail(std::move(*denied));
        } else {
          fail_client("commit failed fatally: " + error.message());
        }
      }
      return;
  }

  // The outputs are durable: now the stores may reflect them.
  if (auto failure = aggregate_->apply(commit.tasks)) {
    status_.store_failed(*failure);  // /healthz says why until the worker has stopped
    fail(*failure);
    return;
  }
  if (const auto committed = transaction_->commit_offsets(commit.offsets)) {
    // Under at-least-once the stores are ahead of the group offsets, which only means some
    // input is read again later; the next commit retries.
    logger->warn("{}", committed.message());
  }
  purger_->maybe_purge(aggregate_->durable_offsets());
  WorkerMetrics::inc(metrics_.commits);
  status_.commit_succeeded();
  const auto took = Clock::now() - commit.started;
  metrics_.commit_seconds.observe(std::chrono::duration<double>(took).count());
  logger->debug("commit: {} pre-aggregates, {} tasks, {} ms", commit.pre_aggregates,
                commit.tasks.size(),
                std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  produce_deferred();
}

void Worker::commit_now() {
  if (inflight_) complete();
  if (cycle_.stopped()) return;
  seal();
  if (inflight_) complete();
}

std::optional<std::string> Worker::access_denied(const kafka::Error& error) const {
  // A refused delivery names its topic. A refused AddPartitionsToTxn (the usual way a
  // missing WRITE shows under exactly-once) names none: list what a commit writes.
  if (auto denied = producer_->denied()) return std::move(*denied);
  if (error.code() == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
    const auto& t = config_.topics;
    return "not authorized to write a topic this commit writes (" + t.output + ", " + t.dlq + ", " +
           t.repartition() + ", " + t.changelog() + "): grant WRITE on it to " +
           config_.kafka.principal() + " (" + error.message() + ")";
  }
  return std::nullopt;
}

void Worker::abort_and_rewind(const std::string& reason) {
  WorkerMetrics::inc(metrics_.commit_failures);
  status_.commit_failed();
  // A missing ACL fails every retry the same way: stop instead of re-reading forever.
  if (auto denied = producer_->denied()) {
    fail(std::move(*denied));
    return;
  }
  log::get("worker")->error("commit aborted, re-reading from the last commit: {}", reason);
  if (const auto error = transaction_->abort()) {
    if (error.fatal()) {
      fail_client(error.message());
      return;
    }
    log::get("worker")->error("{}", error.message());
  }
  rewind();
}

void Worker::rewind() {
  deferred_.clear();
  kafka::TopicPartitionListPtr inputs = kafka::new_partition_list();
  ingest_->list_partitions(*inputs);
  if (inputs->cnt > 0) {
    const auto err = rd_kafka_committed(ingest_consumer_->handle(), inputs.get(),
                                        static_cast<int>(kBlockingTimeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail("cannot read committed offsets to rewind: " + kafka::error_text(err));
      return;
    }
  }
  ingest_->rewind(*inputs, loop_now_);
  kafka::TopicPartitionListPtr tasks = kafka::new_partition_list();
  aggregate_->rewind(*tasks);
  if (seek(*ingest_consumer_, *inputs) && seek(*aggregate_consumer_, *tasks)) cycle_.rewound();
}

bool Worker::seek(const StageConsumer& consumer, rd_kafka_topic_partition_list_t& positions) {
  if (positions.cnt == 0) return true;
  for (int i = 0; i < positions.cnt; ++i) {
    auto& tp = positions.elems[i];
    // No committed offset: start over, like auto.offset.reset=earliest.
    if (tp.offset < 0) tp.offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  kafka::ErrorPtr error(rd_kafka_seek_partitions(consumer.handle(), &positions,
                                                 static_cast<int>(kBlockingTimeout.count())));
  if (error) {
    fail(std::string(consumer.name()) +
         " consumer: cannot rewind: " + rd_kafka_error_string(error.get()));
    return false;
  }
  return true;
}

}  // namespace auditor
