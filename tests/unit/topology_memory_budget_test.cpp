#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "topology/memory_budget.h"

namespace auditor {
namespace {

// What the parts may hold at most, by the conversions memory_budget.h states: the sum the
// split promises to keep within the total.
std::uint64_t parts_bytes(const MemoryBudget& b) {
  const std::uint64_t prefetch = static_cast<std::uint64_t>(b.consumers) *
                                 b.prefetch_kbytes_per_consumer * kKiB *
                                 kConsumedBytesPerPayloadByte;
  const std::uint64_t producer =
      b.producer_queue_kbytes * kKiB + b.producer_queue_messages * kProducedRecordOverheadBytes;
  return b.block_cache_bytes + prefetch + producer + b.max_pending_entries * kPendingEntryBytes +
         b.deferred_dead_letter_bytes + b.window_cache_bytes;
}

const std::vector<std::uint64_t>& totals() {
  static const std::vector<std::uint64_t> values = {
      kMinMemoryBytes, kMinMemoryBytes + 1, 200 * kMiB + 12'345, 256 * kMiB,
      300 * kMiB,      kDefaultMemoryBytes, 768 * kMiB,          1 * kGiB,
      4 * kGiB,        kMaxMemoryBytes};
  return values;
}

TEST(MemoryBudget, PartsAndOverheadStayWithinTheTotal) {
  for (const int consumers : {3, 4}) {
    for (const std::uint64_t total : totals()) {
      const MemoryBudget b = split_memory(total, consumers);
      EXPECT_EQ(b.total_bytes, total);
      EXPECT_EQ(b.fixed_overhead_bytes, kFixedOverheadBytes);
      EXPECT_LE(parts_bytes(b) + b.fixed_overhead_bytes, total) << total << " " << consumers;
      // Rounding loses little: the parts use nearly all that is left.
      EXPECT_GE(parts_bytes(b) + b.fixed_overhead_bytes, total - total / 100) << total;
      EXPECT_LE(b.memtable_budget_bytes, b.block_cache_bytes);
      EXPECT_LE(b.write_buffer_bytes, b.memtable_budget_bytes);
    }
  }
}

TEST(MemoryBudget, TheDefaultSplit) {
  const MemoryBudget b = split_memory(kDefaultMemoryBytes, 3);
  // 448 MiB after the 64 MiB overhead.
  EXPECT_EQ(b.block_cache_bytes, 112 * kMiB);
  EXPECT_EQ(b.memtable_budget_bytes, 56 * kMiB);
  EXPECT_EQ(b.write_buffer_bytes, 7 * kMiB);
  EXPECT_EQ(b.consumers, 3);
  EXPECT_EQ(b.prefetch_kbytes_per_consumer, 12'743U);  // 112 MiB / 3 / 3 in KiB
  EXPECT_EQ(b.producer_queue_kbytes, 45'875U);         // 89.6 MiB / 2
  EXPECT_EQ(b.producer_queue_messages, 183'500U);
  EXPECT_EQ(b.max_pending_entries, 275'251U);            // 67.2 MiB / 256 B
  EXPECT_EQ(b.window_cache_bytes, 46'976'204U);          // 44.8 MiB
  EXPECT_EQ(b.deferred_dead_letter_bytes, 23'488'102U);  // 22.4 MiB
}

TEST(MemoryBudget, TheMinimumStillWorks) {
  for (const int consumers : {3, 4}) {
    const MemoryBudget b = split_memory(kMinMemoryBytes, consumers);
    EXPECT_GE(b.block_cache_bytes, 16 * kMiB);
    EXPECT_GE(b.write_buffer_bytes, kMiB);
    // A fetch is at most 1 MB (fetch.max.bytes follows the prefetch down to
    // message.max.bytes): a consumer can queue at least one.
    EXPECT_GE(b.prefetch_kbytes_per_consumer, 1'024U);
    // One commit of tens of thousands of records fits the producer queue, and one dead
    // letter (at most 64 KiB of tick plus headers) fits the deferred bytes many times.
    EXPECT_GE(b.producer_queue_messages, 20'000U);
    EXPECT_GE(b.producer_queue_kbytes, 4'096U);
    EXPECT_GE(b.max_pending_entries, 30'000U);
    EXPECT_GE(b.deferred_dead_letter_bytes, 3 * kMiB);
  }
}

TEST(MemoryBudget, EveryPartGrowsWithTheTotal) {
  MemoryBudget previous = split_memory(kMinMemoryBytes, 3);
  for (std::uint64_t total = kMinMemoryBytes + 7 * kMiB + 3; total <= 8 * kGiB;
       total += total / 5 + 12'345) {
    const MemoryBudget b = split_memory(total, 3);
    EXPECT_GE(b.block_cache_bytes, previous.block_cache_bytes) << total;
    EXPECT_GE(b.memtable_budget_bytes, previous.memtable_budget_bytes) << total;
    EXPECT_GE(b.write_buffer_bytes, previous.write_buffer_bytes) << total;
    EXPECT_GE(b.prefetch_kbytes_per_consumer, previous.prefetch_kbytes_per_consumer) << total;
    EXPECT_GE(b.producer_queue_kbytes, previous.producer_queue_kbytes) << total;
    EXPECT_GE(b.producer_queue_messages, previous.producer_queue_messages) << total;
    EXPECT_GE(b.max_pending_entries, previous.max_pending_entries) << total;
    EXPECT_GE(b.deferred_dead_letter_bytes, previous.deferred_dead_letter_bytes) << total;
    EXPECT_GE(b.window_cache_bytes, previous.window_cache_bytes) << total;
    EXPECT_GT(b.block_cache_bytes + b.window_cache_bytes,
              previous.block_cache_bytes + previous.window_cache_bytes);
    previous = b;
  }
}

TEST(MemoryBudget, AFourthConsumerSharesThePrefetch) {
  const MemoryBudget three = split_memory(kDefaultMemoryBytes, 3);
  const MemoryBudget four = split_memory(kDefaultMemoryBytes, 4);
  EXPECT_LT(four.prefetch_kbytes_per_consumer, three.prefetch_kbytes_per_consumer);
  EXPECT_LE(4 * four.prefetch_kbytes_per_consumer, 3 * three.prefetch_kbytes_per_consumer + 3);
  EXPECT_EQ(four.block_cache_bytes, three.block_cache_bytes);
  EXPECT_EQ(four.max_pending_entries, three.max_pending_entries);
}

TEST(MemoryBudget, StaysWithinLibrdkafkasRanges) {
  const MemoryBudget b = split_memory(kMaxMemoryBytes, 3);
  EXPECT_LE(b.prefetch_kbytes_per_consumer, 2'097'151U);  // queued.max.messages.kbytes
  EXPECT_LE(b.producer_queue_kbytes, 2'147'483'647U);     // queue.buffering.max.kbytes
  EXPECT_LE(b.producer_queue_messages, 2'147'483'647U);   // queue.buffering.max.messages
  EXPECT_LE(b.write_buffer_bytes, 64 * kMiB);
}

TEST(MemoryBudget, DescribeNamesEveryPart) {
  const std::string line = describe(split_memory(kDefaultMemoryBytes, 3));
  for (const char* part :
       {"memory 512.0 MiB", "fixed overhead 64.0 MiB", "RocksDB block cache 112.0 MiB",
        "memtables 56.0 MiB", "3 consumers x 12743 KiB", "45875 KiB payload and 183500 messages",
        "275251 pending entries", "deferred dead letters 22.4 MiB", "window cache 44.8 MiB"}) {
    EXPECT_NE(line.find(part), std::string::npos) << part << " in " << line;
  }
}

}  // namespace
}  // namespace auditor
