// How one worker's memory (--memory) is split over the parts that hold memory in
// proportion to a setting: the RocksDB block cache, the consumers' prefetch, the producer's
// queue, the pending aggregates, the deferred dead letters and stage 2's open-window cache.
// Pure: no I/O, the same total always gives the same split (docs/architecture.md, "Memory"
// has the table).
//
// The split leaves a fixed overhead (kFixedOverheadBytes) for what no setting bounds: code
// and libraries, thread stacks, librdkafka's per-broker buffers and in-flight requests,
// RocksDB's table readers outside the cache, the HTTP threads, allocator slack. Each part's
// share of the rest is converted into the unit its setting takes, with the per-item
// overheads stated below, so that the part's *memory* (not only its payload) stays within
// its share.
#pragma once

#include <cstdint>
#include <string>

namespace auditor {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

inline constexpr std::uint64_t kDefaultMemoryBytes = 512 * kMiB;
// Below this the parts would be too small to work (a prefetch under one fetch, a producer
// queue under one commit of a few keys).
inline constexpr std::uint64_t kMinMemoryBytes = 128 * kMiB;
// Above this librdkafka's consumer limit (queued.max.messages.kbytes <= 2 GiB) would cap
// the prefetch anyway; nobody needs more for one worker.
inline constexpr std::uint64_t kMaxMemoryBytes = 64 * kGiB;
inline constexpr std::uint64_t kFixedOverheadBytes = 64 * kMiB;

// Estimates the conversions rest on (stated, not measured per record):
// - a consumed record in librdkafka's queue costs about 3x its payload for small records
//   (the op and message structs next to the payload), and queued.max.messages.kbytes
//   counts payload only; in librdkafka 2.0.2 that limit applies to a consumer's one queue
//   (every partition's fetch queue forwards to it), not per partition;
inline constexpr std::uint64_t kConsumedBytesPerPayloadByte = 3;
// - a produced record costs its payload (counted by queue.buffering.max.kbytes) plus about
//   256 bytes librdkafka does not count: the message struct, the key, malloc's header;
inline constexpr std::uint64_t kProducedRecordOverheadBytes = 256;
// - a pending entry (a pre-aggregate, or a window delta of stage 2) is a hash or tree node
//   with two names (inline up to 15 bytes), a bucket or window and counts (~150 bytes),
//   plus the rollup and changelog record built from it when the commit is sealed.
inline constexpr std::uint64_t kPendingEntryBytes = 256;

struct MemoryBudget {
  std::uint64_t total_bytes = 0;
  std::uint64_t fixed_overhead_bytes = 0;

  // RocksDB: one LRU block cache for every task store of the process (data, index and
  // filter blocks); the memtables are charged to it through a write buffer manager.
  std::uint64_t block_cache_bytes = 0;
  std::uint64_t memtable_budget_bytes = 0;  // part of block_cache_bytes
  std::uint64_t write_buffer_bytes = 0;     // one memtable (write_buffer_size)

  // Each consumer's queued.max.messages.kbytes (its share, counted as 3x payload).
  int consumers = 0;
  std::uint64_t prefetch_kbytes_per_consumer = 0;

  // The producer: queue.buffering.max.kbytes (payload) and queue.buffering.max.messages
  // (the per-record overhead), half of its share each.
  std::uint64_t producer_queue_kbytes = 0;
  std::uint64_t producer_queue_messages = 0;

  // Pending pre-aggregates and window deltas before a commit is forced.
  std::uint64_t max_pending_entries = 0;
  // Dead letters deferred while a commit is in flight.
  std::uint64_t deferred_dead_letter_bytes = 0;
  // Stage 2's cache of open windows (state/window_cache.h), shared by the tasks.
  std::uint64_t window_cache_bytes = 0;
};

// The split of `total_bytes` (kMinMemoryBytes..kMaxMemoryBytes; the caller checks) for a
// worker with `consumers` consumers (3: ingest, aggregate, changelog restorer; 4 with
// standby copies). Shares of total - kFixedOverheadBytes: block cache 25%, prefetch 25%,
// producer 20%, pending entries 15%, window cache 10%, deferred dead letters 5%. Every part
// grows with the total (monotone), and the parts' memory never exceeds the total.
[[nodiscard]] MemoryBudget split_memory(std::uint64_t total_bytes, int consumers);

// The split in one line for the start-up log: every part with its setting.
[[nodiscard]] std::string describe(const MemoryBudget& budget);

}  // namespace auditor
