#include "topology/memory_budget.h"

#include <algorithm>
#include <cstdio>

namespace auditor {
namespace {

// librdkafka's range of queued.max.messages.kbytes (2.0.2: 1 .. 2097151).
constexpr std::uint64_t kMaxPrefetchKbytes = 2'097'151;
// A memtable: at least 1 MiB (smaller ones flush constantly), at most 64 MiB (larger ones
// only make flushes and restarts slower); otherwise an eighth of the memtable budget, so
// that several stores can fill one before the write buffer manager forces flushes.
constexpr std::uint64_t kMinWriteBuffer = kMiB;
constexpr std::uint64_t kMaxWriteBuffer = 64 * kMiB;

// `percent` of `bytes`, rounded down.
constexpr std::uint64_t share(std::uint64_t bytes, std::uint64_t percent) {
  return bytes / 100 * percent + bytes % 100 * percent / 100;
}

std::string mib(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / kMiB);
  return text;
}

}  // namespace

MemoryBudget split_memory(std::uint64_t total_bytes, int consumers) {
  MemoryBudget b;
  b.total_bytes = total_bytes;
  b.fixed_overhead_bytes = std::min(total_bytes, kFixedOverheadBytes);
  const std::uint64_t rest = total_bytes - b.fixed_overhead_bytes;

  b.block_cache_bytes = share(rest, 25);
  b.memtable_budget_bytes = b.block_cache_bytes / 2;
  b.write_buffer_bytes = std::clamp(b.memtable_budget_bytes / 8, kMinWriteBuffer, kMaxWriteBuffer);

  b.consumers = std::max(consumers, 1);
  const std::uint64_t per_consumer = share(rest, 25) / static_cast<std::uint64_t>(b.consumers);
  b.prefetch_kbytes_per_consumer = std::clamp<std::uint64_t>(
      per_consumer / kConsumedBytesPerPayloadByte / kKiB, 1, kMaxPrefetchKbytes);

  const std::uint64_t producer = share(rest, 20);
  b.producer_queue_kbytes = std::max<std::uint64_t>(producer / 2 / kKiB, 1);
  b.producer_queue_messages =
      std::max<std::uint64_t>(producer / 2 / kProducedRecordOverheadBytes, 1);

  b.max_pending_entries = std::max<std::uint64_t>(share(rest, 15) / kPendingEntryBytes, 1);
  b.window_cache_bytes = share(rest, 10);
  b.deferred_dead_letter_bytes = share(rest, 5);
  return b;
}

std::string describe(const MemoryBudget& b) {
  const std::uint64_t prefetch =
      static_cast<std::uint64_t>(b.consumers) * b.prefetch_kbytes_per_consumer * kKiB;
  return "memory " + mib(b.total_bytes) + ": fixed overhead " + mib(b.fixed_overhead_bytes) +
         ", RocksDB block cache " + mib(b.block_cache_bytes) + " (memtables " +
         mib(b.memtable_budget_bytes) + " of it, " + mib(b.write_buffer_bytes) +
         " each), prefetch " + std::to_string(b.consumers) + " consumers x " +
         std::to_string(b.prefetch_kbytes_per_consumer) + " KiB payload (" +
         mib(prefetch * kConsumedBytesPerPayloadByte) + "), producer queue " +
         std::to_string(b.producer_queue_kbytes) + " KiB payload and " +
         std::to_string(b.producer_queue_messages) + " messages, " +
         std::to_string(b.max_pending_entries) + " pending entries, deferred dead letters " +
         mib(b.deferred_dead_letter_bytes) + ", window cache " + mib(b.window_cache_bytes);
}

}  // namespace auditor
