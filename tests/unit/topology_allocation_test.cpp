// DESIGN.md: "No allocation per record on the hot path". Counts global operator new calls
// around the per-record operations once their buffers and tables are warm.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "topology/partition_time.h"
#include "topology/pre_aggregator.h"
#include "topology/tick_parser.h"
#include "topology/window_aggregator.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// Replacing the global allocation functions is the standard way to observe allocations;
// these only count and forward to malloc/free. Every non-aligned form is replaced, so that
// each pair matches (sanitizers check that what `new` allocated is freed by `delete`).
namespace {
void* counted_malloc(std::size_t size) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
}  // namespace

void* operator new(std::size_t size) {
  if (void* p = counted_malloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = counted_malloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return counted_malloc(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return counted_malloc(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace auditor {
namespace {

// Longer than any small-string buffer, so a copy of a name would allocate.
constexpr std::string_view kName = "a-process-name-longer-than-sso";
constexpr std::string_view kActivity = "an-activity-name-longer-than-sso";

TEST(Allocation, TickParserReusesItsBuffers) {
  TickParser parser;
  const std::string json = R"({"process_name":"a-process-name-longer-than-sso",)"
                           R"("process_activity":"an-\u00e9scaped-activity-name","count":3,)"
                           R"("timestamp":"2026-11-22T09:47:00.5Z","extra":{"ignored":[1,2]}})";
  ASSERT_TRUE(parser.parse(json.data(), json.size()).tick);  // warm up
  const long before = g_allocations.load();
  std::int64_t sum = 0;
  for (int i = 0; i < 1'000; ++i) {
    const TickParseResult r = parser.parse(json.data(), json.size());
    sum += r.tick ? r.tick->count : 0;
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(sum, 3'000);
}

TEST(Allocation, PreAggregatorHitDoesNotCopyNames) {
  PreAggregator pre(DurationMs{60'000});
  pre.add(kName, kActivity, EventTime{0}, 1);
  pre.add(kName, kActivity, EventTime{0}, 1, 5U);  // a record of its own
  const long before = g_allocations.load();
  for (int i = 0; i < 1'000; ++i) pre.add(kName, kActivity, EventTime{i}, 1, (i % 2) * 5U);
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(pre.pending_ticks(), 1'002);
  EXPECT_EQ(pre.pending_records(), 2U);
}

TEST(Allocation, PartitionClockDoesNotAllocate) {
  const WindowSet windows = WindowSet::parse("1m,1h,1d");
  PartitionClock clock(std::nullopt, ClockMs{0});
  const long before = g_allocations.load();
  std::uint32_t late = 0;
  for (int i = 0; i < 1'000; ++i) {
    clock.record_read(ClockMs{i});
    late |= clock.add_tick(EventTime{(i % 10) * 60'000LL}, windows, DurationMs{0});
    if (i % 100 == 0) clock.reached_end();
    (void)clock.watermark(ClockMs{i}, DurationMs{10});
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(late, 1U);
}

TEST(Allocation, WindowAggregatorHitDoesNotCopyNames) {
  WindowAggregator agg(WindowSet::parse("1m,1h,1d"), DurationMs{30'000}, DurationMs{0},
                       EmitMode::kUpdates, 2, {});
  agg.observe_watermark(PartitionId{0}, {EventTime{0}, false});
  agg.observe_watermark(PartitionId{1}, {EventTime{0}, false});
  ASSERT_EQ(agg.watermark(), EventTime{0});
  (void)agg.add(kName, kActivity, EventTime{0}, WindowCounts{1, 1});
  (void)agg.add(kName, kActivity, EventTime{0}, WindowCounts{1, 1}, 1U);
  const long before = g_allocations.load();
  std::uint32_t late = 0;
  for (int i = 0; i < 1'000; ++i)
    late |= agg.add(kName, kActivity, EventTime{i}, WindowCounts{1, 1}, (i % 2) * 1U);
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(late, 0U);
}

}  // namespace
}  // namespace auditor
